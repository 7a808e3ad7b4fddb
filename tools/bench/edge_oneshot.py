"""One-shot recognition through the edge path on continuous recordings (issue 12 item 7).

    python tools/bench/edge_oneshot.py --model MODEL.onnx --data-root ../shared/data [--json]

Enrolls the nine UTD-MHAD novel actions (a3, a6, ..., a27) from ONE demonstration each (subject 1,
trial 1) exactly as `crossglg-edge enroll --skeleton` does, then replays, for each other subject,
one continuous stream of that subject's trials of the nine actions back to back (no pauses, as a
camera would see someone going from one action to the next) through the real pipeline (sliding
windows, model, centred-cosine matcher with open-set rejection, smoothing, ZeroMQ publisher and a
subscriber on loopback). Scored from the published label messages:

- per-window accuracy: a window (its ``t_frame`` is its last frame) counts as right when its label
  is the action that fills most of its span; ``unknown`` and gated windows count as wrong;
- onset delay: per action segment, seconds from its start to the first window labelled with it
  (segments never recognised are counted apart);
- the same on the smoothed stream (events), when the smoother emits them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from edge.client import subscribe  # noqa: E402
from edge.engines import EngineBase  # noqa: E402
from edge.enrollment import enroll_recording  # noqa: E402
from edge.exemplar_crops import CropConfig  # noqa: E402
from edge.open_set_values import choose_open_set  # noqa: E402
from edge.pipeline import Pipeline, PipelineConfig  # noqa: E402
from edge.publisher import Publisher, PublisherConfig  # noqa: E402
from edge.runtime import open_model, open_support_store  # noqa: E402
from edge.skeleton_files import load_skeleton_file  # noqa: E402
from edge.sources import Source  # noqa: E402
from edge.store import SupportStore  # noqa: E402

NOVEL = (3, 6, 9, 12, 15, 18, 21, 24, 27)
FPS = 30.0


def utd(root: Path, action: int, subject: int, trial: int) -> Path:
    return root / "utd_mhad" / "Skeleton" / f"a{action}_s{subject}_t{trial}_skeleton.mat"


def write_stream(parts: Sequence[tuple[str, Sequence[np.ndarray]]], out: Path,
                 fps: float = FPS) -> list[tuple[str, float, float]]:  # fmt: skip
    """Labelled clips ``(T, 1, 25, 3)`` back to back, segment after segment -> ``out`` (.npz with
    ``joints`` and ``fps``); returns the segments ``(label, t0, t1)`` in seconds."""
    arrays, segments, t = [], [], 0.0
    for label, clips in parts:
        start = t
        for joints in clips:
            arrays.append(joints)
            t += len(joints) / fps
        segments.append((label, start, t))
    np.savez(out, joints=np.concatenate(arrays).astype(np.float32), fps=np.float64(fps))
    return segments


def build_stream(root: Path, subject: int, out: Path) -> list[tuple[str, float, float]]:
    """The subject's trials of the novel actions back to back -> ``out`` (.npz); segments (label, t0, t1)."""
    parts = [(f"a{a}", [load_skeleton_file(p).joints[:, :1] for trial in (1, 2, 3, 4)
                        if (p := utd(root, a, subject, trial)).exists()]) for a in NOVEL]  # fmt: skip
    return write_stream(parts, out)


def replay(engine: EngineBase, store: SupportStore, stream: Path, cfg: PipelineConfig,
           source: str = "bench") -> tuple[list[dict], list[dict], str]:  # fmt: skip
    """``stream`` through the real pipeline (publisher, a subscriber on loopback receiving while it
    runs): ``(label payloads, event payloads, the matcher's method)``. ``RuntimeError`` when a
    published label or event did not arrive (the figures would be wrong)."""
    topics = [f"crossglg.v1.{kind}.{source}" for kind in ("label", "event", "hb")]
    got: dict[str, list[dict]] = {"label": [], "event": []}
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source=source)) as pub, \
            subscribe(pub.endpoint, topics=topics) as sub:
        for _ in range(200):  # slow joiner: heartbeat until the subscriber hears one
            pub.heartbeat()
            if sub.recv(timeout=0.025) is not None:
                break
        sub.drain()
        done = threading.Event()

        def receive() -> None:
            while (m := sub.recv(timeout=0.2)) is not None or not done.is_set():
                if m is not None and m.kind in got:
                    got[m.kind].append(m.payload)

        reader = threading.Thread(target=receive, name="bench-subscriber", daemon=True)
        reader.start()
        pipe = Pipeline(Source.from_skeleton_file(stream), engine, store, pub, cfg)
        try:
            result = pipe.run()
        finally:
            done.set()
            reader.join()
        stats = pipe.recognizer.stats
        if result.reason == "error":
            raise RuntimeError(f"{stream}: pipeline stopped: {result.error}")
        if len(got["label"]) != stats.labels or len(got["event"]) != stats.events or sub.missed:
            raise RuntimeError(f"{stream}: received {len(got['label'])}/{stats.labels} labels and "
                               f"{len(got['event'])}/{stats.events} events ({sub.missed} missed)")  # fmt: skip
    return got["label"], got["event"], pipe.recognizer.matcher.method


