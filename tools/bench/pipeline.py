"""Benchmark: the whole edge pipeline vs MediaPipe alone, on a real video, in the same run.

Each round replays the video twice, interleaved: (a) the pose source alone (decode + MediaPipe +
tracking: the floor any camera pipeline pays) and (b) the full runtime (``edge.pipeline.Pipeline``:
pose thread + inference thread, windows -> preprocessing -> ONNX model -> matcher -> ZeroMQ),
headless and lossless, with actions enrolled so every full window runs the model. A real
subscriber collects the labels; label latency is the runtime's own ``latency_ms.total`` (pose of
the window's last frame + queueing + preprocessing + model + matching, up to the publish call)
plus, separately, the publish -> subscriber receive delay. RSS from /proc/self/status.

    .venv/bin/python tools/bench/pipeline.py --rounds 3 --json
    .venv/bin/python tools/bench/pipeline.py --video ../shared/data/ntu_sample/two_person_hugging.avi --max-people 2

Without ``--model`` a random-weights CrossGLG skeleton branch (T=64, the production window) is
exported once to ``runs/bench/pipeline_model.onnx`` (speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
DEFAULT_VIDEO = DATA / "ntu_sample" / "S001C001P001R001A001_rgb.avi"
POSE_MODEL = ROOT.parent / "shared" / "models" / "pose_landmarker_full.task"


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def export_model(path: Path, frames: int) -> Path:
    if path.exists():
        return path
    import torch

    from crossglg.model import ModelConfig, SkeletonBranch
    from crossglg.model.export import export_onnx
    from crossglg.preprocess import PreprocessConfig

    torch.manual_seed(0)
    model = SkeletonBranch(ModelConfig(num_classes=100, frames=frames)).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, path, metadata={"preprocess_id": PreprocessConfig(frames=frames).id, "model_id": "bench-random"})
    return path


def pose_alone(args) -> dict:
    from edge.sources import Source

    t0 = time.monotonic()
    n = 0
    with Source.from_video(args.video, mirror=args.mirror, pose_model=args.pose_model, max_people=args.max_people,
                           hfov_deg=args.hfov) as src:  # fmt: skip
        for _ in src:
            n += 1
    return {"frames": n, "seconds": time.monotonic() - t0}


def whole_pipeline(args, engine, store_dir: Path) -> dict:
    from edge.client import subscribe
    from edge.pipeline import Pipeline, PipelineConfig
    from edge.publisher import Publisher, PublisherConfig
    from edge.runtime import open_support_store
    from edge.sources import Source
    from edge.window import WindowConfig

    store = open_support_store(store_dir, engine)
    source = Source.from_video(args.video, mirror=args.mirror, pose_model=args.pose_model, max_people=args.max_people,
                               hfov_deg=args.hfov)  # fmt: skip
    cfg = PipelineConfig(lossless=True, window=WindowConfig(stride=args.stride))
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="bench")) as pub, \
            subscribe(pub.endpoint, topics=["crossglg.v1.label.", "crossglg.v1.hb."]) as sub:
        for _ in range(200):  # slow joiner: wait until the subscriber hears us
            pub.heartbeat()
            if sub.recv(timeout=0.025) is not None:
                break
        sub.drain()
        labels, delays = [], []
        done = threading.Event()

        def receive() -> None:  # concurrently, so publish -> receive delays are real
            while not done.is_set():
                m = sub.recv(timeout=0.1)
                if m is not None and m.kind == "label":
                    delays.append(time.time() - m.payload["t_pub"])
                    labels.append(m.payload)

        reader = threading.Thread(target=receive, daemon=True)
        reader.start()
        pipe = Pipeline(source, engine, store, pub, cfg)
        t0 = time.monotonic()
        result = pipe.run()
        seconds = time.monotonic() - t0
        time.sleep(0.5)
        done.set()
        reader.join()
    if result.error:
        raise SystemExit(f"pipeline failed: {result.error}")
    model = [p["latency_ms"] for p in labels if "model" in p["latency_ms"]]
    return {"frames": result.stats["frames_in"], "seconds": seconds, "windows": result.stats["windows"],
            "classified": len(model), "latency_total_ms": [lat["total"] for lat in model],
            "latency_model_ms": [lat["model"] for lat in model], "latency_pose_ms": [lat["pose"] for lat in model],
            "sub_delay_ms": [1e3 * d for d in delays], "dropped": result.stats["dropped"], "missed": sub.missed}  # fmt: skip


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--model", type=Path, default=None, help="ONNX model (default: export a random T=64 one)")
    ap.add_argument("--pose-model", type=Path, default=POSE_MODEL)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (the runtime's default: 1)")
    ap.add_argument("--stride", type=int, default=8)
    ap.add_argument("--max-people", type=int, default=1)
    ap.add_argument("--hfov", type=float, default=84.0, help="NTU colour camera: ~84 deg")
    ap.add_argument("--no-mirror", dest="mirror", action="store_false", help="NTU videos are mirrored (default on)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.video = args.video.resolve()

    from edge.runtime import embed_clip, open_model, open_support_store, preprocess_config_for
    from edge.skeleton_files import load_skeleton_file

    model_path = args.model or export_model(ROOT / "runs" / "bench" / "pipeline_model.onnx", 64)
    rss_start = rss_mb()[0]
    engine = open_model(model_path, threads=args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_support_store(Path(tmp) / "store", engine)
        pp = preprocess_config_for(engine.meta)
        for name, path in (("drink", DATA / "ntu_sample" / "S001C001P001R001A001.skeleton"),
                           ("walk", DATA / "utd_mhad" / "Skeleton" / "a23_s1_t1_skeleton.mat"),
                           ("squat", DATA / "utd_mhad" / "Skeleton" / "a27_s1_t1_skeleton.mat")):  # fmt: skip
            clip = load_skeleton_file(path).joints[:, :1]
            store.add_action(name, clip, embed_clip(engine, pp, clip))
        pose_runs, pipe_runs = [], []
        for _ in range(args.rounds):
            pose_runs.append(pose_alone(args))
            pipe_runs.append(whole_pipeline(args, engine, Path(tmp) / "store"))
    rss_now, rss_peak = rss_mb()

    pose_fps = [r["frames"] / r["seconds"] for r in pose_runs]
    pipe_fps = [r["frames"] / r["seconds"] for r in pipe_runs]
    lat = [v for r in pipe_runs for v in r["latency_total_ms"]]
    out = {
        "video": str(args.video.relative_to(DATA.resolve()) if args.video.is_relative_to(DATA.resolve()) else args.video),
        "frames_per_replay": pose_runs[0]["frames"], "rounds": args.rounds, "model": engine.meta.model_id,
        "model_frames": engine.meta.frames, "ort_threads": args.threads, "stride": args.stride,
        "mediapipe_alone_fps": round(statistics.median(pose_fps), 2),
        "pipeline_fps": round(statistics.median(pipe_fps), 2),
        "pipeline_vs_mediapipe": round(statistics.median(pipe_fps) / statistics.median(pose_fps), 3),
        "classified_windows": sum(r["classified"] for r in pipe_runs),
        "label_latency_ms": {"p50": pct(lat, 50), "p95": pct(lat, 95)},
        "model_ms": {"p50": pct([v for r in pipe_runs for v in r["latency_model_ms"]], 50),
                     "p95": pct([v for r in pipe_runs for v in r["latency_model_ms"]], 95)},
        "pose_ms_last_frame": {"p50": pct([v for r in pipe_runs for v in r["latency_pose_ms"]], 50)},
        "publish_to_subscriber_ms": {"p50": pct([v for r in pipe_runs for v in r["sub_delay_ms"]], 50),
                                     "p95": pct([v for r in pipe_runs for v in r["sub_delay_ms"]], 95)},
        "dropped_frames": sum(r["dropped"] for r in pipe_runs), "missed_messages": sum(r["missed"] for r in pipe_runs),
        "rss_mb": {"start": round(rss_start, 1), "end": round(rss_now, 1), "peak": round(rss_peak, 1)},
        "load_avg_1m": float(Path("/proc/loadavg").read_text().split()[0]),
    }
    engine.close()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:>26}: {v}")


if __name__ == "__main__":
    main()
