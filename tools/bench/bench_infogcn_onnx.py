"""Benchmark: our InfoGCN / CrossGLG inference graph vs the reference-style InfoGCN in ONNX Runtime.

The reference runs as published and, as an ablation, with our subnormal guard on its attention
("guarded"), which separates the structural speed-up from the numerical one. All models carry the
same weights (reference -> ours via ``to_fast_state_dict``), are exported with
the same exporter, and are timed interleaved in one run (batch 1, M = 1, T = 64 by default), so the
ratio is meaningful on a shared machine. Prints JSON with medians and the speed-up ratio.

    .venv/bin/python tools/bench/bench_infogcn_onnx.py --threads 2 --rounds 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from crossglg.model import ModelConfig, SkeletonBranch, count_flops, count_parameters
from crossglg.model.export import export_onnx
from crossglg.model.reference_infogcn import ReferenceInfoGCN, to_fast_state_dict


def _calibrate_bn(model: torch.nn.Module, shape: tuple[int, ...], batches: int = 3) -> None:
    """Give BatchNorms realistic running statistics so activations are O(1) like a trained model's."""
    for mod in model.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.momentum = None
            mod.reset_running_stats()
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(8, *shape[1:]))
    model.eval()


class _RefWrapper(torch.nn.Module):
    def __init__(self, ref: ReferenceInfoGCN) -> None:
        super().__init__()
        self.ref = ref

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, z = self.ref(x)
        return z, logits


def _session(path: Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--dynamo", choices=("auto", "yes", "no"), default="yes")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    shape = (args.batch, 3, args.frames, 25, 1)

    ref = ReferenceInfoGCN(args.classes, num_person=1)
    _calibrate_bn(ref, shape)
    # ablation: the reference plus our subnormal guard, to separate structure from numerics
    ref_guard = ReferenceInfoGCN(args.classes, num_person=1, flush_subnormal=True)
    ref_guard.load_state_dict(ref.state_dict())
    ref_guard.eval()
    ours = SkeletonBranch(ModelConfig(num_classes=args.classes, frames=args.frames, g2l=False))
    ours.load_state_dict(to_fast_state_dict(ref))
    ours.eval()
    full = SkeletonBranch(ModelConfig(num_classes=args.classes, frames=args.frames, g2l=True))
    _calibrate_bn(full, shape)
    dyn = {"auto": None, "yes": True, "no": False}[args.dynamo]

    with tempfile.TemporaryDirectory() as tmp:
        paths = {
            "reference_infogcn": export_onnx(_RefWrapper(ref).eval(), Path(tmp) / "ref.onnx", dynamo=dyn,
                                             input_shape=(2, *shape[1:]), output_names=["embedding", "logits"]),
            "reference_infogcn_guarded": export_onnx(_RefWrapper(ref_guard).eval(), Path(tmp) / "ref_g.onnx",
                                                     dynamo=dyn, input_shape=(2, *shape[1:]),
                                                     output_names=["embedding", "logits"]),
            "ours_infogcn": export_onnx(ours, Path(tmp) / "ours.onnx", dynamo=dyn),
            "ours_crossglg": export_onnx(full, Path(tmp) / "full.onnx", dynamo=dyn),
        }
        sessions = {k: _session(p, args.threads) for k, p in paths.items()}
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        outs = {k: s.run(None, {"skeleton": x}) for k, s in sessions.items()}
        parity = float(np.abs(outs["reference_infogcn"][0] - outs["ours_infogcn"][0]).max())
        for s in sessions.values():  # warm-up
            for _ in range(5):
                s.run(None, {"skeleton": x})
        times: dict[str, list[float]] = {k: [] for k in sessions}
        cpu: dict[str, list[float]] = {k: [] for k in sessions}
        for _ in range(args.rounds):
            for k, s in sessions.items():
                c0, t0 = time.process_time(), time.perf_counter()
                s.run(None, {"skeleton": x})
                times[k].append((time.perf_counter() - t0) * 1e3)
                cpu[k].append((time.process_time() - c0) * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    result = {
        "threads": args.threads, "batch": args.batch, "frames": args.frames, "rounds": args.rounds,
        "median_ms": med,
        "p90_ms": {k: sorted(v)[int(0.9 * (len(v) - 1))] for k, v in times.items()},
        # CPU time of this process per run: robust to other load on a shared machine (all threads summed)
        "median_cpu_ms": med_cpu,
        "cpu_speedup_ours_infogcn_vs_reference": med_cpu["reference_infogcn"] / med_cpu["ours_infogcn"],
        "cpu_speedup_ours_infogcn_vs_reference_guarded": (med_cpu["reference_infogcn_guarded"]
                                                          / med_cpu["ours_infogcn"]),
        "speedup_ours_infogcn_vs_reference": med["reference_infogcn"] / med["ours_infogcn"],
        "speedup_ours_crossglg_vs_reference": med["reference_infogcn"] / med["ours_crossglg"],
        "speedup_ours_infogcn_vs_reference_guarded": med["reference_infogcn_guarded"] / med["ours_infogcn"],
        "max_abs_diff_embedding_ours_vs_reference": parity,
        "params": {"reference": count_parameters(ref), "ours_infogcn": count_parameters(ours),
                   "ours_crossglg": count_parameters(full)},
        "flops_per_window": count_flops(full, (1, 3, args.frames, 25, 1)),
        "ort": ort.__version__, "torch": torch.__version__,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