def truth_at(segments: list[tuple[str, float, float]], t0: float, t1: float) -> str | None:
    """The segment label covering most of ``[t0, t1]``."""
    best, cover = None, 0.0
    for label, s0, s1 in segments:
        c = min(t1, s1) - max(t0, s0)
        if c > cover:
            best, cover = label, c
    return best


def score(msgs: list[dict], segments: list[tuple[str, float, float]], span_s: float) -> dict:
    windows = [m for m in msgs if m["track_id"] is not None and m["reason"] != "warming_up"]
    right = [m["state"] == "action" and m["label"] == truth_at(segments, m["t_frame"] - span_s, m["t_frame"])
             for m in windows]
    delays, missed = [], 0
    for label, s0, s1 in segments:
        hits = [m["t_frame"] for m in windows if s0 <= m["t_frame"] < s1 + span_s and m["state"] == "action"
                and m["label"] == label]  # fmt: skip
        if hits:
            delays.append(min(hits) - s0)
        else:
            missed += 1
    return {"windows": len(windows), "right": int(sum(right)), "delays": delays, "missed_segments": missed,
            "segments": len(segments)}


def run(model: Path, root: Path, subjects: list[int], threads: int, threshold: float | None = None,
        margin: float | None = None, fusion: bool | None = None, crops: bool = True) -> dict:
    totals = {"windows": 0, "right": 0, "delays": [], "missed_segments": 0, "segments": 0}
    per_subject = {}
    t_start = time.time()
    with open_model(model, threads=threads) as engine, tempfile.TemporaryDirectory() as tmp:
        chosen = choose_open_set(engine.meta, threshold, margin, fusion=fusion)  # flags, else the model's calibrated values and ranking, as `run` uses
        print(chosen.line, file=sys.stderr)
        store = open_support_store(Path(tmp) / "store", engine)
        for a in NOVEL:
            enroll_recording(store, engine, utd(root, a, 1, 1), f"a{a}")
        for s in subjects:
            stream = Path(tmp) / f"s{s}.npz"
            segments = build_stream(root, s, stream)
            cfg = PipelineConfig(lossless=True, matcher=chosen.matcher_config(), crops=CropConfig(enabled=crops))
            msgs, _, _ = replay(engine, store, stream, cfg)
            span = cfg.window.frames / cfg.window.fps
            r = score(msgs, segments, span)
            per_subject[s] = {"window_accuracy": r["right"] / max(r["windows"], 1),
                              "median_onset_s": float(np.median(r["delays"])) if r["delays"] else None,
                              "missed_segments": r["missed_segments"]}
            for k in ("windows", "right", "missed_segments", "segments"):
                totals[k] += r[k]
            totals["delays"] += r["delays"]
    d = np.array(totals["delays"])
    return {
        "model": str(model), "method": chosen.line, "crops": crops, "subjects": subjects, "enrolled": [f"a{a}" for a in NOVEL],
        "window_s": span, "window_accuracy": totals["right"] / max(totals["windows"], 1),
        "windows": totals["windows"], "segments": totals["segments"], "missed_segments": totals["missed_segments"],
        "onset_s": {"median": float(np.median(d)), "p90": float(np.percentile(d, 90)), "mean": float(d.mean())}
        if d.size else None,
        "per_subject": per_subject, "seconds": round(time.time() - t_start, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--data-root", required=True, type=Path)
    ap.add_argument("--subjects", type=int, nargs="+", default=[2, 3, 4, 5, 6, 7, 8])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=None, help="open-set threshold (default: the model's)")
    ap.add_argument("--margin", type=float, default=None, help="open-set margin (default: the model's)")
    ap.add_argument("--no-fusion", dest="fusion", action="store_false", default=None,
                    help="match on the embedding alone (default: the model's score fusion, as `run` does)")
    ap.add_argument("--no-crops", dest="crops", action="store_false",
                    help="match whole demonstrations only (no window-length crops, as `run --no-crops`)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = run(args.model, args.data_root, args.subjects, args.threads, args.threshold, args.margin, args.fusion,
              args.crops)
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        o = res["onset_s"] or {}
        print(f"{res['model']}: per-window accuracy {100 * res['window_accuracy']:.1f}% over {res['windows']} windows; "
              f"onset median {o.get('median', float('nan')):.2f} s, p90 {o.get('p90', float('nan')):.2f} s; "
              f"{res['missed_segments']}/{res['segments']} segments never recognised ({res['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
