"""Resampled-pose cosine 1-NN: the simplest non-learned one-shot baseline.

Each sequence is normalised as for DTW (:func:`train.baselines.dtw.normalize_for_dtw`: centred on the
first frame's hip centre, scaled by the torso length, hip line rotated onto x), linearly resampled to
``frames`` (64) frames and flattened to one vector ``(frames * V * 3,)``; queries take the label of
the most cosine-similar exemplar. No learning, no time warping: what a learned encoder must beat.
"""

from __future__ import annotations

import numpy as np

from crossglg.datasets.sample import Sample
from crossglg.preprocess import resample

from .dtw import normalize_for_dtw

FRAMES = 64


def pose_vector(seq: np.ndarray, frames: int = FRAMES) -> np.ndarray:
    """Raw ``(T, M, 25, 3)`` -> normalised, resampled, flattened main body ``(frames * 75,)`` float32."""
    return resample(normalize_for_dtw(seq), frames).reshape(-1).astype(np.float32)


def pose_cosine_features(samples: list[Sample], frames: int = FRAMES) -> np.ndarray:
    """Feature matrix ``(N, frames * 75)`` of the samples, for :func:`train.oneshot_eval.cosine_predictor`."""
    return np.stack([pose_vector(s.load(), frames) for s in samples])
