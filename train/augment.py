"""InfoGCN's augmentation on top of the one preprocessing function (numpy).

Train: crop a random 50-100% of the valid frames (random start), let :func:`crossglg.preprocess.
preprocess` resample the crop to T, then rotate by random angles in +-0.3 rad about x, y and z.
Test: a centred crop of 95% of the valid frames, no rotation.
"""

from __future__ import annotations

import numpy as np

from crossglg.preprocess import PreprocessConfig, preprocess, select_bodies, valid_range, validate_sequence
from crossglg.skeleton.layouts import NTU25, Layout

from .config import AugmentConfig


def valid_length(seq: np.ndarray, cfg: PreprocessConfig, layout: Layout = NTU25) -> int:
    """Number of frames in the valid range that :func:`preprocess` crops inside."""
    arr = select_bodies(validate_sequence(seq, layout), cfg.max_bodies)
    start, stop = valid_range(arr)
    return stop - start


def random_crop(length: int, lo: float, hi: float, rng: np.random.Generator) -> tuple[int, int]:
    """A random window ``(start, stop)`` of ``lo..hi`` of ``length`` frames (at least 1 frame)."""
    frac = rng.uniform(lo, hi)
    size = int(np.clip(round(frac * length), 1, length))
    start = int(rng.integers(0, length - size + 1))
    return start, start + size


def centre_crop(length: int, frac: float) -> tuple[int, int]:
    """The centred window of ``frac`` of ``length`` frames."""
    size = int(np.clip(round(frac * length), 1, length))
    start = (length - size) // 2
    return start, start + size


def rotation_matrix(angles: np.ndarray) -> np.ndarray:
    """``(3,)`` angles (rad) about x, y, z -> ``(3, 3)`` float32 rotation ``Rz @ Ry @ Rx``."""
    ax, ay, az = (float(a) for a in angles)
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return (rz @ ry @ rx).astype(np.float32)


def rotate(x: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Rotate a model input ``(3, T, V, M)`` by ``rot (3, 3)``; zero (absent) joints stay zero."""
    return np.einsum("ij,jtvm->itvm", rot, x).astype(np.float32)


def augment_train(
    seq: np.ndarray,
    pcfg: PreprocessConfig,
    acfg: AugmentConfig,
    rng: np.random.Generator,
    layout: Layout = NTU25,
) -> np.ndarray:
    """Raw ``(T, M, V, 3)`` -> augmented model input ``(3, pcfg.frames, V, pcfg.max_bodies)``."""
    if not acfg.enabled:
        return preprocess(seq, pcfg, layout)
    length = valid_length(seq, pcfg, layout)
    crop = random_crop(length, acfg.crop_min, acfg.crop_max, rng)
    x = preprocess(seq, pcfg, layout, crop=crop)
    if acfg.rotate > 0 and layout.channels == "xyz":
        x = rotate(x, rotation_matrix(rng.uniform(-acfg.rotate, acfg.rotate, size=3)))
    return x


def transform_test(
    seq: np.ndarray, pcfg: PreprocessConfig, acfg: AugmentConfig, layout: Layout = NTU25
) -> np.ndarray:
    """Raw ``(T, M, V, 3)`` -> deterministic model input (centre crop ``acfg.test_crop``)."""
    if not acfg.enabled or acfg.test_crop >= 1.0:
        return preprocess(seq, pcfg, layout)
    length = valid_length(seq, pcfg, layout)
    return preprocess(seq, pcfg, layout, crop=centre_crop(length, acfg.test_crop))
