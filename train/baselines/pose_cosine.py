"""Resampled-pose cosine 1-NN: the simplest non-learned one-shot baseline.

Each sequence is normalised as for DTW, linearly resampled to ``frames`` (64) frames and flattened to
one vector ``(frames * V * 3,)`` (:func:`crossglg.pose_features.pose_vector`, the features the edge's
fused matcher uses too); queries take the label of the most cosine-similar exemplar. No learning, no
time warping: what a learned encoder must beat.
"""

from __future__ import annotations

import numpy as np

from crossglg.datasets.sample import Sample
from crossglg.pose_features import FRAMES, pose_vector

__all__ = ["FRAMES", "pose_cosine_features", "pose_vector"]


def pose_cosine_features(samples: list[Sample], frames: int = FRAMES) -> np.ndarray:
    """Feature matrix ``(N, frames * 75)`` of the samples, for :func:`train.oneshot_eval.cosine_predictor`."""
    return np.stack([pose_vector(s.load(), frames) for s in samples])
