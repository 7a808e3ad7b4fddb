"""Soak: a looped real replay through the whole edge runtime for ``--minutes``, with a subscriber.

The replay alternates one-person UTD-MHAD clips (held still 1 s before and after) and two-person
SBU Kinect Interaction recordings (15 fps, as a 15 fps camera would deliver them), each followed by
2.5 s with nobody in view, looped for as long as asked. Every appearance gets fresh track ids, as
a camera's tracker gives them, so state kept per track must be forgotten or it shows as growth.
It goes through the real :class:`edge.pipeline.Pipeline` (camera-paced and lossless: the source
waits instead of dropping, so every window is published), the test encoder, a support store with
UTD and SBU actions enrolled, and a real :class:`edge.publisher.Publisher`. The subscriber is a
separate process (this script with ``--subscribe``) that reports every label's ``seq``.

Reported (``--json`` for one JSON object):

- RSS of this process every ``--sample-s`` (psutil when installed, else ``/proc/self/statm``);
  growth from the end of the warm-up to the last sample, which must stay under 5 %, and over the
  second half (steady state). ONNX Runtime's CPU arena grows the first time a batch of more
  windows than before runs (a burst after a stall: up to ``batch_max``) and never shrinks, so
  a one-time step can land after the warm-up; the series shows it;
- labels published, received, and sequence gaps seen by the subscriber (lossless: must be 0);
- label latency per minute, p50/p95: the runtime's own ``latency_ms.total`` (frame in -> publish)
  plus the publish -> receive delay, for all labels and for the windows that went through the
  model; stable when the worst minute's model p95 is under twice the median minute's.

    nice -n 10 .venv/bin/python tools/bench/soak.py --minutes 10 --json

Exit 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
MODEL = ROOT / "tests" / "assets" / "crossglg_realdata.onnx"
HOLD_S, GAP_S, GRID_FPS = 1.0, 2.5, 30.0
MAX_GROWTH, MAX_P95_SPREAD = 0.05, 2.0
UTD_ENROLL = (1, 5, 8, 10)  # actions enrolled from subject 6, who is not replayed
SBU_ENROLL_PAIR, SBU_ENROLL = "s01s02", (3, 4)  # kicking, pushing of this pair; the replay uses the others


@dataclass(frozen=True)
class Segment:
    """One recording of the replay: ``joints`` ``(T, M, 25, 3)`` metres, NaN = missing, at ``fps``."""

    name: str
    joints: np.ndarray
    fps: float


def rss_bytes() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")


def utd_path(data: Path, action: int, subject: int) -> Path:
    return data / "utd_mhad" / "Skeleton" / f"a{action}_s{subject}_t1_skeleton.mat"


def sbu_samples(data: Path) -> list:
    from crossglg.datasets import scan_dataset

    samples, _ = scan_dataset("sbu", data / "sbu", lazy=True)
    return samples


def build_segments(data: Path) -> list[Segment]:
    """12 UTD clips (every other action, subjects 1-4 in turn, one person) interleaved with one SBU
    recording per interaction (8, each from another pair than the enrolled one; two people): about
    two minutes, looped, so a soak sees the same content again and again."""
    from edge.skeleton_files import load_skeleton_file

    utd = []
    for i, action in enumerate(range(1, 25, 2)):
        j = load_skeleton_file(utd_path(data, action, 1 + i % 4)).joints[:, :1]
        hold = int(HOLD_S * GRID_FPS)
        utd.append(Segment(f"utd a{action}", np.concatenate([np.repeat(j[:1], hold, 0), j,
                                                             np.repeat(j[-1:], hold, 0)]), GRID_FPS))  # fmt: skip
    pairs: set[str] = set()
    by_code: dict[int, Segment] = {}
    for s in sbu_samples(data):
        code = s.meta["interaction"]
        if s.meta["pair"] not in pairs | {SBU_ENROLL_PAIR} and code not in by_code:
            pairs.add(s.meta["pair"])
            by_code[code] = Segment(f"sbu {s.name}", s.load(), float(s.fps))
    sbu = [by_code[k] for k in sorted(by_code)]
    out = []
    for k in range(max(len(utd), len(sbu))):
        out += [utd[k % len(utd)], sbu[k % len(sbu)]]
    return out


def looped_source(segments: list[Segment]):
    """An endless :class:`edge.sources.Source` over ``segments`` (each followed by ``GAP_S`` empty)."""
    from edge.frames import SkeletonFrame, make_person
    from edge.sources import Source

    class LoopedReplay(Source):
        def __init__(self) -> None:
            super().__init__("soak", GRID_FPS)
            self.loops = 0
            self.two_people_frames = 0

        def _frames(self) -> Iterator[SkeletonFrame]:
            t, index, next_id = 0.0, 0, 1
            while True:
                for seg in segments:
                    ids = range(next_id, next_id + seg.joints.shape[1])
                    next_id += seg.joints.shape[1]
                    for frame in seg.joints:
                        people = tuple(make_person(i, j) for i, j in zip(ids, frame, strict=True)
                                       if np.isfinite(j).any())  # fmt: skip
                        self.two_people_frames += len(people) >= 2
                        yield SkeletonFrame(t, index, people, None)
                        t, index = t + 1.0 / seg.fps, index + 1
                    for _ in range(int(GAP_S * GRID_FPS)):
                        yield SkeletonFrame(t, index, (), None)
                        t, index = t + 1.0 / GRID_FPS, index + 1
                self.loops += 1

    return LoopedReplay()


def enroll_actions(store, engine, data: Path) -> list[str]:
    from crossglg.datasets import class_name
    from edge.enrollment import enroll_recording, resample_clip, store_demonstration
    from edge.runtime import preprocess_config_for

    labels = [a.label for a in store.actions]
    for action in UTD_ENROLL:
        labels.append(class_name("utd_mhad", action - 1))
        enroll_recording(store, engine, utd_path(data, action, 6), labels[-1])
    pp = preprocess_config_for(engine.meta)
    for s in sbu_samples(data):
        if s.meta["pair"] == SBU_ENROLL_PAIR and s.meta["take"] == 1 and s.meta["interaction"] in SBU_ENROLL:
            j = s.load()[:, 0]  # the first person of the pair
            clip = resample_clip(j, np.arange(len(j)) / s.fps, GRID_FPS)
            label = class_name("sbu", s.label)
            store_demonstration(store, engine, pp, label, clip, GRID_FPS, f"sbu {s.name}")
            labels.append(label)
    return labels


# ---- the subscriber process ------------------------------------------------------------------


def subscribe_main(endpoint: str) -> int:
    """Print ``seq t_pub t_recv total_ms model`` per label (model: 1 when the window went through
    the model) until SIGTERM, then a JSON summary line."""
    from edge.client import subscribe

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    received = 0
    with subscribe(endpoint) as sub:  # every topic, as a UI would
        while not stop.is_set():
            msg = sub.recv(timeout=0.2)
            if msg is None:
                continue
            received += 1
            if msg.kind == "label":
                p = msg.payload
                lat = p["latency_ms"]
                print(f"{p['seq']} {p['t_pub']:.6f} {time.time():.6f} {lat['total']:.3f} {int('model' in lat)}",
                      flush=True)  # fmt: skip
        print(json.dumps({"received": received, "missed": sub.missed, "invalid": sub.invalid}), flush=True)
    return 0


class LabelLog:
    """Reads the subscriber's lines on a thread; keeps compact arrays, so it adds no growth itself."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.t_recv, self.latency_ms, self.model = array("d"), array("d"), array("b")
        self.last_seq, self.gaps, self.labels = -1, 0, 0
        self.summary: dict | None = None
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("{"):
                self.summary = json.loads(line)
                continue
            seq, t_pub, t_recv, total, model = line.split()
            seq_i = int(seq)
            if self.last_seq >= 0 and seq_i > self.last_seq + 1:
                self.gaps += seq_i - self.last_seq - 1
            self.last_seq, self.labels = seq_i, self.labels + 1
            self.t_recv.append(float(t_recv))
            self.latency_ms.append(float(total) + 1e3 * (float(t_recv) - float(t_pub)))
            self.model.append(int(model))

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


