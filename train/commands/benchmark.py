"""`crossglg-train benchmark`: one checkpoint on every real-data one-shot protocol, next to DTW 1-NN
and resampled-pose cosine on the same episodes, plus the ranking decision (DC or centred cosine),
the open-set part and its calibration for a target false-accept rate; writes the JSON (and the
open-set episodes), the markdown table (with --docs, into that file's benchmark block) and, with
--calibrate-into, the calibrated values and the ranking into ONNX models."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

NAME = "benchmark"
HELP = "one-shot benchmark of a checkpoint on several real-data protocols against non-learned baselines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from crossglg.open_set import DEFAULTS
    from train.benchmark_protocols import BENCHMARK

    parser.add_argument("checkpoint", nargs="?", default=None, help="a final.pt (or last.pt) trained on none of "
                        "the protocols' novel classes (e.g. protocol bench-heldout); omit with --baselines-only")
    parser.add_argument("--baselines-only", action="store_true", help="score only the non-learned baselines")
    parser.add_argument("--data-root", required=True, help="folder holding the datasets")
    parser.add_argument("--protocols", nargs="+", default=list(BENCHMARK), choices=list(BENCHMARK), metavar="NAME",
                        help=f"protocols to run (default: all: {', '.join(BENCHMARK)})")
    parser.add_argument("--draws", type=int, default=20, help="random exemplar draws per protocol (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=DEFAULTS.threshold,
                        help="open set: reference threshold reported next to the calibrated one (default: the "
                             "edge's built-in %(default)s)")  # fmt: skip
    parser.add_argument("--margin", type=float, default=DEFAULTS.margin,
                        help="open set: reference cosine margin (default: %(default)s)")
    parser.add_argument("--dc-margin", type=float, default=DEFAULTS.dc_margin,
                        help="open set: reference DC probability margin (default: %(default)s)")
    parser.add_argument("--open-set-draws", type=int, default=30, metavar="N",
                        help="open-set episodes per protocol (default: %(default)s; 0: no open-set part)")
    parser.add_argument("--open-set-dc-samples", type=int, default=None, metavar="N",
                        help="open set: DC samples per exemplar (default: the edge's own setting, "
                             "which the calibration is for; fewer only for quick checks)")  # fmt: skip
    parser.add_argument("--target-far", type=float, default=0.1, metavar="F",
                        help="calibrate the open-set values for a pooled false-accept rate <= F on never-enrolled "
                             "classes (default: %(default)s)")  # fmt: skip
    parser.add_argument("--calibrate-into", action="append", default=[], metavar="MODEL.onnx",
                        help="store the calibrated values in this ONNX model's metadata (repeatable); "
                             "`crossglg-train calibrate-open-set` does it later from benchmark.json")  # fmt: skip
    parser.add_argument("--out", default="runs/benchmark", help="folder for benchmark.json, benchmark.md and "
                        "the DTW caches (default: %(default)s)")
    parser.add_argument("--dtw-cache", default=None, metavar="DIR",
                        help="folder of the DTW distance caches (default: --out); another model's benchmark can "
                             "reuse one folder's matrices (they depend on the data only, ~20 min to build)")  # fmt: skip
    parser.add_argument("--docs", default=None, metavar="FILE.md", help="also write the table into this file "
                        "(between <!-- bench:SECTION --> markers), e.g. docs/results.md")
    parser.add_argument("--max-novel-per-class", type=int, default=0, metavar="N",
                        help="cap the queries per novel class (quick checks; 0 = all, the reported figures)")
    parser.add_argument("--section", default="starter", help="marker name in --docs (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from crossglg.open_set import OpenSetParams
    from edge.calibration import DCConfig
    from train.benchmark import (
        METHODS,
        OpenSetConfig,
        evaluate_protocol,
        markdown,
        save_json,
        summary,
        write_section,
    )
    from train.benchmark_results import results_document
    from train.open_set_eval import calibrate, choose_ranking, concat, save_episodes
    from train.open_set_meta import EPISODES_FILE, attach_fusion, describe, write_open_set

    if (args.checkpoint is None) != args.baselines_only:
        raise ValueError("give a checkpoint, or --baselines-only without one")
    if args.draws < 1 or args.open_set_draws < 0:
        raise ValueError(f"--draws must be >= 1 and --open-set-draws >= 0, got {args.draws} and {args.open_set_draws}")
    if args.calibrate_into and args.open_set_draws == 0:
        raise ValueError("--calibrate-into needs open-set episodes (--open-set-draws >= 1)")
    if not 0.0 <= args.target_far <= 1.0:
        raise ValueError(f"--target-far must be in [0, 1], got {args.target_far}")
    if args.calibrate_into and args.baselines_only:
        raise ValueError("--calibrate-into needs a checkpoint (a --baselines-only run has no open-set part)")
    missing = [m for m in args.calibrate_into if not Path(m).is_file()]
    if missing:  # said before the long run, not after it
        raise ValueError(f"--calibrate-into: no such model file: {', '.join(missing)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dtw_cache = Path(args.dtw_cache) if args.dtw_cache else out
    dtw_cache.mkdir(parents=True, exist_ok=True)
    reference = OpenSetParams(args.threshold, args.margin, args.dc_margin)
    dc = DCConfig() if args.open_set_dc_samples is None else DCConfig(samples=args.open_set_dc_samples)
    open_cfg = OpenSetConfig(reference=reference, draws=args.open_set_draws, dc=dc)
    words = [args.checkpoint or "--baselines-only", "--data-root", args.data_root, "--draws", str(args.draws),
             "--open-set-draws", str(args.open_set_draws), "--target-far", f"{args.target_far:g}",
             "--protocols", *args.protocols]  # fmt: skip
    if args.max_novel_per_class:
        words += ["--max-novel-per-class", str(args.max_novel_per_class)]
    if args.open_set_dc_samples is not None:
        words += ["--open-set-dc-samples", str(args.open_set_dc_samples)]
    command = "crossglg-train benchmark " + shlex.join(words)
    results, episodes = [], []
    for name in tqdm(args.protocols, desc="protocols", file=sys.stderr):
        r, ep = evaluate_protocol(args.checkpoint, name, args.data_root, args.draws, args.seed, dtw_cache, open_cfg,
                                  args.max_novel_per_class)  # fmt: skip
        results.append(r)
        if ep is not None:
            episodes.append(ep)
        # partial results survive an interrupted run
        save_json(results_document(results, None, args.checkpoint, command), out / "benchmark.json")
        print(f"{name}: " + ", ".join(f"{m} {100 * r[m]['random']['mean']:.1f}" for m in METHODS if m in r),
              flush=True)
    cal = None
    if episodes:
        pooled = concat(episodes)
        save_episodes(pooled, out / EPISODES_FILE)
        cal = attach_fusion(calibrate(pooled, args.target_far, reference, choose_ranking(results)), results)
        cal["source"] = (f"benchmark of {args.checkpoint}: {', '.join(args.protocols)}, "
                         f"{pooled.count} episodes")  # fmt: skip
        save_json(results_document(results, cal, args.checkpoint, command), out / "benchmark.json")
        p, rk = cal["params"], cal["ranking"]
        if rk["dc_mean"] is not None:
            means = ", ".join(f"{m} {100 * rk[f'{m}_mean']:.1f}" for m in ("dc", "cosine_centered", "fused")
                              if rk.get(f"{m}_mean") is not None)  # fmt: skip
            print(f"ranking: {rk['chosen']} (random-draw mean over {len(rk['protocols'])} protocol(s): {means})",
                  flush=True)  # fmt: skip
        print(f"open set: threshold {p['threshold']:g}, margin {p['margin']:g}, DC margin {p['dc_margin']:g} for "
              f"false accepts <= {100 * args.target_far:g}%"
              f"{'' if cal['target_met'] else ' (target NOT reached on the grid)'}", flush=True)  # fmt: skip
        for model in args.calibrate_into:
            print(f"wrote open-set values into {model}: {describe(write_open_set(model, cal))}", flush=True)
    table = markdown(results, args.checkpoint, command, cal)
    (out / "benchmark.md").write_text(table, encoding="utf-8")
    if args.docs:
        write_section(args.docs, args.section, table)
    s = summary(results)
    if not s["rows"]:
        return 0
    print(f"mean gap, best learned - best baseline: {100 * s['mean_gap']:+.1f} points; "
          f"wins on every protocol: {'yes' if s['wins_everywhere'] else 'no'}")
    return 0
