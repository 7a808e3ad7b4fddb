"""Which open-set thresholds a run uses: explicit flags, else the model's calibrated values, else
the built-in defaults (:data:`crossglg.open_set.DEFAULTS`); and the one line that says so.

A model calibrated by the benchmark carries ``crossglg.open_set`` in its metadata
(:attr:`edge.engines.base.ModelMeta.open_set`). The values were chosen for a target false-accept
rate on actions nobody enrolled; a flag overrides only its own value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from crossglg.open_set import DEFAULTS, OpenSetParams

from .engines.base import ModelMeta

FLAGS = {"threshold": "--threshold", "margin": "--margin", "dc_margin": "--dc-margin"}


@dataclass(frozen=True)
class ChosenValues:
    """The thresholds to use and, per value, where it came from (``"flag"``, ``"model"``, ``"default"``)."""

    params: OpenSetParams
    origin: dict[str, str]
    line: str


def _fmt(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") if v != 0 else "0"


def choose_open_set(meta: ModelMeta, threshold: float | None = None, margin: float | None = None,
                    dc_margin: float | None = None) -> ChosenValues:  # fmt: skip
    """Resolve the three values (``None``: not given on the command line) for ``meta``'s model.

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
    return ChosenValues(params, origin, f"{shown} ({note})")
