"""`crossglg-train eval`: one-shot accuracy of a checkpoint (or of the DTW baseline).

Cosine 1-NN and distribution calibration, with the protocol's fixed exemplars and as mean and 95%
CI over ``--draws`` seeded random exemplar draws; a confusion-matrix PNG and (g2l models) the mean
k_out per novel class. ``--baseline dtw`` evaluates the non-learned DTW 1-NN instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "eval"
HELP = "One-shot evaluation of a checkpoint (cosine 1-NN + distribution calibration), or --baseline dtw."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", nargs="?", default=None, help="a .pt checkpoint (final.pt / last.pt)")
    parser.add_argument("--data-root", required=True, help="folder holding the datasets")
    parser.add_argument("--protocol", default=None, help="protocol (default: the checkpoint's; realdata for dtw)")
    parser.add_argument("--draws", type=int, default=None, help="random exemplar draws (default: the config's, 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random draws (dtw)")
    parser.add_argument("--out", default=None, help="folder for eval.json and the figures (default: next to the checkpoint)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.add_argument("--baseline", choices=["dtw"], default=None, help="evaluate a non-learned baseline instead")
    parser.add_argument("--max-novel-per-class", type=int, default=0, help="cap queries per novel class (quick checks)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])


def _print(res: dict, as_json: bool) -> None:
    if as_json:
        json.dump(res, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    for key in ("cosine", "cosine_centered", "dc", "dtw"):
        if key in res:
            r = res[key]
            rnd = r["random"]
            tail = f", random {100 * rnd['mean']:.1f} +- {100 * rnd['ci95']:.1f}% (n={rnd['n']})" if rnd else ""
            print(f"{key:15s}: fixed {100 * r['fixed']:.1f}%{tail}")


def run(args: argparse.Namespace) -> int:
    from train.evaluate import write_json
    from train.prepare import load_protocol_data

    if args.draws is not None and args.draws < 0:
        raise ValueError(f"--draws must be >= 0, got {args.draws}")
    if args.baseline == "dtw":
        from train.baselines.dtw import evaluate_dtw

        data = load_protocol_data(args.protocol or "realdata", args.data_root, 1,
                                  max_novel_per_class=args.max_novel_per_class)
        out = Path(args.out or "runs/dtw")
        res = evaluate_dtw(data, draws=20 if args.draws is None else args.draws, seed=args.seed, cache_dir=out)
        write_json(res, out / f"eval_dtw_{data.protocol.name}.json")
        _print(res, args.json)
        return 0
    if not args.checkpoint:
        raise ValueError("a checkpoint is required (or --baseline dtw)")
    from train.checkpoint import load_checkpoint
    from train.evaluate import evaluate_checkpoint, novel_k_gt

    ckpt = load_checkpoint(args.checkpoint)
    protocol = args.protocol or ckpt.get("protocol") or ckpt["config"]["data"]["protocol"]
    need_base = not ckpt.get("base_stats")
    data = load_protocol_data(protocol, args.data_root, ckpt["config"]["data"].get("max_per_class", 0) if need_base else 1,
                              max_novel_per_class=args.max_novel_per_class)
    out = Path(args.out) if args.out else Path(args.checkpoint).parent
    res = evaluate_checkpoint(args.checkpoint, data, draws=args.draws, out_dir=out, device=args.device,
                              k_gt=novel_k_gt(data))
    write_json(res, out / "eval.json")
    _print(res, args.json)
    return 0
