"""InfoGCN augmentation on real UTD-MHAD-like shapes: shapes, finiteness, rigid rotation."""

from __future__ import annotations

import numpy as np
import pytest

from crossglg.preprocess import PreprocessConfig, preprocess
from crossglg.skeleton.layouts import NTU25
from train.augment import augment_train, centre_crop, random_crop, rotate, rotation_matrix, transform_test
from train.config import AugmentConfig


def _walker(t: int = 50, seed: int = 0) -> np.ndarray:
    """A moving skeleton (T, 1, 25, 3) built from random bone vectors along the NTU tree, NaN-padded."""
    rng = np.random.default_rng(seed)
    seq = np.zeros((t, 1, 25, 3), np.float32)
    bones = rng.normal(scale=0.15, size=(25, 3))
    for f in range(t):
        wob = 0.05 * np.sin(f / 5 + np.arange(25))[:, None]
        order = sorted(range(25), key=lambda j: 0 if NTU25.parents[j] < 0 else 1 + _depth(j))
        for j in order:
            p = NTU25.parents[j]
            seq[f, 0, j] = (seq[f, 0, p] if p >= 0 else np.array([0.01 * f, 0, 2.0])) + bones[j] + wob[j]
    seq[:3] = np.nan  # leading frames without a body
    return seq


def _depth(j: int) -> int:
    d = 0
    while NTU25.parents[j] >= 0:
        j = NTU25.parents[j]
        d += 1
    return d


def _bone_lengths(x: np.ndarray) -> np.ndarray:
    """(3, T, V, M) -> (T, E) bone lengths of body 0."""
    body = x[:, :, :, 0].transpose(1, 2, 0)
    return np.stack([np.linalg.norm(body[:, c] - body[:, p], axis=-1) for c, p in NTU25.edges], axis=1)


def test_crops_stay_inside() -> None:
    rng = np.random.default_rng(1)
    for length in (1, 2, 7, 100):
        for _ in range(50):
            a, b = random_crop(length, 0.5, 1.0, rng)
            assert 0 <= a < b <= length and b - a >= max(1, round(0.5 * length) - 1)
    assert centre_crop(100, 0.95) == (2, 97)


def test_rotation_is_orthonormal_and_rigid() -> None:
    rot = rotation_matrix(np.array([0.3, -0.2, 0.1]))
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-6)
    x = preprocess(_walker(), PreprocessConfig(frames=16))
    y = rotate(x, rot)
    np.testing.assert_allclose(_bone_lengths(y), _bone_lengths(x), rtol=1e-5, atol=1e-6)
    assert not np.allclose(x, y)


def test_augment_train_shapes_finite_and_random() -> None:
    pcfg, acfg = PreprocessConfig(frames=16, max_bodies=2), AugmentConfig()
    rng = np.random.default_rng(0)
    seq = _walker()
    outs = [augment_train(seq, pcfg, acfg, rng) for _ in range(4)]
    for x in outs:
        assert x.shape == (3, 16, 25, 2) and x.dtype == np.float32 and np.isfinite(x).all()
        assert np.all(x[..., 1] == 0)  # the missing second body stays zero
    assert not np.allclose(outs[0], outs[1])
    # bone lengths (relative to the unaugmented resampled clip's scale) are preserved by rotation:
    # compare the median over time, since the crop changes which frames are seen
    ref = np.median(_bone_lengths(preprocess(seq, pcfg)), axis=0)
    np.testing.assert_allclose(np.median(_bone_lengths(outs[0]), axis=0), ref, rtol=0.15)


def test_test_transform_is_deterministic() -> None:
    pcfg, acfg = PreprocessConfig(frames=16), AugmentConfig()
    a = transform_test(_walker(), pcfg, acfg)
    b = transform_test(_walker(), pcfg, acfg)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 16, 25, 1)
    off = transform_test(_walker(), pcfg, AugmentConfig(enabled=False))
    np.testing.assert_array_equal(off, preprocess(_walker(), pcfg))


@pytest.mark.parametrize("frac", [0.5, 1.0])
def test_crop_bounds_are_accepted_by_preprocess(frac: float) -> None:
    pcfg = PreprocessConfig(frames=8)
    x = augment_train(_walker(t=10), pcfg, AugmentConfig(crop_min=frac, crop_max=frac), np.random.default_rng(3))
    assert x.shape == (3, 8, 25, 1)
