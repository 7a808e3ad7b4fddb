"""FP32 vs INT8 on the same one-shot protocol and exemplars, plus their CPU latency (no torch).

Both ONNX files embed the protocol's novel samples (evaluation transform) in ONNX Runtime; the
embeddings go through the same cosine 1-NN evaluation as training-time evaluation
(:mod:`train.oneshot_eval`: fixed exemplars, and mean / 95% CI over seeded random exemplar draws).
Agreement between the two (cosine similarity of embeddings, share of identical predictions) shows
what the quantisation changed. Latency: batch-1 windows, the two sessions timed interleaved in the
same process, so their ratio is meaningful on a busy machine.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from crossglg.model_meta import EMBEDDING_NAME, INPUT_NAME, read_onnx_metadata
from train.datasets import Sample
from train.oneshot_eval import cosine_predictor, evaluate_predictor, public_summary, split_queries
from train.protocols import Split

from .windows import labelled_windows, model_input_spec, protocol_split


@dataclass(frozen=True)
class ReportConfig:
    """Report settings: protocol, random exemplar draws, latency repetitions, ORT threads."""

    protocol: str = "realdata"
    draws: int = 20
    draw_seed: int = 0
    latency_rounds: int = 50
    warmup: int = 5
    threads: int = 2
    batch: int = 64

    def __post_init__(self) -> None:
        for name in ("latency_rounds", "threads", "batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.draws < 0 or self.warmup < 0:
            raise ValueError("draws and warmup must be >= 0")


def open_session(path: str | os.PathLike[str], threads: int) -> ort.InferenceSession:
    """A CPU session with all graph optimisations and ``threads`` intra-op threads."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"ONNX model not found: {p}")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
        raise ValueError(f"{p}: not a loadable ONNX model ({exc})") from exc


def embed(session: ort.InferenceSession, x: np.ndarray, batch: int = 64, progress: bool = False,
          desc: str = "embed") -> np.ndarray:
    """Embeddings ``(N, D)`` of windows ``x (N, C, T, V, M)``."""
    from tqdm import tqdm

    out = [session.run([EMBEDDING_NAME], {INPUT_NAME: np.ascontiguousarray(x[i : i + batch])})[0]
           for i in tqdm(range(0, len(x), batch), desc=desc, disable=not progress, leave=False)]
    return np.concatenate(out)


def latency(sessions: dict[str, ort.InferenceSession], x: np.ndarray, rounds: int, warmup: int,
            progress: bool = False) -> dict[str, dict[str, float]]:
    """Per-call milliseconds ``{name: {median, p95, mean}}``, sessions interleaved round by round
    (the order rotates so no model always runs right after another)."""
    from tqdm import tqdm

    feed = {INPUT_NAME: np.ascontiguousarray(x)}
    names = list(sessions)
    for s in sessions.values():
        for _ in range(warmup):
            s.run(None, feed)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in tqdm(range(rounds), desc="latency", disable=not progress, leave=False):
        for k in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            sessions[k].run(None, feed)
            times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: {"median": statistics.median(v), "p95": float(np.percentile(v, 95)), "mean": statistics.fmean(v)}
            for k, v in times.items()}