# ---- the soak ---------------------------------------------------------------------------------


def soak(minutes: float, model: Path, data: Path, sample_s: float, warmup_s: float) -> dict:
    from edge.pipeline import Pipeline, PipelineConfig
    from edge.publisher import Publisher, PublisherConfig
    from edge.runtime import open_model, open_support_store

    segments = build_segments(data)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp, open_model(model, threads=1) as engine, \
            Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="soak", model_id=engine.meta.model_id,
                                      backend=engine.backend, count_subscribers=True)) as pub:  # fmt: skip
        store = open_support_store(Path(tmp) / "store", engine)
        enrolled = enroll_actions(store, engine, data)
        sub = subprocess.Popen([sys.executable, __file__, "--subscribe", pub.endpoint], stdout=subprocess.PIPE,
                               text=True, cwd=ROOT)  # fmt: skip
        log = LabelLog(sub)
        if pub.wait_for_subscribers(1, 60) < 1:
            sub.kill()
            raise SystemExit("soak: the subscriber never subscribed")
        source = looped_source(segments)
        pipe = Pipeline(source, engine, store, pub, PipelineConfig(lossless=True, realtime=True,
                                                                   max_seconds=minutes * 60))  # fmt: skip
        t0 = time.time()
        samples: list[tuple[float, int]] = [(0.0, rss_bytes())]
        pipe.start()
        while (result := pipe.wait(timeout=sample_s)) is None:
            samples.append((round(time.time() - t0, 1), rss_bytes()))
        samples.append((round(time.time() - t0, 1), rss_bytes()))
        time.sleep(1.0)  # the last labels reach the subscriber
        sub.send_signal(signal.SIGTERM)
        sub.wait(timeout=30)
        log.join(10)
        published = pub.stats
    replay = {"segments": len(segments), "loops": source.loops, "two_people_frames": source.two_people_frames}
    return report(minutes, result, samples, log, t0, warmup_s, enrolled, replay, published)


