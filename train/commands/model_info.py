"""``crossglg-train model-info``: parameter counts of the training and inference models, FLOPs per window.

JSON keys (``--json``): training_params, inference_params, flops_per_window, encoder, num_classes,
layout, frames, bodies, text_dim, g2l, l2g, and a per-part breakdown under ``parts``.
FLOPs: one eval forward of the inference model on ``(1, C, frames, V, bodies)``, 2 per multiply-add
(matmuls and convolutions), counted by ``torch.utils.flop_counter``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

NAME = "model-info"
HELP = "Print parameter counts (training / inference model) and FLOPs per window."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--num-classes", type=int, default=100, help="classes of the shared classifier (default 100)")
    p.add_argument("--encoder", default="infogcn", help="encoder registry name (infogcn, stgcn)")
    p.add_argument("--layout", default="ntu25", help="skeleton layout (ntu25, kinetics18)")
    p.add_argument("--frames", type=int, default=64, help="window length T for the FLOP count (default 64)")
    p.add_argument("--bodies", type=int, default=1, help="bodies M per window (default 1)")
    p.add_argument("--text-dim", type=int, default=384, help="joint text feature width D (default 384)")
    p.add_argument("--no-g2l", action="store_true", help="switch global-to-local guidance (JID) off")
    p.add_argument("--no-l2g", action="store_true", help="switch local-to-global guidance (cross-modal) off")
    p.add_argument("--json", action="store_true", help="print JSON")


def model_info(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from crossglg.model import CrossGLGModel, ModelConfig, count_flops, count_parameters

    torch.manual_seed(0)
    cfg = ModelConfig(encoder=args.encoder, num_classes=args.num_classes, layout=args.layout, frames=args.frames,
                      max_bodies=args.bodies, text_dim=args.text_dim, g2l=not args.no_g2l, l2g=not args.no_l2g)
    model = CrossGLGModel(cfg)
    infer = model.inference_model()
    shape = (1, cfg.in_channels, cfg.frames, infer.num_joints, cfg.max_bodies)
    parts = {
        "encoder": count_parameters(infer.encoder),
        "jid": count_parameters(infer.jid) if infer.jid is not None else 0,
        "head": count_parameters(infer.head),
        "cross_modal": count_parameters(model.cross_modal) if model.cross_modal is not None else 0,
    }
    return {
        "training_params": count_parameters(model),
        "inference_params": count_parameters(infer),
        "flops_per_window": count_flops(infer, shape),
        "encoder": cfg.encoder,
        "num_classes": cfg.num_classes,
        "layout": cfg.layout,
        "frames": cfg.frames,
        "bodies": cfg.max_bodies,
        "text_dim": cfg.text_dim,
        "g2l": cfg.g2l,
        "l2g": cfg.l2g,
        "parts": parts,
    }


def run(args: argparse.Namespace) -> int:
    info = model_info(args)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"encoder {info['encoder']}, layout {info['layout']}, {info['num_classes']} classes, "
          f"T={info['frames']}, M={info['bodies']}, g2l={info['g2l']}, l2g={info['l2g']}")
    print(f"training model parameters:  {info['training_params']:,}")
    print(f"inference model parameters: {info['inference_params']:,}")
    for k, v in info["parts"].items():
        print(f"  {k:12s} {v:,}")
    print(f"FLOPs per window:           {info['flops_per_window'] / 1e9:.3f} G")
    return 0