def _agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    cos = np.sum(a * b, axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return {"cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
            "max_abs_diff_rel": float(np.abs(a - b).max() / max(float(np.abs(a).max()), 1e-12))}


def compare(fp32_path: str | os.PathLike[str], int8_path: str | os.PathLike[str], data_root: str | os.PathLike[str],
            cfg: ReportConfig | None = None, progress: bool = False) -> dict:
    """The full FP32-vs-INT8 report as a JSON-ready dict (see ``docs/calibration.md`` for keys)."""
    cfg = cfg or ReportConfig()
    spec = model_input_spec(fp32_path)
    spec8 = model_input_spec(int8_path)
    if spec8 != spec:
        raise ValueError(f"{int8_path}: preprocessing/layout {spec8} differs from {fp32_path}: {spec}")
    split = protocol_split(cfg.protocol, data_root)
    samples = list(split.exemplars) + list(split.queries)
    proto_labels = novel_labels(split, samples)
    x, labels, kept = labelled_windows(samples, proto_labels, spec, progress)
    fixed = np.flatnonzero(kept < len(split.exemplars))
    if fixed.size != len(split.exemplars):
        raise ValueError("a fixed exemplar could not be preprocessed; the protocol cannot be evaluated")
    sessions = {"fp32": open_session(fp32_path, cfg.threads), "int8": open_session(int8_path, cfg.threads)}
    embs = {k: embed(s, x, cfg.batch, progress, f"embed {k}") for k, s in sessions.items()}
    accuracy = {}
    for k, e in embs.items():
        res = evaluate_predictor(cosine_predictor(e, labels), labels, fixed, cfg.draws, cfg.draw_seed)
        accuracy[k] = public_summary(res)
        accuracy[k]["fixed_pred"] = res["fixed_pred"]
    same = float(np.mean(accuracy["fp32"].pop("fixed_pred") == accuracy["int8"].pop("fixed_pred")))
    lat = latency(sessions, x[:1], cfg.latency_rounds, cfg.warmup, progress)
    meta8 = read_onnx_metadata(int8_path)
    rand = {k: (v["random"] or {}).get("mean") for k, v in accuracy.items()}
    return {
        "fp32": str(fp32_path), "int8": str(int8_path), "protocol": cfg.protocol,
        "novel_classes": len(split.exemplars), "queries": int(split_queries(len(labels), fixed).size),
        "frames": spec.preprocess.frames, "threads": cfg.threads, "draws": cfg.draws,
        "accuracy": {"cosine_1nn": accuracy},
        "delta_points": {
            "fixed": 100 * (accuracy["int8"]["fixed"] - accuracy["fp32"]["fixed"]),
            "random_mean": (100 * (rand["int8"] - rand["fp32"]) if None not in rand.values() else None),
        },
        "agreement": {**_agreement(embs["fp32"], embs["int8"]), "same_fixed_predictions": same},
        "latency_ms_batch1": lat,
        "speedup_int8": lat["fp32"]["median"] / lat["int8"]["median"],
        "quantization": meta8.get("quantization", ""),
        "onnxruntime": ort.__version__,
    }


def novel_labels(split: Split, samples: list[Sample]) -> np.ndarray:
    """Novel label ``(N,)`` of exemplars / queries: the index of their class among the exemplars."""
    index = {s.key: i for i, s in enumerate(split.exemplars)}
    return np.array([index[s.key] for s in samples], dtype=np.int64)


def summary_table(report: dict) -> str:
    """A plain-text table of the report (what the CLI prints without ``--json``)."""
    acc = report["accuracy"]["cosine_1nn"]
    lat = report["latency_ms_batch1"]
    rows = [("", "FP32", "INT8", "INT8 - FP32")]

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    def rnd(k: str) -> str:
        r = acc[k]["random"]
        return "-" if not r else f"{100 * r['mean']:.1f} +- {100 * r['ci95']:.1f}"

    d = report["delta_points"]
    rows.append(("1-NN fixed exemplars (%)", pct(acc["fp32"]["fixed"]), pct(acc["int8"]["fixed"]), f"{d['fixed']:+.1f}"))
    rows.append((f"1-NN random draws x{report['draws']} (%)", rnd("fp32"), rnd("int8"),
                 "-" if d["random_mean"] is None else f"{d['random_mean']:+.1f}"))
    rows.append(("latency batch 1 median (ms)", f"{lat['fp32']['median']:.2f}", f"{lat['int8']['median']:.2f}",
                 f"x{report['speedup_int8']:.2f} speed-up"))
    rows.append(("latency batch 1 p95 (ms)", f"{lat['fp32']['p95']:.2f}", f"{lat['int8']['p95']:.2f}", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    a = report["agreement"]
    lines.append(f"{report['protocol']}: {report['novel_classes']} novel classes, {report['queries']} queries, "
                 f"T={report['frames']}, {report['threads']} threads; embeddings cosine mean {a['cosine_mean']:.4f} "
                 f"(min {a['cosine_min']:.4f}), same fixed-exemplar predictions {100 * a['same_fixed_predictions']:.1f}%")
    return "\n".join(lines)
