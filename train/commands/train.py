"""`crossglg-train train`: train a CrossGLG (or ablation) model on a one-shot protocol.

Single process: ``crossglg-train train --config configs/realdata_cpu.yaml --data-root DATA --out runs/x``.
Several GPUs / nodes: ``torchrun --nproc_per_node=4 -m train.cli train ...`` (the global batch
``optim.batch_size`` is split across ranks). ``--resume`` continues from ``<out>/last.pt``.
"""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "Train a model (YAML config + --set overrides; checkpoints every epoch; --resume)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="YAML config (default: the paper recipe, configs/default.yaml)")
    parser.add_argument("--data-root", required=True, help="folder holding the datasets (utd_mhad/, nw_ucla/, ...)")
    parser.add_argument("--out", required=True, help="output folder (config.yaml, last.pt, final.pt, metrics)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. --set optim.lr=0.01 (repeatable)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--eval", action="store_true", help="evaluate final.pt afterwards (writes eval.json)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from train.config import load_config
    from train.prepare import load_protocol_data
    from train.trainer import run_training

    cfg = load_config(args.config, args.overrides)
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    data = load_protocol_data(cfg.data.protocol, args.data_root, cfg.data.max_per_class,
                              cache_dir=cfg.data.cache_dir or None)
    final = run_training(cfg, data, args.out, resume=args.resume, device=args.device, progress=not args.no_progress)
    print(f"final checkpoint: {final}")
    if args.eval and Path(final).is_file():
        from train.evaluate import evaluate_checkpoint, novel_k_gt, write_json

        res = evaluate_checkpoint(final, data, out_dir=args.out, k_gt=novel_k_gt(data))
        write_json(res, Path(args.out) / "eval.json")
        print(f"one-shot: cosine fixed {res['cosine']['fixed']:.3f}, DC fixed {res['dc']['fixed']:.3f}")
    return 0
