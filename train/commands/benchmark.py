"""`crossglg-train benchmark`: one checkpoint on every real-data one-shot protocol, next to DTW 1-NN
and resampled-pose cosine on the same episodes, plus the open-set part; writes the JSON and the
markdown table (and, with --docs, replaces the benchmark block in that file)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

NAME = "benchmark"
HELP = "one-shot benchmark of a checkpoint on several real-data protocols against non-learned baselines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from train.benchmark_protocols import BENCHMARK

    parser.add_argument("checkpoint", nargs="?", default=None, help="a final.pt (or last.pt) trained on none of "
                        "the protocols' novel classes (e.g. protocol bench-heldout); omit with --baselines-only")
    parser.add_argument("--baselines-only", action="store_true", help="score only the non-learned baselines")
    parser.add_argument("--data-root", required=True, help="folder holding the datasets")
    parser.add_argument("--protocols", nargs="+", default=list(BENCHMARK), choices=list(BENCHMARK), metavar="NAME",
                        help=f"protocols to run (default: all: {', '.join(BENCHMARK)})")
    parser.add_argument("--draws", type=int, default=20, help="random exemplar draws per protocol (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=0.5, help="open-set score threshold (default: %(default)s)")
    parser.add_argument("--margin", type=float, default=0.05, help="open-set top-1 minus top-2 margin (default: %(default)s)")
    parser.add_argument("--out", default="runs/benchmark", help="folder for benchmark.json, benchmark.md and "
                        "the DTW caches (default: %(default)s)")
    parser.add_argument("--docs", default=None, metavar="FILE.md", help="also write the table into this file "
                        "(between <!-- bench:SECTION --> markers), e.g. docs/results.md")
    parser.add_argument("--max-novel-per-class", type=int, default=0, metavar="N",
                        help="cap the queries per novel class (quick checks; 0 = all, the reported figures)")
    parser.add_argument("--section", default="starter", help="marker name in --docs (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from train.benchmark import (
        METHODS,
        OpenSetConfig,
        evaluate_protocol,
        markdown,
        save_json,
        summary,
        write_section,
    )

    if (args.checkpoint is None) != args.baselines_only:
        raise ValueError("give a checkpoint, or --baselines-only without one")
    if args.draws < 1:
        raise ValueError(f"--draws must be >= 1, got {args.draws}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    open_cfg = OpenSetConfig(threshold=args.threshold, margin=args.margin)
    results = []
    for name in tqdm(args.protocols, desc="protocols", file=sys.stderr):
        r = evaluate_protocol(args.checkpoint, name, args.data_root, args.draws, args.seed, out, open_cfg,
                              args.max_novel_per_class)
        results.append(r)
        save_json(results, out / "benchmark.json")  # partial results survive an interrupted run
        print(f"{name}: " + ", ".join(f"{m} {100 * r[m]['random']['mean']:.1f}" for m in METHODS if m in r),
              flush=True)
    words = [args.checkpoint or "--baselines-only", "--data-root", args.data_root, "--draws", str(args.draws), "--protocols", *args.protocols]
    if args.max_novel_per_class:
        words += ["--max-novel-per-class", str(args.max_novel_per_class)]
    command = "crossglg-train benchmark " + shlex.join(words)
    table = markdown(results, args.checkpoint, command)
    (out / "benchmark.md").write_text(table, encoding="utf-8")
    if args.docs:
        write_section(args.docs, args.section, table)
    s = summary(results)
    if not s["rows"]:
        return 0
    print(f"mean gap, best learned - best baseline: {100 * s['mean_gap']:+.1f} points; "
          f"wins on every protocol: {'yes' if s['wins_everywhere'] else 'no'}")
    return 0
