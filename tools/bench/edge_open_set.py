"""Window-level open-set calibration through the edge path (issue 12 items 6 and 7).

    python tools/bench/edge_open_set.py --model MODEL.onnx --data-root ../shared/data [--target-far 0.2]
        [--draws N] [--streams S] [--seed 0] [--json out.json] [--episodes out.npz]
        [--calibrate-into MODEL.onnx ...]

The thresholds a model carries (``crossglg.open_set``) come from the benchmark, on whole clips; the
runtime decides on sliding windows, whose scores are lower. This tool measures and chooses them on
windows, through the real edge path.

Protocols (continuous per-subject streams of actions the shipped model never saw):

- ``utd-novel9``: UTD-MHAD a3, a6, ..., a27; a stream is one subject's trials of all nine back to
  back (:func:`edge_oneshot.build_stream`);
- ``kard18``: the 18 KARD activities; a stream is one trial (drawn per episode) of each activity.

An episode of a protocol: enroll a random half of its actions (``round(K / 2)``), ONE
demonstration each from one random subject (a random trial of it), exactly as `crossglg-edge
enroll --skeleton` does (:func:`edge.enrollment.enroll_recording`); then replay the stream of every
other subject (``--streams S``: S of them, drawn per episode) of ALL the protocol's actions through
the real pipeline (sliding windows, model, the model's matcher settings from
``choose_open_set(...).matcher_config()``, publisher, a subscriber on loopback;
:func:`edge_oneshot.replay`). Every window's published label (``cosine`` = best action's cosine,
fused cosine with score fusion; ``topk`` ranking scores) is recorded. A window (its ``t_frame`` is
its last frame) is *known* when the action filling most of its span was enrolled: right when
accepted as that action; else *unknown*: a false accept when accepted as anything. Gated windows
(idle, low visibility) are never accepted.

The raw decision of a window depends only on its (cosine, margin), so thresholds and margins are
swept offline (:func:`crossglg.open_set.reject_codes`, the edge's rule; the sweep machinery of
:mod:`train.open_set_eval`): one pipeline run per stream, not one per value. This first pass runs
with pass-through smoothing (:data:`PASS_THROUGH`: the published state IS the raw decision), which
checks the offline rule against the pipeline's own decisions at the model's values. Chosen: the
values with the most known accuracy at pooled window FAR <= target (pooled: mean over the episodes
of all protocols, each protocol with the same number; ties: nearest the model's current values).
Reported per protocol and pooled, at the model's values and the chosen ones: known accuracy, FAR and
AUROC (of the best action's cosine, known vs unknown windows) with 95% CIs over episodes, a
leave-one-protocol-out check, and, from a second pass at the chosen values with the runtime's
default smoothing, the smoothed stream's figures (per-window, onsets, label starts per minute).

``--calibrate-into`` writes the chosen values into model files (:func:`train.open_set_meta.write_open_set`),
keeping the model's ranking and fusion record; only metadata changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

from edge_oneshot import NOVEL, build_stream, replay, score, truth_at, utd, write_stream  # noqa: E402

from crossglg.datasets import FPS, read_kard_txt  # noqa: E402
from crossglg.model_meta import META_PREFIX  # noqa: E402
from crossglg.oneshot import accuracy_summary  # noqa: E402
from crossglg.open_set import ACCEPT, OpenSetParams, reject_codes  # noqa: E402
from crossglg.pose_features import FUSION_KEY  # noqa: E402
from edge.engines import EngineBase  # noqa: E402
from edge.enrollment import enroll_recording  # noqa: E402
from edge.exemplar_crops import CropConfig  # noqa: E402
from edge.open_set_values import ChosenValues, choose_open_set  # noqa: E402
from edge.pipeline import PipelineConfig  # noqa: E402
from edge.runtime import open_model, open_support_store  # noqa: E402
from edge.smoothing import SmoothingConfig  # noqa: E402
from edge.window import WindowConfig  # noqa: E402
from train.open_set_eval import (  # noqa: E402
    DC_MARGINS,
    MARGIN_FIELD,
    THRESHOLDS,
    Episodes,
    PathScores,
    _sweep,
    concat,
    evaluate,
    save_episodes,
)
from train.open_set_meta import write_open_set  # noqa: E402

# EMA weight 1, no hysteresis, one window to enter or leave: the published state is the raw decision
PASS_THROUGH = SmoothingConfig(alpha=1.0, hysteresis=0.0, enter_windows=1, gate_windows=1)
Segments = list[tuple[str, float, float]]
# Cosine-unit margins swept on windows: the benchmark's grid (0-0.2) widened to 0.3, since windows of
# similar actions (KARD's three waves) can need more than clips do; DC margins: the benchmark's grid.
WINDOW_MARGINS = np.round(np.arange(0.0, 0.301, 0.01), 2)


@dataclass(frozen=True)
class StreamProtocol:
    """A dataset's actions as continuous per-subject streams.

    ``demo(subject, action, rng, tmp)`` -> a recording file of one demonstration (enrolled as
    `enroll --skeleton` would); ``stream(subject, rng, out)`` writes that subject's stream of every
    action to ``out`` (.npz) and returns its segments ``(label, t0, t1)``."""

    name: str
    actions: tuple[str, ...]
    subjects: tuple[int, ...]
    demo: Callable[[int, str, np.random.Generator, Path], Path]
    stream: Callable[[int, np.random.Generator, Path], Segments]


def utd_protocol(root: Path) -> StreamProtocol:
    """UTD-MHAD novel nine (labels ``a3`` ... ``a27``), subjects 1-8, streams of all four trials."""

    def demo(subject: int, action: str, rng: np.random.Generator, tmp: Path) -> Path:
        a = int(action[1:])
        paths = [p for t in (1, 2, 3, 4) if (p := utd(root, a, subject, t)).exists()]
        if not paths:
            raise ValueError(f"UTD-MHAD: no recording of {action} by subject {subject} under {root / 'utd_mhad'}")
        return paths[int(rng.integers(len(paths)))]

    def stream(subject: int, rng: np.random.Generator, out: Path) -> Segments:
        return build_stream(root, subject, out)

    return StreamProtocol("utd-novel9", tuple(f"a{a}" for a in NOVEL), tuple(range(1, 9)), demo, stream)


def kard_protocol(root: Path) -> StreamProtocol:
    """KARD's 18 activities (labels ``kard01`` ... ``kard18``), subjects 1-10, one random trial each."""
    base = root / "kard" / "kard_realworld"

    def clip(action: str, subject: int, rng: np.random.Generator) -> np.ndarray:
        a = int(action.removeprefix("kard"))
        paths = [p for e in (1, 2, 3) if (p := base / f"a{a:02d}_s{subject:02d}_e{e:02d}_realworld.txt").exists()]
        if not paths:
            raise ValueError(f"KARD: no recording of activity {a} by subject {subject} under {base}")
        return read_kard_txt(paths[int(rng.integers(len(paths)))])

    def demo(subject: int, action: str, rng: np.random.Generator, tmp: Path) -> Path:
        out = tmp / f"{action}_s{subject}.npz"  # the edge reads KARD through a NumPy file
        np.savez(out, joints=clip(action, subject, rng), fps=np.float64(FPS["kard"]))
        return out

    actions = tuple(f"kard{a:02d}" for a in range(1, 19))

    def stream(subject: int, rng: np.random.Generator, out: Path) -> Segments:
        return write_stream([(a, [clip(a, subject, rng)]) for a in actions], out, FPS["kard"])

    return StreamProtocol("kard18", actions, tuple(range(1, 11)), demo, stream)


