"""Give a weights-only checkpoint its base statistics again, so it can be exported and shipped.

    python tools/add_base_stats.py checkpoints/bench_heldout_s0/model.pt --data-root ../shared/data \
        --out runs/bench_heldout_s0/final.pt

Parked checkpoints (``checkpoints/*/model.pt``) keep the weights, config and class names but not the
per-class statistics of ``final.pt`` (they are recomputable and ~20 MB). This recomputes them as
training's last step does (:func:`train.trainer.compute_base_stats`: embeddings of every training
clip of the checkpoint's own protocol, test transform) and writes a ``final.pt``-shaped checkpoint
(atomic; ``torch.load(weights_only=True)`` reads it). The weights are not touched.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def add_base_stats(ckpt_path: Path, data_root: Path, out: Path, progress: bool = True,
                   max_per_class: int | None = None) -> dict:  # fmt: skip
    """Load ``ckpt_path``, compute its base statistics on its protocol under ``data_root`` (at most
    ``max_per_class`` clips per class; None: as it was trained), save to ``out``."""
    import torch

    from train.checkpoint import load_checkpoint, save_checkpoint
    from train.evaluate import load_model
    from train.prepare import load_protocol_data
    from train.trainer import compute_base_stats

    ckpt = load_checkpoint(ckpt_path, map_location="cpu")
    if ckpt.get("base_stats"):
        raise SystemExit(f"add_base_stats: {ckpt_path} has base statistics already; nothing to do")
    model, cfg = load_model(ckpt, "cpu")
    cap = cfg.data.max_per_class if max_per_class is None else max_per_class
    data = load_protocol_data(ckpt["protocol"], data_root, max_per_class=cap)
    if list(data.base_names) != list(ckpt["class_names"]):
        raise SystemExit(f"add_base_stats: the data under {data_root} gives other base classes for protocol "
                         f"{ckpt['protocol']} than {ckpt_path} was trained on")  # fmt: skip
    with torch.inference_mode():
        ckpt["base_stats"] = compute_base_stats(model, data, cfg, torch.device("cpu"), progress)
    save_checkpoint(out, ckpt)
    return ckpt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--data-root", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="the final.pt to write")
    ap.add_argument("--max-per-class", type=int, default=None, metavar="N",
                    help="clips per base class (default: the training config's cap, i.e. the statistics final.pt had)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    ckpt = add_base_stats(args.checkpoint, args.data_root, args.out, not args.no_progress, args.max_per_class)
    n = len(ckpt["base_stats"]["classes"])
    print(f"wrote {args.out}: {n} base classes' statistics of protocol {ckpt['protocol']} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
