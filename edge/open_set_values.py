"""Which open-set thresholds and ranking a run uses: explicit flags, else the model's calibrated
values, else the built-in defaults (:data:`crossglg.open_set.DEFAULTS`; DC ranking whenever the
model has base statistics); and the one line that says so.

A model calibrated by the benchmark carries ``crossglg.open_set`` in its metadata
(:attr:`edge.engines.base.ModelMeta.open_set`). The values were chosen for a target false-accept
rate on actions nobody enrolled, the ranking (``"cosine"`` or ``"dc"``) by whether distribution
calibration beat centred cosine on the benchmark; a flag overrides only its own value
(``--dc``/``--no-dc`` the ranking). A model with score fusion (``crossglg.fusion``,
:mod:`crossglg.pose_features`) ranks by its fused cosine unless ``--no-fusion`` is given; its
calibrated thresholds are then for the fused score.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from crossglg.open_set import DEFAULTS, RANKING_NAMES, OpenSetParams, StoredOpenSet
from crossglg.pose_features import Fusion

from .engines.base import ModelMeta
from .matcher import MatcherConfig

FLAGS = {"threshold": "--threshold", "margin": "--margin", "dc_margin": "--dc-margin"}


@dataclass(frozen=True)
class ChosenValues:
    """The thresholds to use, whether DC may rank (``use_dc``: with base statistics and >= 2
    actions) and, per value and ``"ranking"``, where it came from (``"flag"``, ``"model"``, ``"default"``)."""

    params: OpenSetParams
    origin: dict[str, str]
    line: str
    use_dc: bool = True
    fusion: Fusion | None = None

    def matcher_config(self, use_center: bool = True) -> MatcherConfig:
        """The matcher settings these values stand for (what `run` and the edge benchmarks use)."""
        return MatcherConfig(threshold=self.params.threshold, margin=self.params.margin,
                             dc_margin=self.params.dc_margin, use_center=use_center, use_dc=self.use_dc,
                             fusion=self.fusion)  # fmt: skip


def _fmt(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") if v != 0 else "0"


def _ranking(stored: StoredOpenSet | None, dc: bool | None, has_fusion: bool = False) -> tuple[bool, str, str]:
    """``(use_dc, origin, words)`` for the ranking: ``dc`` from --dc/--no-dc, else the model's, else built-in."""
    if dc is not None:
        return dc, "flag", f"{RANKING_NAMES['dc' if dc else 'cosine']} ({'--dc' if dc else '--no-dc'})"
    if stored is not None and stored.ranking == "cosine":
        return False, "model", f"{RANKING_NAMES['cosine']} (DC did not beat it on this model's benchmark)"
    if stored is not None and stored.ranking == "fused":  # used with the model's fusion record (choose_open_set)
        why = "" if has_fusion else " (calibrated for fusion, but the model has no fusion record)"
        return False, "model", f"{RANKING_NAMES['cosine']}{why}"
    if stored is not None and stored.ranking == "dc":
        return True, "model", f"{RANKING_NAMES['dc']} (it beat centred cosine on this model's benchmark)"
    return True, "default", f"{RANKING_NAMES['dc']} when the model has base statistics (built-in)"


def choose_open_set(meta: ModelMeta, threshold: float | None = None, margin: float | None = None,
                    dc_margin: float | None = None, dc: bool | None = None,
                    fusion: bool | None = None) -> ChosenValues:  # fmt: skip
    """Resolve the three values and the ranking (``None``: not given on the command line; ``dc``
    True/False: --dc/--no-dc; ``fusion`` False: --no-fusion) for ``meta``'s model.

    ``ValueError`` for a flag out of range (names the flag) or damaged model metadata."""
    stored = meta.open_set
    base = stored.params if stored is not None else DEFAULTS
    given = {"threshold": threshold, "margin": margin, "dc_margin": dc_margin}
    values, origin = {}, {}
    for name, flag_value in given.items():
        if flag_value is None:
            values[name], origin[name] = float(getattr(base, name)), "model" if stored is not None else "default"
            continue
        try:
            replace(DEFAULTS, **{name: float(flag_value)})  # range check of this flag alone
        except ValueError as exc:
            raise ValueError(f"{FLAGS[name]}: {str(exc).removeprefix('open set: ')}") from None
        values[name], origin[name] = float(flag_value), "flag"
    params = OpenSetParams(**values)
    shown = f"open-set threshold {_fmt(params.threshold)}, margin {_fmt(params.margin)}, DC margin {_fmt(params.dc_margin)}"
    flags = [FLAGS[n] for n, o in origin.items() if o == "flag"]
    rest = [n for n, o in origin.items() if o != "flag"]
    if stored is not None:
        far = "" if stored.target_far is None else f"false accepts <= {100 * stored.target_far:g}% on never-enrolled actions, "
        where = f"calibrated for this model: {far}{stored.source or 'source not recorded'}"
    else:
        where = "built-in defaults; the model carries no calibrated values"
    if not rest:
        note = f"from {', '.join(flags)}"
    elif flags:
        note = f"{', '.join(flags)} given; the rest {where}"
    else:
        note = where
    use_dc, origin["ranking"], ranked = _ranking(stored, dc, meta.fusion is not None)
    fused = meta.fusion if fusion is not False and dc is not True else None  # --dc: rank by DC, no fusion
    if fused is not None:
        use_dc, origin["ranking"] = False, "model"
        ranked = (f"centred cosine fused with pose features (weight {_fmt(fused.weight)} learned, "
                  f"{_fmt(1 - fused.weight)} pose; --no-fusion: the model alone)")
    elif fusion is False and meta.fusion is not None:
        ranked += " (--no-fusion: the model's calibrated values are for its fused score)"
    return ChosenValues(params, origin, f"{shown} ({note}); ranking: {ranked}", use_dc, fused)