PROTOCOLS: dict[str, Callable[[Path], StreamProtocol]] = {"utd-novel9": utd_protocol, "kard18": kard_protocol}


@dataclass(frozen=True)
class EpisodePlan:
    """One episode: ``enrolled`` actions (protocol order), the demonstrations' subject, the streams."""

    protocol: int
    draw: int
    enrolled: tuple[str, ...]
    demo_subject: int
    streams: tuple[int, ...]


def plan_episode(proto: StreamProtocol, p: int, draw: int, seed: int, streams: int | None) -> EpisodePlan:
    """The seeded draw ``(seed, p, draw)``: half the actions, a demonstrator, ``streams`` others (None: all)."""
    rng = np.random.default_rng([seed, p, draw])
    k = max(1, int(round(0.5 * len(proto.actions))))
    picked = {proto.actions[i] for i in rng.permutation(len(proto.actions))[:k]}
    demo = int(proto.subjects[int(rng.integers(len(proto.subjects)))])
    others = [s for s in proto.subjects if s != demo]
    if streams is not None:
        others = sorted(int(others[i]) for i in rng.permutation(len(others))[:streams])
    return EpisodePlan(p, draw, tuple(a for a in proto.actions if a in picked), demo, tuple(others))


@dataclass(frozen=True)
class StreamRun:
    """One stream replayed: its label and event payloads, segments and the matcher's method."""

    subject: int
    labels: list[dict]
    events: list[dict]
    segments: Segments
    method: str


