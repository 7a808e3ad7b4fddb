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
    outs = [augment_train(seq, pcfg, acfg, rng)[0] for _ in range(4)]
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
    x, _ = augment_train(_walker(t=10), pcfg, AugmentConfig(crop_min=frac, crop_max=frac), np.random.default_rng(3))
    assert x.shape == (3, 8, 25, 1)


def test_mirror_label_map_swaps_only_named_sides_within_a_dataset() -> None:
    from train.augment import mirror_label_map

    names = ["irds: elbow flexion left", "irds: elbow flexion right", "utd_mhad: right hand wave",
             "kard: hand clap", "gtu3d: Left handed shaking", "gtu3d: right handed shaking", "x: leftover"]
    assert mirror_label_map(names).tolist() == [1, 0, -1, 3, 5, 4, 6]


@pytest.mark.realdata
def test_mirror_swaps_sides_and_keeps_bone_lengths(data_dir) -> None:
    """On a real right-hand wave (UTD a3): after the mirror the LEFT wrist is the one that moves."""
    from crossglg.datasets import read_utd_mat
    from train.augment import mirror_input

    seq = read_utd_mat(data_dir / "utd_mhad/Skeleton/a3_s1_t1_skeleton.mat")
    x = preprocess(seq, PreprocessConfig(frames=32))
    y = mirror_input(x)
    wrist_l, wrist_r = NTU25.index("WristLeft"), NTU25.index("WristRight")
    motion = lambda a, j: float(a[:, :, j, 0].std(axis=1).sum())  # noqa: E731
    assert motion(x, wrist_r) > 3 * motion(x, wrist_l)
    assert motion(y, wrist_l) > 3 * motion(y, wrist_r)
    np.testing.assert_allclose(np.sort(_bone_lengths(y), axis=1), np.sort(_bone_lengths(x), axis=1), atol=1e-5)
    np.testing.assert_allclose(mirror_input(y), x)


def test_transfer_augmentations_change_the_input_and_are_seeded() -> None:
    from train.augment import transfer_augment

    x = preprocess(_walker(), PreprocessConfig(frames=16, max_bodies=2))
    assert not x[..., 1].any()  # body 1 absent
    acfg = AugmentConfig(scale=0.2, shear=0.2, jitter=0.01, bone_jitter=0.02, joint_drop=0.2)
    a = transfer_augment(x.copy(), acfg, np.random.default_rng(5))
    b = transfer_augment(x.copy(), acfg, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all() and not np.allclose(a, x) and not a[..., 1].any()  # absent stays absent
    off = transfer_augment(x.copy(), AugmentConfig(), np.random.default_rng(5))
    np.testing.assert_array_equal(off, x)
    # joint drop: a dropped chain sits on its nearest kept ancestor (all dropped: on the root)
    drop_all = transfer_augment(x.copy(), AugmentConfig(joint_drop=1.0), np.random.default_rng(0))
    root = NTU25.parents.index(-1)
    np.testing.assert_allclose(drop_all[..., 0], np.repeat(x[:, :, root : root + 1, 0], 25, axis=2))


def test_old_configs_reproduce_their_batches() -> None:
    """New augmentation fields at 0 draw nothing: an old config's batches are unchanged."""
    seq, pcfg = _walker(), PreprocessConfig(frames=16)
    a, _ = augment_train(seq, pcfg, AugmentConfig(), np.random.default_rng([0, 1, 2]))
    length = len(range(3, 50))
    rng = np.random.default_rng([0, 1, 2])
    crop = random_crop(length, 0.5, 1.0, rng)
    ref = rotate(preprocess(seq, pcfg, crop=crop), rotation_matrix(rng.uniform(-0.3, 0.3, size=3)))
    np.testing.assert_array_equal(a, ref)


def test_relayout_rebuilds_one_sensor_familys_joints_and_draws_nothing_when_off() -> None:
    from crossglg.skeleton.joint_maps import SENSOR_DERIVES, rederive
    from train.augment import SENSOR_FAMILIES, relayout

    seq = _walker()
    rng = np.random.default_rng(3)
    assert relayout(seq, 0.0, rng) is seq
    assert rng.random() == np.random.default_rng(3).random()  # p = 0 consumed nothing
    options = {f: rederive(seq, SENSOR_DERIVES[f]) for f in SENSOR_FAMILIES}
    seen = set()
    for seed in range(30):
        out = relayout(seq, 1.0, np.random.default_rng(seed))
        match = [f for f, o in options.items() if np.array_equal(o, out, equal_nan=True)]
        assert len(match) == 1
        seen.add(match[0])
    assert seen == set(SENSOR_FAMILIES)
    x, _ = augment_train(seq, PreprocessConfig(frames=16), AugmentConfig(relayout=1.0), np.random.default_rng(0))
    assert x.shape == (3, 16, 25, 1) and np.isfinite(x).all()
