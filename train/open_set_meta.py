"""Calibrated open-set values into an ONNX model's metadata (``crossglg.open_set``).

The benchmark's results (``benchmark.json``, :func:`train.benchmark_results.load_results`) hold the
calibration; :func:`write_open_set` stores its values in a model file, which the edge then uses
when no ``--threshold``/``--margin``/``--dc-margin`` is given, with the ranking method the benchmark
chose (:func:`train.open_set_eval.choose_ranking`; used unless ``--dc``/``--no-dc``) and, when that
ranking is ``fused``, the model's score fusion (``crossglg.fusion``). Only metadata changes: the weights,
hence the fingerprint support stores and base-statistics sidecars are keyed on, stay as they were
(checked). An INT8 file quantised from a calibrated FP32 file inherits the key.
"""

from __future__ import annotations

import json
from pathlib import Path

from crossglg.atomic import atomic_write
from crossglg.model_meta import META_PREFIX
from crossglg.open_set import (
    OPEN_SET_KEY,
    RANKING_NAMES,
    OpenSetParams,
    StoredOpenSet,
    decode_open_set,
    encode_open_set,
)
from crossglg.pose_features import FUSION_KEY, decode_fusion, encode_fusion

EPISODES_FILE = "open_set_episodes.npz"


def calibration_from_results(path: str | Path, target_far: float | None = None) -> dict:
    """The open-set calibration of a ``benchmark.json``, with the ranking decision
    (:func:`train.open_set_eval.choose_ranking`) taken from the file's per-protocol figures.

    Redone from the episodes saved next to it (:data:`EPISODES_FILE`) when ``target_far`` differs
    from the one it was made for, or when its primary path is not the chosen ranking (files written
    before the ranking decision calibrated for DC whenever present). ``ValueError`` naming the file
    when it holds no calibration (a --baselines-only run, or an earlier benchmark version) or the
    episodes a recalibration needs are missing."""
    from .benchmark_results import load_results
    from .open_set_eval import calibrate, choose_ranking, load_episodes

    p = Path(path)
    results, cal = load_results(p)
    if cal is None:
        raise ValueError(f"{p}: no open-set calibration (run `crossglg-train benchmark CHECKPOINT ...` with this "
                         "version; a --baselines-only run has none)")  # fmt: skip
    ranking = choose_ranking(results)
    redo = []
    if target_far is not None and abs(target_far - float(cal["target_far"])) >= 1e-12:
        redo.append(f"for {target_far:g}")
    if cal.get("primary") != ranking["chosen"]:
        redo.append(f"for {RANKING_NAMES[ranking['chosen']]} ranking")
    if not redo:
        return attach_fusion({**cal, "ranking": ranking}, results)
    far = float(cal["target_far"]) if target_far is None else target_far
    episodes = p.with_name(EPISODES_FILE)
    if not episodes.is_file():
        raise ValueError(f"{p}: calibrated for target {cal['target_far']:g} with {cal.get('primary', '?')} ranking; "
                         f"recalibrating {' and '.join(redo)} needs {episodes} (written by the benchmark)")  # fmt: skip
    redone = calibrate(load_episodes(episodes), far, OpenSetParams(**cal["defaults"]), ranking)
    return attach_fusion({**redone, "source": f"{cal.get('source', str(p))}; recalibrated {' and '.join(redo)}"},
                         results)  # fmt: skip


def attach_fusion(cal: dict, results: list[dict]) -> dict:
    """``cal`` with the model's fusion (``"fusion"``, from the per-protocol results) when its ranking
    is ``fused``; ``ValueError`` when the protocols disagree on it or none records it."""
    if ranking_of(cal) != "fused":
        return {k: v for k, v in cal.items() if k != "fusion"}
    found = {encode_fusion(decode_fusion({FUSION_KEY: json.dumps(r["fusion"])}, where="benchmark results"))
             for r in results if isinstance(r, dict) and isinstance(r.get("fusion"), dict)}  # fmt: skip
    if len(found) != 1:
        raise ValueError(f"benchmark results: fused ranking chosen, but {len(found)} distinct fusion records "
                         "(expected one, the model's)")  # fmt: skip
    return {**cal, "fusion": json.loads(found.pop())}


def params_of(cal: dict) -> OpenSetParams:
    """The chosen values of a calibration record; ``ValueError`` when they are missing or out of range."""
    p = cal.get("params") or {}
    try:
        return OpenSetParams(float(p["threshold"]), float(p["margin"]), float(p["dc_margin"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"open-set calibration: params need threshold, margin and dc_margin ({exc})") from None


def ranking_of(cal: dict) -> str | None:
    """The chosen ranking of a calibration record (None when it predates the decision);
    ``ValueError`` naming the field when it is not one of the known methods."""
    ranking = cal.get("ranking")
    if ranking is None:
        return None
    chosen = ranking.get("chosen") if isinstance(ranking, dict) else None
    if chosen not in RANKING_NAMES:
        raise ValueError(f"open-set calibration: ranking.chosen must be one of {', '.join(RANKING_NAMES)}, "
                         f"got {chosen!r}")  # fmt: skip
    return chosen


def write_open_set(onnx_path: str | Path, cal: dict) -> StoredOpenSet:
    """Store ``cal``'s values in ``onnx_path`` (atomic rewrite, other metadata kept); returns what
    the edge will read back. ``ValueError`` for an unreadable model or one without a fingerprint."""
    import onnx

    p = Path(onnx_path)
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # DecodeError and friends for a damaged file
        raise ValueError(f"{p}: not a readable ONNX model ({exc})") from None
    props = {m.key: m.value for m in model.metadata_props}
    fingerprint = props.get(META_PREFIX + "fingerprint", "")
    if not fingerprint:
        raise ValueError(f"{p}: no {META_PREFIX}fingerprint in its metadata (not a `crossglg-train export` model)")
    source = str(cal.get("source") or "benchmark")
    ranking = ranking_of(cal)
    value = encode_open_set(params_of(cal), float(cal["target_far"]), source, ranking)
    props[META_PREFIX + OPEN_SET_KEY] = value
    props.pop(META_PREFIX + FUSION_KEY, None)  # the values are for this ranking's score alone
    if ranking == "fused":
        if not isinstance(cal.get("fusion"), dict):
            raise ValueError("open-set calibration: fused ranking without the model's fusion record")
        fusion = decode_fusion({FUSION_KEY: json.dumps(cal["fusion"])}, where="open-set calibration")
        props[META_PREFIX + FUSION_KEY] = encode_fusion(fusion)
    del model.metadata_props[:]
    for k, v in sorted(props.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    atomic_write(p, model.SerializeToString())
    back = {m.key: m.value for m in onnx.load(str(p), load_external_data=False).metadata_props}
    stored = decode_open_set({OPEN_SET_KEY: back.get(META_PREFIX + OPEN_SET_KEY, "")}, where=str(p))
    if back.get(META_PREFIX + "fingerprint") != fingerprint or stored is None:
        raise ValueError(f"{p}: reading the rewritten file back did not give the fingerprint and open-set values")
    return stored


def describe(stored: StoredOpenSet) -> str:
    """One line: the values and what they were calibrated for."""
    p = stored.params
    far = "" if stored.target_far is None else f" for false accepts <= {100 * stored.target_far:g}%"
    ranking = "" if stored.ranking is None else f", ranking {RANKING_NAMES[stored.ranking]}"
    return f"threshold {p.threshold:g}, margin {p.margin:g}, DC margin {p.dc_margin:g}{far}{ranking} ({stored.source})"