def run_episode(proto: StreamProtocol, plan: EpisodePlan, engine: EngineBase, cfg: PipelineConfig, seed: int,
                tmp: Path) -> list[StreamRun]:  # fmt: skip
    """Enroll the plan's actions in a fresh store, replay each of its streams; the stream files are
    rebuilt from the same seeds every time, so two passes see the same frames."""
    where = tmp / f"p{plan.protocol}_e{plan.draw}"
    where.mkdir(parents=True, exist_ok=True)
    store = open_support_store(where / "store", engine)
    if not store.actions:
        rng = np.random.default_rng([seed, plan.protocol, plan.draw, 0])
        for a in plan.enrolled:
            enroll_recording(store, engine, proto.demo(plan.demo_subject, a, rng, where), a)
    runs = []
    for s in plan.streams:
        out = where / f"s{s}.npz"
        segments = proto.stream(s, np.random.default_rng([seed, plan.protocol, plan.draw, 1, s]), out)
        labels, events, method = replay(engine, store, out, cfg)
        runs.append(StreamRun(s, labels, events, segments, method))
    return runs


@dataclass(frozen=True)
class Windows:
    """One protocol's windows over its episodes, every array ``(N,)``: ``draw`` (episode index),
    best action's ``cosine`` (-inf when gated), ranking ``margin`` (top-1 minus top-2 of ``topk``;
    NaN: fewer than two), ``best`` ranked label, ``truth`` (the action filling most of the window),
    ``known`` (truth enrolled), and the published ``state`` / ``label``."""

    draw: np.ndarray
    t_frame: np.ndarray
    cosine: np.ndarray
    margin: np.ndarray
    best: np.ndarray
    truth: np.ndarray
    known: np.ndarray
    state: np.ndarray
    label: np.ndarray


def scored_windows(msgs: list[dict], segments: Segments, span_s: float) -> list[dict]:
    """The published windows past warm-up with their truth and raw scores."""
    out = []
    for m in msgs:
        if m["track_id"] is None or m["reason"] == "warming_up":
            continue
        topk = m["topk"]
        cos = m.get("cosine")
        out.append({"t_frame": m["t_frame"], "cosine": -np.inf if cos is None else float(cos),
                    "margin": topk[0]["score"] - topk[1]["score"] if len(topk) > 1 else np.nan,
                    "best": topk[0]["label"] if topk else "",
                    "truth": truth_at(segments, m["t_frame"] - span_s, m["t_frame"]) or "",
                    "state": m["state"], "label": m["label"] or ""})  # fmt: skip
    return out


def windows_of(episodes: list[tuple[EpisodePlan, list[StreamRun]]], span_s: float) -> Windows:
    rows = []
    for e, (plan, runs) in enumerate(episodes):
        for r in runs:
            rows += [{**w, "draw": e, "known": w["truth"] in plan.enrolled}
                     for w in scored_windows(r.labels, r.segments, span_s)]  # fmt: skip
    col = {k: [w[k] for w in rows] for k in ("draw", "t_frame", "cosine", "margin", "best", "truth", "known",
                                              "state", "label")}  # fmt: skip
    return Windows(np.array(col["draw"], np.int64), np.array(col["t_frame"], np.float64),
                   np.array(col["cosine"], np.float64), np.array(col["margin"], np.float64),
                   np.array(col["best"], str), np.array(col["truth"], str), np.array(col["known"], bool),
                   np.array(col["state"], str), np.array(col["label"], str))  # fmt: skip


def as_episodes(w: Windows, name: str, path: str) -> Episodes:
    """The windows as :class:`train.open_set_eval.Episodes` (queries = windows) on ranking ``path``."""
    correct = (w.best == w.truth) & (w.best != "")
    return Episodes(w.draw, np.zeros(w.draw.size, np.int64), (name,), w.known,
                    {path: PathScores(w.cosine, w.margin, correct)})  # fmt: skip


def offline_accept(w: Windows, params: OpenSetParams, path: str) -> np.ndarray:
    """``(N,)`` whether the edge's rule accepts each window's best action at ``params``."""
    return reject_codes(w.cosine, w.margin, params.threshold, params.required_margin(path)) == ACCEPT


