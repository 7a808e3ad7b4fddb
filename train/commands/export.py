"""`crossglg-train export`: the skeleton branch of a checkpoint -> one ONNX file with metadata.

The graph maps ``skeleton (N, C, T, V, M)`` (dynamic N) to ``embedding (N, D)`` and ``logits
(N, K_base)``; metadata (``crossglg.*``): classes, layout, T, bodies, embedding dim, preprocessing
id, weights fingerprint, model config, and the embedding centre (from the base statistics); the
per-class base statistics go to ``<out>.basestats.npz`` (:mod:`train.export_stats`).
``--check`` compares ONNX Runtime with torch on random input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "export"
HELP = "Export a checkpoint's text-free inference model to ONNX (dynamic batch, metadata)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a .pt checkpoint")
    parser.add_argument("--out", required=True, help="output .onnx file")
    parser.add_argument("--frames", type=int, default=None, help="window T of the graph (default: the checkpoint's)")
    parser.add_argument("--opset", type=int, default=18)
    parser.add_argument("--check", action="store_true", help="compare with torch (max abs diff) after export")


def export_checkpoint(path: str | Path, out: str | Path, frames: int | None = None, opset: int = 18) -> Path:
    """Export ``path``'s inference model to ``out``; returns the written path."""
    from crossglg.model.export import export_onnx
    from train.checkpoint import load_checkpoint
    from train.evaluate import load_model

    ckpt = load_checkpoint(path)
    model, cfg = load_model(ckpt)
    branch = model.inference_model().eval()
    import json

    meta = {
        "classes": json.dumps(list(ckpt["class_names"])),
        "preprocess_id": ckpt["preprocess_id"],
        "model_id": f"crossglg-{cfg.model.variant}-{ckpt.get('protocol', 'custom')}-seed{cfg.seed}",
    }
    if frames is not None and frames != ckpt["preprocess"]["frames"]:
        raise ValueError(f"--frames {frames} differs from the checkpoint's preprocessing ({ckpt['preprocess']['frames']});"
                         " the edge must window exactly as training did")
    from train.export_stats import center_metadata, write_export_sidecar

    meta.update(center_metadata(ckpt))  # the edge centres embeddings before cosine matching
    written = export_onnx(branch, out, meta, frames=frames, opset=opset)
    write_export_sidecar(written, ckpt)  # <out>.basestats.npz: distribution calibration on the edge
    return written


def parity(path: str | Path, onnx_path: str | Path, batch: int = 3) -> float:
    """Scale-relative parity: max |emb_torch - emb_onnx| / max |emb_torch| on a random batch
    ``(batch, C, T, V, M)``. Relative, because embeddings of a trained model can be large (hundreds)
    while float32 kernels differ in the last bits; cosine matching only sees relative error."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from train.checkpoint import load_checkpoint
    from train.evaluate import load_model

    model, _cfg = load_model(load_checkpoint(path))
    branch = model.inference_model().eval()
    c = branch.cfg
    x = torch.randn(batch, c.in_channels, c.frames, branch.num_joints, c.max_bodies, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = branch(x)
    ref = ref[0] if isinstance(ref, tuple) else ref
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    ref = ref.numpy()
    return float(np.abs(got - ref).max() / max(float(np.abs(ref).max()), 1e-12))


def run(args: argparse.Namespace) -> int:
    out = export_checkpoint(args.checkpoint, args.out, args.frames, args.opset)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if args.check:
        diff = parity(args.checkpoint, out)
        print(f"max |torch - onnxruntime| embedding difference, relative to max |embedding|: {diff:.2e}")
        if diff > 1e-4:
            raise ValueError(f"ONNX parity check failed: {diff:.2e} > 1e-4")
    return 0
