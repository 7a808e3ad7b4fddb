"""crossglg.skeleton.joint_maps.rederive / SENSOR_DERIVES on real recordings: rebuilding a family's
derived joints on a clip that family gave is a no-op; on a Kinect v2 clip it moves exactly those
joints; absent bodies and degenerate frames are never made worse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossglg.datasets import read_kard_txt
from crossglg.skeleton.joint_maps import SENSOR_DERIVES, rederive
from crossglg.skeleton.layouts import NTU25
from crossglg.skeleton.mappings import from_utd_mhad

KARD_FILE = "kard/kard_realworld/a01_s01_e01_realworld.txt"


def _targets(family: str) -> list[int]:
    return sorted({NTU25.index(r.target) for r in SENSOR_DERIVES[family]})


@pytest.mark.realdata
def test_a_kard_clip_is_its_own_openni_rederivation(data_dir: Path) -> None:
    seq = read_kard_txt(data_dir / KARD_FILE)  # (T, 1, 25, 3), derived by the OpenNI-15 rules
    np.testing.assert_allclose(rederive(seq, SENSOR_DERIVES["openni15"]), seq, atol=1e-5)


@pytest.mark.realdata
def test_a_utd_clip_is_its_own_kinect_v1_rederivation(data_dir: Path) -> None:
    from scipy.io import loadmat

    raw = loadmat(data_dir / "utd_mhad" / "Skeleton" / "a1_s1_t1_skeleton.mat")["d_skel"]  # (20, 3, T)
    seq = from_utd_mhad(np.transpose(raw, (2, 0, 1)))
    np.testing.assert_allclose(rederive(seq, SENSOR_DERIVES["kinect_v1"]), seq, atol=1e-5)


@pytest.mark.realdata
@pytest.mark.parametrize("family", sorted(SENSOR_DERIVES))
def test_on_kinect_v2_only_the_familys_derived_joints_move(ntu_sample_xyz: np.ndarray, family: str) -> None:
    seq = ntu_sample_xyz.astype(np.float32)[:, None]  # (T, 1, 25, 3) measured by Kinect v2: nothing derived
    out = rederive(seq, SENSOR_DERIVES[family])
    moved = np.flatnonzero(np.abs(out - seq).max(axis=(0, 1, 3)) > 1e-4)
    assert set(moved) <= set(_targets(family)) and moved.size >= 2
    assert np.isfinite(out).all()
    # the rebuilt joints stay on the body: within 0.25 m of where Kinect v2 measured them
    assert np.abs(out - seq).max() < 0.25


def test_absent_bodies_and_degenerate_frames_are_kept() -> None:
    rng = np.random.default_rng(0)
    seq = rng.normal(size=(6, 2, 25, 3)).astype(np.float32)
    seq[:, 1] = 0.0  # absent second body
    seq[2, 0] = 0.0  # a padded frame of the first
    seq[3, 0, [NTU25.index("HipLeft"), NTU25.index("HipRight")]] = 0.0  # no facing direction
    out = rederive(seq, SENSOR_DERIVES["openni15"])
    assert (out[:, 1] == 0).all() and (out[2, 0] == 0).all()
    assert np.isfinite(out).all()
    foot = NTU25.index("FootLeft")
    assert np.array_equal(out[3, 0, foot], seq[3, 0, foot])  # forward term undefined: joint kept
    with pytest.raises(ValueError, match=r"\(\.\.\., 25, 3\)"):
        rederive(np.zeros((4, 15, 3)), SENSOR_DERIVES["openni15"])