def check_decisions(w: Windows, params: OpenSetParams, path: str) -> dict:
    """Offline decisions vs the states the pass-through run published: windows (gated ones, accepted
    ones), mismatches, and how many of those lie within 1e-4 of the threshold (the published cosine
    has 4 decimals)."""
    accept = offline_accept(w, params, path)
    published = w.state == "action"
    bad = (accept != published) | (published & (w.label != w.best))
    near = bad & (np.abs(w.cosine - params.threshold) <= 1e-4)
    return {"windows": int(w.draw.size), "gated": int(np.isinf(w.cosine).sum()), "accepted": int(published.sum()),
            "mismatches": int(bad.sum()), "near_threshold": int(near.sum())}


def choose_values(ep: Episodes, path: str, target_far: float, current: OpenSetParams,
                  thresholds: np.ndarray = THRESHOLDS, margins: np.ndarray | None = None
                  ) -> tuple[OpenSetParams, bool]:  # fmt: skip
    """The threshold and ``path``'s margin with the most known accuracy at pooled FAR <= ``target_far``,
    ties nearest ``current`` (margin first, per threshold, then threshold); ``(params, target met)``.
    When no point meets it: the one with the least FAR (the largest margin, ties the highest threshold).
    The other margin field keeps its current value. Grids: :data:`train.open_set_eval.THRESHOLDS`,
    :data:`WINDOW_MARGINS` (cosine units) or :data:`train.open_set_eval.DC_MARGINS` unless given."""
    if margins is None:
        margins = DC_MARGINS if path == "dc" else WINDOW_MARGINS
    field = MARGIN_FIELD[path]
    acc, margin, far = _sweep(ep, path, margins, target_far, getattr(current, field), thresholds)
    if np.isfinite(acc).any():
        i = int(np.lexsort((-np.abs(thresholds - current.threshold), acc))[-1])
        return replace(current, threshold=float(thresholds[i]), **{field: float(margin[i])}), True
    i = int(np.lexsort((thresholds, -far))[-1])
    return replace(current, threshold=float(thresholds[i]), **{field: float(margins.max())}), False


def _params(p: OpenSetParams) -> dict:
    return {"threshold": p.threshold, "margin": p.margin, "dc_margin": p.dc_margin}


def calibration(ep: Episodes, path: str, target_far: float, stored: OpenSetParams) -> dict:
    """Chosen values and the figures at them and at ``stored``: pooled, per protocol, held out."""
    chosen, met = choose_values(ep, path, target_far, stored)
    out: dict = {"target_far": target_far, "target_met": met, "ranking_path": path, "stored": _params(stored),
                 "chosen": _params(chosen),
                 "pooled": {"stored": evaluate(ep, path, stored), "chosen": evaluate(ep, path, chosen)},
                 "per_protocol": {}, "held_out": []}  # fmt: skip
    for k, name in enumerate(ep.names):
        mine = ep.select(ep.protocol == k)
        out["per_protocol"][name] = {"stored": evaluate(mine, path, stored), "chosen": evaluate(mine, path, chosen)}
        if len(ep.names) > 1:
            others, others_met = choose_values(ep.select(ep.protocol != k), path, target_far, stored)
            out["held_out"].append({"protocol": name, "params": _params(others), "target_met_on_others": others_met,
                                    **evaluate(mine, path, others)})  # fmt: skip
    return out


def smoothed_counts(plan: EpisodePlan, runs: list[StreamRun], span_s: float) -> dict:
    """One episode's smoothed-stream counts: per-window (known right, unknown accepted), known
    segments' onsets and misses, unknown segments given a label, label starts by kind."""
    c = {"known": 0, "known_right": 0, "unknown": 0, "unknown_accepted": 0, "delays": [], "known_segments": 0,
         "missed_segments": 0, "unknown_segments": 0, "unknown_segments_labelled": 0, "starts_right": 0,
         "starts_wrong_action": 0, "starts_unknown": 0, "stream_s": 0.0}  # fmt: skip
    for r in runs:
        ws = scored_windows(r.labels, r.segments, span_s)
        for w in ws:
            if w["truth"] in plan.enrolled:
                c["known"] += 1
                c["known_right"] += w["state"] == "action" and w["label"] == w["truth"]
            else:
                c["unknown"] += 1
                c["unknown_accepted"] += w["state"] == "action"
        known = [s for s in r.segments if s[0] in plan.enrolled]
        onset = score(r.labels, known, span_s)
        c["delays"] += onset["delays"]
        c["known_segments"] += len(known)
        c["missed_segments"] += onset["missed_segments"]
        for s in r.segments:
            if s[0] not in plan.enrolled:
                c["unknown_segments"] += 1
                c["unknown_segments_labelled"] += any(w["truth"] == s[0] and w["state"] == "action" for w in ws)
        for ev in r.events:  # a label starts: into action, or action -> another action
            if ev["track_id"] is None or ev["state"] != "action" or ev["event"] not in ("start", "change"):
                continue
            truth = truth_at(r.segments, ev["t_frame"] - span_s, ev["t_frame"]) or ""
            kind = "right" if ev["label"] == truth else "wrong_action" if truth in plan.enrolled else "unknown"
            c[f"starts_{kind}"] += 1
        c["stream_s"] += r.segments[-1][2] if r.segments else 0.0
    return c