def pct(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None


def report(minutes: float, result, samples: list[tuple[float, int]], log: LabelLog, t0: float, warmup_s: float,
           enrolled: list[str], replay: dict, published: dict) -> dict:  # fmt: skip
    after = [(t, r) for t, r in samples if t >= warmup_s]
    base, last = (after[0][1], after[-1][1]) if len(after) >= 2 else (samples[0][1], samples[-1][1])
    growth = (last - base) / base
    half = [r for t, r in samples if t >= samples[-1][0] / 2]
    growth_half = (half[-1] - half[0]) / half[0]  # the steady state: one-time steps are behind
    slope = None
    if len(after) >= 3:
        ts, rs = np.array([t for t, _ in after]), np.array([r for _, r in after], np.float64)
        slope = round(float(np.polyfit(ts / 60.0, rs / 2**20, 1)[0]), 3)  # MiB per minute
    t_rel, lat = np.frombuffer(log.t_recv) - t0, np.frombuffer(log.latency_ms)
    model = np.frombuffer(log.model, dtype=np.int8).astype(bool)
    per_minute = []
    for m in range(int(np.ceil(max(minutes, 1e-9)))):
        now = (t_rel >= 60 * m) & (t_rel < 60 * (m + 1))
        sel, mod = lat[now], lat[now & model]
        per_minute.append({"minute": m + 1, "labels": int(len(sel)), "p50_ms": pct(sel, 50), "p95_ms": pct(sel, 95),
                           "model_labels": int(len(mod)), "model_p50_ms": pct(mod, 50),
                           "model_p95_ms": pct(mod, 95)})  # fmt: skip
    # stability on the windows that went through the model: the others (gated: warming up, idle,
    # nobody) cost almost nothing, so the all-label p95 moves with the content's mix
    p95s = [m["model_p95_ms"] for m in per_minute if m["model_p95_ms"] is not None and m["model_labels"] >= 10]
    spread = round(max(p95s) / float(np.median(p95s)), 2) if p95s else None
    s = result.stats
    checks = {
        "rss_growth_under_5pct": growth < MAX_GROWTH,
        "no_label_lost": log.gaps == 0 and log.labels == s["labels"] and s["dropped"] == 0 and published["dropped"] == 0,
        "latency_p95_stable": spread is not None and spread < MAX_P95_SPREAD,
        "runtime_ok": result.error is None,
    }
    return {
        "minutes": minutes, "end": result.reason, "error": result.error, "replay_segments": replay["segments"],
        "replay_loops": replay["loops"], "frames_with_two_people": replay["two_people_frames"], "enrolled": enrolled,
        "frames": s["frames_in"], "windows": s["windows"], "embedded": s["embedded"],
        "labels_published": s["labels"], "labels_received": log.labels, "label_seq_gaps": log.gaps,
        "queue_dropped": s["dropped"], "publisher_dropped": published["dropped"], "subscriber": log.summary,
        "rss_mb": [[t, round(r / 2**20, 1)] for t, r in samples], "warmup_s": warmup_s,
        "rss_growth_after_warmup": round(growth, 4), "rss_growth_second_half": round(growth_half, 4),
        "rss_slope_mb_per_min": slope,
        "latency_per_minute": per_minute, "latency_p95_spread": spread,
        "latency_all_p50_ms": pct(lat, 50), "latency_all_p95_ms": pct(lat, 95),
        "latency_model_p50_ms": pct(lat[model], 50), "latency_model_p95_ms": pct(lat[model], 95),
        "checks": checks, "ok": all(checks.values()),
    }  # fmt: skip


def print_text(r: dict) -> None:
    print(f"soak {r['minutes']:g} min: {r['end']}, {r['frames']} frames ({r['replay_loops']} loops of "
          f"{r['replay_segments']} recordings; {r['frames_with_two_people']} with two people), {r['windows']} "
          f"windows, {r['embedded']} through the model")  # fmt: skip
    print(f"labels: {r['labels_published']} published, {r['labels_received']} received, "
          f"{r['label_seq_gaps']} seq gaps, {r['queue_dropped']} queue drops")  # fmt: skip
    rss = r["rss_mb"]
    print(f"RSS: {rss[0][1]} MiB at start, {rss[-1][1]} MiB at the end; growth after {r['warmup_s']:g} s warm-up "
          f"{100 * r['rss_growth_after_warmup']:.2f} % (slope {r['rss_slope_mb_per_min']} MiB/min), over the second "
          f"half {100 * r['rss_growth_second_half']:.2f} %")  # fmt: skip
    for m in r["latency_per_minute"]:
        print(f"  minute {m['minute']:>2}: {m['labels']:>4} labels, latency p50 {m['p50_ms']} ms, p95 {m['p95_ms']} ms;"
              f" {m['model_labels']:>4} through the model: p50 {m['model_p50_ms']} ms, p95 {m['model_p95_ms']} ms")
    print("checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in r["checks"].items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to run (default %(default)s)")
    ap.add_argument("--model", type=Path, default=MODEL, help="ONNX encoder (default: the trained test encoder)")
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default %(default)s)")
    ap.add_argument("--sample-s", type=float, default=10.0, help="RSS sampling period (default %(default)s)")
    ap.add_argument("--warmup-s", type=float, default=None,
                    help="RSS growth is measured from here (default: 20 %% of the run, at most 120 s)")  # fmt: skip
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--subscribe", metavar="ENDPOINT", help=argparse.SUPPRESS)  # the subscriber process
    args = ap.parse_args()
    if args.subscribe:
        return subscribe_main(args.subscribe)
    if not args.minutes > 0 or not args.sample_s > 0:
        ap.error("--minutes and --sample-s must be > 0")
    warmup = args.warmup_s if args.warmup_s is not None else min(120.0, 0.2 * args.minutes * 60)
    r = soak(args.minutes, args.model, args.data, args.sample_s, warmup)
    if args.json:
        print(json.dumps(r))
    else:
        print_text(r)
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
