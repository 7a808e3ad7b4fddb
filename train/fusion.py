"""Score fusion for a trained checkpoint: its fusion weight from base-class clips, and the fused
1-NN predictor the benchmark scores (the edge matcher's formula, :mod:`crossglg.pose_features`).

The weight is set from the model's own training classes, never from a benchmark protocol's novel
classes: the spread (off-diagonal standard deviation) of the centred-cosine similarities of base
clips' embeddings and that of their pose-feature cosines, and the prior ``w = 0.5`` (each score
counts the same once divided by its spread). ``w`` is not tuned on the test protocols; the
exploration of other weights is ``tools/explore_fusion.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossglg.oneshot import centered, l2_normalize
from crossglg.pose_features import FRAMES, Fusion, fuse, fusion_weight, off_diagonal_std, pose_matrix

from .oneshot_eval import Predictor, distance_predictor

BASE_PER_CLASS = 4  # base clips per training class the spreads are measured on
PRIOR_W = 0.5


def fusion_from_base(feats: np.ndarray, center: np.ndarray | None, poses: np.ndarray, w: float = PRIOR_W,
                     source: str = "") -> Fusion:  # fmt: skip
    """The fusion of a model from base clips: embeddings ``feats (N, D)``, its ``center (D,)``, the
    clips' pose features ``poses (N, P)`` (N >= 2)."""
    if feats.shape[0] != poses.shape[0]:
        raise ValueError(f"fusion: {feats.shape[0]} embeddings but {poses.shape[0]} pose features")
    if not (np.isfinite(feats).all() and np.isfinite(poses).all()):
        raise ValueError("fusion: the base clips' embeddings or pose features are not finite (a degenerate model?)")
    s_l = off_diagonal_std(centered(feats, center))
    s_p = off_diagonal_std(poses)
    if not (s_l > 1e-6 and s_p > 1e-6):
        raise ValueError(f"fusion: the base clips' similarities do not spread (learned {s_l:.2g}, pose {s_p:.2g}): "
                         "no weight can be set")  # fmt: skip
    return Fusion(fusion_weight(s_l, s_p, w), FRAMES, spreads=(s_l, s_p), w=w,
                  source=source or f"spreads of {feats.shape[0]} base clips, w={w:g}")  # fmt: skip


def fused_similarity(feats: np.ndarray, center: np.ndarray | None, poses: np.ndarray, weight: float) -> np.ndarray:
    """Fused similarity ``(N, N)`` of clips with embeddings ``(N, D)`` and pose features ``(N, P)``."""
    e = l2_normalize(centered(feats, center))
    p = l2_normalize(poses)
    return fuse(e @ e.T, p @ p.T, weight)


def fused_predictor(feats: np.ndarray, center: np.ndarray | None, poses: np.ndarray, labels: np.ndarray,
                    weight: float) -> Predictor:  # fmt: skip
    """1-NN over the fused similarity, in :func:`train.oneshot_eval.evaluate_predictor`'s form."""
    return distance_predictor(-fused_similarity(feats, center, poses, weight), labels)


def base_fusion(ckpt: dict, model, cfg, data_root: str | Path, center: np.ndarray | None,  # noqa: ANN001
                per_class: int = BASE_PER_CLASS) -> Fusion:  # fmt: skip
    """The fusion of a loaded checkpoint (``model`` from :func:`train.evaluate.load_model`, its
    ``cfg``) from ``per_class`` clips of each of its training classes under ``data_root``."""
    import torch

    from .prepare import embed, load_protocol_data, make_dataset

    own = load_protocol_data(ckpt["protocol"], data_root, max_per_class=per_class)
    with torch.inference_mode():
        feats, _ = embed(model.inference_model(), make_dataset(own.train, own.train_labels, cfg, train=False),
                         torch.device("cpu"))  # fmt: skip
    poses = pose_matrix([s.load() for s in own.train])
    return fusion_from_base(feats, center, poses, source=f"spreads of {len(own.train)} clips of protocol "
                                                         f"{ckpt['protocol']} ({per_class} per base class), w={PRIOR_W:g}")


def checkpoint_fusion(ckpt_path: str | Path, data_root: str | Path, per_class: int = BASE_PER_CLASS) -> Fusion:
    """:func:`base_fusion` of a checkpoint file (its centre from its base statistics; a checkpoint
    without them, e.g. ``last.pt``, is refused: its centre would be guessed)."""
    from crossglg.oneshot import center_from_stats

    from .checkpoint import load_checkpoint
    from .evaluate import load_model, stats_from_checkpoint

    ckpt = load_checkpoint(ckpt_path, map_location="cpu")
    stats = stats_from_checkpoint(ckpt)
    if stats is None:
        raise ValueError(f"{ckpt_path}: no base statistics (not a final checkpoint?): its embedding centre is unknown")
    model, cfg = load_model(ckpt, "cpu")
    return base_fusion(ckpt, model, cfg, data_root, center_from_stats(stats), per_class)