def smoothed_figures(counts: list[dict]) -> dict:
    """Per-window figures (mean, 95% CI over episodes) and pooled segment and start figures."""
    tot = {k: sum(c[k] for c in counts) for k in counts[0] if k != "delays"}
    d = np.array([x for c in counts for x in c["delays"]])
    minutes = max(tot["stream_s"] / 60.0, 1e-9)
    return {
        "known_accuracy": accuracy_summary(np.array([c["known_right"] / max(c["known"], 1) for c in counts])),
        "false_accept": accuracy_summary(np.array([c["unknown_accepted"] / max(c["unknown"], 1) for c in counts])),
        "onset_s": {"median": float(np.median(d)), "p90": float(np.percentile(d, 90))} if d.size else None,
        "known_segments": tot["known_segments"], "missed_segments": tot["missed_segments"],
        "unknown_segments": tot["unknown_segments"], "unknown_segments_labelled": tot["unknown_segments_labelled"],
        "starts_per_min": {k: tot[f"starts_{k}"] / minutes for k in ("right", "wrong_action", "unknown")},
        "stream_minutes": tot["stream_s"] / 60.0,
    }  # fmt: skip


def model_fusion_record(model: Path) -> dict | None:
    """The raw ``crossglg.fusion`` record of an ONNX model's metadata (None when absent)."""
    import onnx

    props = {m.key: m.value for m in onnx.load(str(model), load_external_data=False).metadata_props}
    text = props.get(META_PREFIX + FUSION_KEY)
    return json.loads(text) if text else None


def _fingerprints(model: Path) -> set[str]:
    import onnx

    props = {m.key: m.value for m in onnx.load(str(model), load_external_data=False).metadata_props}
    return {v for k in ("fingerprint", "source_fingerprint") if (v := props.get(META_PREFIX + k))}


def _record(report: dict, fusion: dict | None, ranking: str | None, measured_on: str | None = None) -> dict:
    """The open-set calibration record (:func:`train.open_set_meta.write_open_set`) of ``report``'s
    chosen values, for a file whose fusion record is ``fusion``; ``measured_on``: another model's
    windows gave them (a recipe-mate held out from the protocols)."""
    cal_of = report["calibration"]
    ranking = "fused" if fusion is not None else ranking
    pooled = cal_of["pooled"]["chosen"]
    windows = sum(report["windows"].values())
    source = (f"window-level, edge path: tools/bench/edge_open_set.py, {' + '.join(report['protocols'])}, "
              f"{report['draws']} episodes each, {windows} windows, seed {report['seed']}"
              + ("" if report.get("crops", False) is False else ", crops")
              + (f", measured on {measured_on}" if measured_on else "")
              + f"; pooled known {100 * pooled['known_accuracy']['mean']:.1f}%, "
              f"FAR {100 * pooled['false_accept']['mean']:.1f}%")  # fmt: skip
    cal = {"params": cal_of["chosen"], "target_far": cal_of["target_far"], "source": source}
    if ranking is not None:
        cal["ranking"] = {"chosen": ranking}
    if fusion is not None:
        cal["fusion"] = fusion
    return cal


