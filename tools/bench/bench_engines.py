"""Benchmark: the Engine API backends on one model, timed interleaved in one run.

Compares, for the same weights and the same window (batch N, M = 1, T = 64 by default):
raw ``onnxruntime.InferenceSession.run`` (baseline), ``edge.engines`` ONNX Runtime engine (adds input
validation), and the torch engine (``.pt``, eager). Both ORT sessions use the same options (no
spin-waiting, so interleaved timing is fair). Prints JSON with medians (ms) and ratios to the
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
from edge.engines import check_window, load_engine
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
    model = SkeletonBranch(ModelConfig(num_classes=args.classes, frames=args.frames))
    # calibrate BatchNorm statistics so activations have trained-model magnitudes (diffs are meaningful)
    for mod in model.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.reset_running_stats()
            mod.momentum = None
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, 3, args.frames, 25, 1))
    model.eval()
    x = np.random.default_rng(0).normal(0, 0.5, (args.batch, 3, args.frames, 25, 1)).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="crossglg-bench-engines-") as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "m.onnx")
        save_inference_checkpoint(Path(tmp) / "m.pt", model, {})
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.inter_op_num_threads = 1
        # no spin-waiting: interleaved sessions would otherwise burn each other's cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        raw = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        ox = load_engine(onnx_path, provider="cpu", threads=args.threads, spin=False)
        pt = load_engine(Path(tmp) / "m.pt", threads=args.threads)
        runs = {"ort_raw": lambda: raw.run(["embedding"], {"skeleton": x})[0],
                "ort_engine": lambda: ox.embed(x), "torch_engine": lambda: pt.embed(x)}
        for fn in runs.values():  # warm-up (allocations, first-call paths)
            fn()
        times: dict[str, list[float]] = {k: [] for k in runs}
        names = list(runs)
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:  # rotate: no fixed order bias
                fn = runs[name]
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) * 1e3)
        outs = {k: fn() for k, fn in runs.items()}
        ox.close()
        pt.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    t0 = time.perf_counter()
    for _ in range(1000):
        check_window(x, args.frames, 25, 1)
    validation_us = (time.perf_counter() - t0) * 1e3
    print(json.dumps({
        "threads": args.threads, "rounds": args.rounds, "batch": args.batch, "frames": args.frames,
        "median_ms": {k: round(v, 2) for k, v in med.items()},
        "ratio_to_ort_raw": {k: round(v / med["ort_raw"], 3) for k, v in med.items()},
        "input_validation_us_per_call": round(validation_us, 2),
        "max_abs_diff_vs_ort_raw": {k: float(np.abs(v - outs["ort_raw"]).max()) for k, v in outs.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
