"""Benchmark: the Engine API backends on one model, timed interleaved in one run.

Compares, for the same weights and the same window (batch N, M = 1, T = 64 by default):
raw ``onnxruntime.InferenceSession.run`` (baseline), ``edge.engines`` ONNX Runtime engine (adds input
validation), and the torch engine (``.pt``, eager). Prints JSON with medians (ms) and ratios to the
raw-ORT baseline, plus the max embedding difference between backends.

    .venv/bin/python tools/bench/bench_engines.py --threads 2 --rounds 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from crossglg.model import ModelConfig, SkeletonBranch
from crossglg.model.export import export_onnx
from edge.engines import load_engine
from train.torch_engine import save_inference_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--classes", type=int, default=100)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = SkeletonBranch(ModelConfig(num_classes=args.classes, frames=args.frames)).eval()
    x = np.random.default_rng(0).normal(0, 0.5, (args.batch, 3, args.frames, 25, 1)).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="crossglg-bench-engines-") as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "m.onnx")
        save_inference_checkpoint(Path(tmp) / "m.pt", model, {})
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        raw = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        ox = load_engine(onnx_path, provider="cpu", threads=args.threads)
        pt = load_engine(Path(tmp) / "m.pt", threads=args.threads)
        runs = {"ort_raw": lambda: raw.run(["embedding"], {"skeleton": x})[0],
                "ort_engine": lambda: ox.embed(x), "torch_engine": lambda: pt.embed(x)}
        for fn in runs.values():  # warm-up (allocations, first-call paths)
            fn()
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(args.rounds):
            for name, fn in runs.items():
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) * 1e3)
        outs = {k: fn() for k, fn in runs.items()}
        ox.close()
        pt.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({
        "threads": args.threads, "rounds": args.rounds, "batch": args.batch, "frames": args.frames,
        "median_ms": {k: round(v, 2) for k, v in med.items()},
        "ratio_to_ort_raw": {k: round(v / med["ort_raw"], 3) for k, v in med.items()},
        "max_abs_diff_vs_ort_raw": {k: float(np.abs(v - outs["ort_raw"]).max()) for k, v in outs.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