def calibrate_into(targets: Sequence[Path], model: Path, report: dict) -> list[str]:
    """Write the chosen values into ``targets`` (the evaluated model or files quantised from it),
    keeping the model's ranking and fusion record; returns what each file reads back (one line each).
    ``ValueError`` for a target of another model (other weights: the values were not measured on it)."""
    from train.open_set_meta import describe

    # the runtime fuses whenever the record is there: keep it, ranked fused (unless measured without it)
    fused = report.get("fusion", True)  # measured with the model's own fusion (False: --no-fusion)
    cal = _record(report, model_fusion_record(model) if fused else None,
                  report["stored_ranking"] if fused else report["ranking"])
    mine = _fingerprints(model)
    lines = []
    for t in targets:
        if not _fingerprints(t) & mine:
            raise ValueError(f"--calibrate-into {t}: not {model} nor quantised from it (fingerprints differ); "
                             "its window scores were not measured (--transfer-into carries them to a recipe-mate)")
        lines.append(f"{t}: {describe(write_open_set(t, cal))}")
    return lines


def _identity(model: Path, report: dict) -> str:
    """``model_id (fingerprint abcd...)`` of a measured model (its file name when it is gone)."""
    import onnx

    props = ({m.key: m.value for m in onnx.load(str(model), load_external_data=False).metadata_props}
             if model.is_file() else {})  # fmt: skip
    fp = report.get("fingerprint") or props.get(META_PREFIX + "fingerprint") or "?"
    return f"{props.get(META_PREFIX + 'model_id') or model.name} (fingerprint {fp[:16]})"


def transfer_into(targets: Sequence[Path], report: dict) -> list[str]:
    """Write ``report``'s values into files of ANOTHER model of the same recipe (e.g. the all-data
    starter, which trained on the protocols' classes and so cannot be measured on them): each keeps
    its own fusion record (its own weight) when the values are for the fused score and drops it
    otherwise (values for the cosine alone); the source names the model that was measured.
    ``ValueError`` when a fused measurement meets a target without fusion, or a target is the
    measured model itself (use --calibrate-into)."""
    from train.open_set_meta import describe

    measured = Path(report["model"])
    lines = []
    for t in targets:
        fusion = model_fusion_record(t) if report["ranking"] == "fused" else None  # cosine/DC values: unfused
        if report["ranking"] == "fused" and fusion is None:
            raise ValueError(f"--transfer-into {t}: the values are for a fused score, the file has no fusion record")
        if measured.is_file() and _fingerprints(t) & _fingerprints(measured):
            raise ValueError(f"--transfer-into {t}: the measured model itself; use --calibrate-into")
        cal = _record(report, fusion, report["ranking"], measured_on=f"the recipe-mate {_identity(measured, report)}")
        lines.append(f"{t}: {describe(write_open_set(t, cal))}")
    return lines


