"""Benchmark: one training step (forward + backward) of our InfoGCN vs the reference-style InfoGCN, torch eager.

Same weights, same batch, interleaved rounds; CPU time of this process (robust on a shared box).
The reference runs as published and with our attention subnormal guard ("guarded").

    .venv/bin/python tools/bench/bench_train_step.py --threads 1 --batch 8 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from crossglg.model import ModelConfig, SkeletonBranch
from crossglg.model.reference_infogcn import ReferenceInfoGCN, to_fast_state_dict


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ref = ReferenceInfoGCN(100, num_person=1)
    guarded = ReferenceInfoGCN(100, num_person=1, flush_subnormal=True)
    guarded.load_state_dict(ref.state_dict())
    ours = SkeletonBranch(ModelConfig(num_classes=100, frames=args.frames, g2l=False))
    ours.load_state_dict(to_fast_state_dict(ref))
    x = torch.randn(args.batch, 3, args.frames, 25, 1)
    y = torch.randint(0, 100, (args.batch,))

    def ref_step(m: torch.nn.Module) -> None:
        logits, _z = m(x)
        torch.nn.functional.cross_entropy(logits, y).backward()

    def ours_step(m: SkeletonBranch) -> None:
        f = m.features(x)
        torch.nn.functional.cross_entropy(m.head.classifier(f.z), y).backward()

    runs = {"reference_infogcn": (ref, ref_step), "reference_infogcn_guarded": (guarded, ref_step),
            "ours_infogcn": (ours, ours_step)}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    for m, _ in runs.values():
        m.train()
    for _ in range(args.rounds):
        for name, (m, step) in runs.items():
            m.zero_grad(set_to_none=True)
            c0 = time.process_time()
            step(m)
            cpu[name].append(time.process_time() - c0)
    med = {k: statistics.median(v) for k, v in cpu.items()}
    print(json.dumps({
        "threads": args.threads, "batch": args.batch, "frames": args.frames, "rounds": args.rounds,
        "median_cpu_s_per_step": med,
        "samples_per_cpu_s": {k: args.batch / v for k, v in med.items()},
        "speedup_vs_reference": med["reference_infogcn"] / med["ours_infogcn"],
        "speedup_vs_reference_guarded": med["reference_infogcn_guarded"] / med["ours_infogcn"],
        "torch": torch.__version__,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