def run(model: Path, root: Path, protocols: Sequence[str], draws: int, streams: int | None, target_far: float,
        seed: int = 0, threads: int = 1, smoothed: bool = True, say: Callable[[str], None] = lambda _s: None,
        crops: bool = True, fusion: bool | None = None) -> tuple[dict, dict[str, Windows]]:  # fmt: skip
    """Both passes; ``(report, windows per protocol)``. ``ValueError`` for bad arguments. ``crops``:
    the support's window-length crops of each demonstration (:mod:`edge.exemplar_crops`), as `run`;
    ``fusion`` False: rank by the embedding alone (`run --no-fusion`), even for a model that fuses."""
    if draws < 1 or (streams is not None and streams < 1) or not 0.0 <= target_far <= 1.0:
        raise ValueError("--draws and --streams must be >= 1, --target-far in [0, 1]")
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown or not protocols:
        raise ValueError(f"--protocols: expected some of {', '.join(PROTOCOLS)}, got {', '.join(protocols) or 'none'}")
    t0, c0 = time.time(), time.process_time()
    protos = [PROTOCOLS[name](root) for name in protocols]
    with open_model(model, threads=threads) as engine, tempfile.TemporaryDirectory() as tmp:
        chosen_now: ChosenValues = choose_open_set(engine.meta, fusion=fusion)
        say(chosen_now.line)
        window = WindowConfig()
        span = window.frames / window.fps
        cfg = PipelineConfig(lossless=True, window=window, matcher=chosen_now.matcher_config(), smoothing=PASS_THROUGH,
                             crops=CropConfig(enabled=crops))
        plans = [[plan_episode(pr, p, d, seed, streams) for d in range(draws)] for p, pr in enumerate(protos)]
        windows, methods = {}, set()
        for pr, ps in zip(protos, plans, strict=True):
            eps = []
            for plan in ps:
                runs = run_episode(pr, plan, engine, cfg, seed, Path(tmp))
                methods |= {r.method for r in runs}
                eps.append((plan, runs))
                say(f"{pr.name} episode {plan.draw + 1}/{draws}: enrolled {', '.join(plan.enrolled)} "
                    f"(subject {plan.demo_subject}), streams {plan.streams} ({time.process_time() - c0:.0f} s CPU)")
            windows[pr.name] = windows_of(eps, span)
        if len(methods) != 1:
            raise RuntimeError(f"the matcher ranked by {sorted(methods)} across streams; expected one method")
        path = methods.pop()
        stored = chosen_now.params
        ep = concat([as_episodes(windows[pr.name], pr.name, path) for pr in protos])
        cal = calibration(ep, path, target_far, stored)
        report: dict = {
            "model": str(model), "fingerprint": engine.meta.fingerprint, "protocols": list(protocols), "draws": draws, "streams": streams, "seed": seed,
            "window_s": span, "crops": crops, "fusion": fusion is not False, "ranking": path, "open_set_line": chosen_now.line,
            "stored_ranking": None if engine.meta.open_set is None else engine.meta.open_set.ranking,
            "windows": {k: int(w.draw.size) for k, w in windows.items()},
            "check": {k: check_decisions(w, stored, path) for k, w in windows.items()},
            "calibration": cal,
        }  # fmt: skip
        if smoothed:
            params = OpenSetParams(**cal["chosen"])
            cfg2 = replace(cfg, smoothing=SmoothingConfig(), matcher=replace(cfg.matcher, threshold=params.threshold,
                           margin=params.margin, dc_margin=params.dc_margin))  # fmt: skip
            per = {}
            for pr, ps in zip(protos, plans, strict=True):
                counts = [smoothed_counts(plan, run_episode(pr, plan, engine, cfg2, seed, Path(tmp)), span)
                          for plan in ps]  # fmt: skip
                per[pr.name] = (smoothed_figures(counts), counts)
                say(f"{pr.name}: smoothed pass at the chosen values done ({time.process_time() - c0:.0f} s CPU)")
            report["smoothed_chosen"] = {"params": cal["chosen"], "smoothing": "runtime default",
                                         "per_protocol": {k: v[0] for k, v in per.items()},
                                         "pooled": smoothed_figures([c for v in per.values() for c in v[1]])}  # fmt: skip
        report["episodes"] = ep
    report["seconds"] = round(time.time() - t0, 1)
    report["cpu_seconds"] = round(time.process_time() - c0, 1)
    return report, windows


def _pct(s: dict | None) -> str:
    return "-" if s is None else f"{100 * s['mean']:.1f} ± {100 * s['ci95']:.1f}"


def _auc(s: dict | None) -> str:
    return "-" if s is None else f"{s['mean']:.3f} ± {s['ci95']:.3f}"


def _vals(p: dict, path: str) -> str:
    return f"{p['threshold']:g} / {p[MARGIN_FIELD[path]]:g}"


def table(report: dict) -> str:
    """The report as Markdown tables."""
    cal, path = report["calibration"], report["ranking"]
    rows = ["| protocol | values (threshold / margin) | windows | known accuracy % | false accepts % | AUROC |",
            "|---|---|---|---|---|---|"]
    for name, figs in [*cal["per_protocol"].items(), ("pooled", cal["pooled"])]:
        n = sum(report["windows"].values()) if name == "pooled" else report["windows"][name]
        for which in ("stored", "chosen"):
            f = figs[which]
            rows.append(f"| {name} | {which} {_vals(cal[which], path)} | {n} | {_pct(f['known_accuracy'])} | "
                        f"{_pct(f['false_accept'])} | {_auc(f['auroc'])} |")  # fmt: skip
    for h in cal["held_out"]:
        rows.append(f"| {h['protocol']} (held out) | chosen on the others {_vals(h['params'], path)} | "
                    f"{report['windows'][h['protocol']]} | {_pct(h['known_accuracy'])} | {_pct(h['false_accept'])} | "
                    f"{_auc(h['auroc'])} |")  # fmt: skip
    out = "\n".join(rows)
    sm = report.get("smoothed_chosen")
    if sm:
        rows = ["| protocol (smoothed, chosen values) | known accuracy % | false accepts % | onset median / p90 s | "
                "known segments missed | unknown segments labelled | label starts /min: right, wrong action, "
                "on unknown |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for name, f in [*sm["per_protocol"].items(), ("pooled", sm["pooled"])]:
            o = f["onset_s"] or {"median": float("nan"), "p90": float("nan")}
            s = f["starts_per_min"]
            rows.append(f"| {name} | {_pct(f['known_accuracy'])} | {_pct(f['false_accept'])} | "
                        f"{o['median']:.2f} / {o['p90']:.2f} | {f['missed_segments']} / {f['known_segments']} | "
                        f"{f['unknown_segments_labelled']} / {f['unknown_segments']} | "
                        f"{s['right']:.2f}, {s['wrong_action']:.2f}, {s['unknown']:.2f} |")  # fmt: skip
        out += "\n\n" + "\n".join(rows)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="the model to measure (required unless --from-report)")
    ap.add_argument("--data-root", type=Path, help="real data (required unless --from-report)")
    ap.add_argument("--target-far", type=float, default=0.2, help="pooled window false-accept target (default 0.2)")
    ap.add_argument("--draws", type=int, default=8, help="episodes per protocol (default 8)")
    ap.add_argument("--streams", type=int, default=None, help="streams per episode (default: every other subject)")
    ap.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), help=f"default: {' '.join(PROTOCOLS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-smoothed", action="store_true", help="skip the second (smoothed) pass")
    ap.add_argument("--no-fusion", dest="fusion", action="store_false", default=None,
                    help="rank by the embedding alone (as `run --no-fusion`); with --calibrate-into the model "
                    "then stores that ranking and no fusion record")
    ap.add_argument("--no-crops", dest="crops", action="store_false",
                    help="match whole demonstrations only (no window-length crops, as `run --no-crops`)")
    ap.add_argument("--json", type=Path, default=None, help="write the report here")
    ap.add_argument("--episodes", type=Path, default=None, help="save the windows' scores (train.open_set_eval format)")
    ap.add_argument("--calibrate-into", type=Path, nargs="+", default=[],
                    help="write the chosen values into these model files (the model or its quantised copies)")
    ap.add_argument("--transfer-into", type=Path, nargs="+", default=[],
                    help="write the chosen values into files of another model of the same recipe (each keeps its "
                    "own fusion weight; the values say which model was measured)")
    ap.add_argument("--from-report", type=Path, default=None, metavar="REPORT.json",
                    help="measure nothing: take the values of an earlier --json report (with --transfer-into)")
    args = ap.parse_args(argv)
    if args.from_report is None and (args.model is None or args.data_root is None):
        ap.error("--model and --data-root are required (unless --from-report)")
    if args.from_report is not None and (args.calibrate_into or not args.transfer_into):
        ap.error("--from-report goes with --transfer-into (and not --calibrate-into)")
    try:
        if args.from_report is not None:
            try:
                report = json.loads(args.from_report.read_text())
                report["calibration"]["chosen"], report["ranking"], report["model"]  # noqa: B018 - fields it needs
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"--from-report {args.from_report}: not an edge_open_set --json report "
                                 f"({type(exc).__name__}: {exc})") from None  # fmt: skip
        else:
            report, _ = run(args.model, args.data_root, args.protocols, args.draws, args.streams, args.target_far,
                            args.seed, args.threads, not args.no_smoothed, say=lambda s: print(s, file=sys.stderr),
                            crops=args.crops, fusion=args.fusion)  # fmt: skip
            ep = report.pop("episodes")
            if args.episodes:
                save_episodes(ep, args.episodes)
        if args.calibrate_into:
            report["calibrated_into"] = calibrate_into(args.calibrate_into, args.model, report)
        if args.transfer_into:
            report["calibrated_into"] = report.get("calibrated_into", []) + transfer_into(args.transfer_into, report)
    except ValueError as exc:
        print(f"edge_open_set: {exc}", file=sys.stderr)
        return 2
    if args.from_report is not None:
        print("\n".join(report["calibrated_into"]))
        return 0
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    cal = report["calibration"]
    print(table(report))
    print(f"\nchosen: threshold {cal['chosen']['threshold']:g}, margin {cal['chosen']['margin']:g}, DC margin "
          f"{cal['chosen']['dc_margin']:g} (target FAR {cal['target_far']:g} {'met' if cal['target_met'] else 'NOT met'}); "
          f"offline rule vs published states: {report['check']}; {report['cpu_seconds']} s CPU, {report['seconds']} s")  # fmt: skip
    for line in report.get("calibrated_into", []):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
