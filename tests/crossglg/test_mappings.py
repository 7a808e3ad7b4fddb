"""Mappings to NTU-25: exact joint placement on generated data, physical plausibility on real data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from core_loaders import load_ucla_raw, load_utd_raw

from crossglg.skeleton.layouts import NTU25
from crossglg.skeleton.mappings import (
    HANDTIP_EXTENSION,
    NECK_RATIO,
    THUMB_EXTENSION,
    from_kinect_v1,
    from_mediapipe33,
    from_utd_mhad,
    mediapipe_visibility_to_ntu,
    mediapipe_world_to_camera,
)

J = {name: i for i, name in enumerate(NTU25.joints)}
# Long bones (child, parent) as NTU indices: upper arms, forearms, thighs, shins; left then right.
LIMBS_LEFT = [(J["ElbowLeft"], J["ShoulderLeft"]), (J["WristLeft"], J["ElbowLeft"]),
              (J["KneeLeft"], J["HipLeft"]), (J["AnkleLeft"], J["KneeLeft"])]  # fmt: skip
LIMBS_RIGHT = [(J["ElbowRight"], J["ShoulderRight"]), (J["WristRight"], J["ElbowRight"]),
               (J["KneeRight"], J["HipRight"]), (J["AnkleRight"], J["KneeRight"])]  # fmt: skip

V1_NAMES = (
    "HipCenter", "Spine", "ShoulderCenter", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
)  # fmt: skip
V1_TO_NTU_NAME = {"HipCenter": "SpineBase", "Spine": "SpineMid", "ShoulderCenter": "SpineShoulder"}


def _coded(joints: int, lead: tuple[int, ...] = ()) -> np.ndarray:
    """Array ``(*lead, joints, 3)`` whose joint j holds (j, 10 j, 100 + j): each joint identifiable."""
    j = np.arange(joints, dtype=np.float32)
    base = np.stack([j, 10 * j, 100 + j], axis=-1)
    return np.broadcast_to(base, lead + base.shape).copy()


def _bone_lengths(seq: np.ndarray, bones: list[tuple[int, int]]) -> np.ndarray:
    """``(T, 25, 3)`` -> ``(T, len(bones))``."""
    return np.stack([np.linalg.norm(seq[:, c] - seq[:, p], axis=-1) for c, p in bones], axis=1)


# --- generated fixtures -------------------------------------------------------------------------


def test_kinect_v1_joints_land_on_ntu_names() -> None:
    src = _coded(20, lead=(4, 2))
    out = from_kinect_v1(src)
    assert out.shape == (4, 2, 25, 3) and out.dtype == np.float32
    for k, name in enumerate(V1_NAMES):
        np.testing.assert_array_equal(out[..., J[V1_TO_NTU_NAME.get(name, name)], :], src[..., k, :])


def test_kinect_v1_derived_joints() -> None:
    rng = np.random.default_rng(1)
    src = rng.normal(size=(5, 20, 3)).astype(np.float32)
    out = from_kinect_v1(src)
    neck = out[:, J["SpineShoulder"]] + NECK_RATIO * (out[:, J["Head"]] - out[:, J["SpineShoulder"]])
    np.testing.assert_allclose(out[:, J["Neck"]], neck, atol=1e-6)
    for side in ("Left", "Right"):
        wrist, hand = out[:, J["Wrist" + side]], out[:, J["Hand" + side]]
        np.testing.assert_allclose(out[:, J["HandTip" + side]], hand + HANDTIP_EXTENSION * (hand - wrist), atol=1e-5)
        np.testing.assert_allclose(out[:, J["Thumb" + side]], hand + THUMB_EXTENSION * (hand - wrist), atol=1e-5)
    assert np.isfinite(out).all()


def test_missing_joints_stay_missing() -> None:
    src = _coded(20, lead=(3,))
    src[1, 7] = np.nan  # HandLeft missing in frame 1: its derived tip and thumb are missing too
    out = from_kinect_v1(src)
    assert np.isnan(out[1, [J["HandLeft"], J["HandTipLeft"], J["ThumbLeft"]]]).all()
    assert np.isfinite(out[1, J["HandRight"]]).all() and np.isfinite(out[[0, 2]]).all()


def test_utd_order_puts_head_first() -> None:
    src = _coded(20, lead=(2,))
    out = from_utd_mhad(src)
    # UTD: head, shoulder_center, spine, hip_center, then the same limbs as Kinect v1
    np.testing.assert_array_equal(out[:, J["Head"]], src[:, 0])
    np.testing.assert_array_equal(out[:, J["SpineShoulder"]], src[:, 1])
    np.testing.assert_array_equal(out[:, J["SpineMid"]], src[:, 2])
    np.testing.assert_array_equal(out[:, J["SpineBase"]], src[:, 3])
    np.testing.assert_array_equal(out[:, J["ShoulderLeft"]], src[:, 4])
    np.testing.assert_array_equal(out[:, J["FootRight"]], src[:, 19])


@pytest.mark.parametrize("fn, joints", [(from_kinect_v1, 20), (from_utd_mhad, 20), (from_mediapipe33, 33)])
def test_wrong_shapes_raise(fn, joints: int) -> None:
    with pytest.raises(ValueError, match=f"{joints}, 3"):
        fn(np.zeros((5, joints + 1, 3)))
    with pytest.raises(ValueError):
        fn(np.zeros((joints, 2)))


def test_mediapipe_mapping_keeps_sides_and_builds_the_spine() -> None:
    lm = _coded(33, lead=(3,))
    out = from_mediapipe33(lm)
    assert out.shape == (3, 25, 3) and np.isfinite(out).all()
    # anatomical sides are kept: MediaPipe 11 = left shoulder, 12 = right shoulder, 23/24 hips
    for ntu, mp in {"ShoulderLeft": 11, "ShoulderRight": 12, "ElbowLeft": 13, "WristRight": 16,
                    "HipLeft": 23, "HipRight": 24, "KneeLeft": 25, "AnkleRight": 28,
                    "FootLeft": 31, "FootRight": 32, "HandTipLeft": 19, "ThumbRight": 22}.items():  # fmt: skip
        np.testing.assert_array_equal(out[:, J[ntu]], lm[:, mp], err_msg=ntu)
    base, shoulder = out[:, J["SpineBase"]], out[:, J["SpineShoulder"]]
    np.testing.assert_allclose(base, 0.5 * (lm[:, 23] + lm[:, 24]))
    np.testing.assert_allclose(shoulder, 0.5 * (lm[:, 11] + lm[:, 12]))
    np.testing.assert_allclose(out[:, J["SpineMid"]], 0.5 * (base + shoulder))
    # the head lies between the eyes and the ears, the neck between shoulders and head
    head = out[:, J["Head"]]
    assert (head[:, 0] > lm[:, 2, 0]).all() and (head[:, 0] < lm[:, 8, 0]).all()
    neck = out[:, J["Neck"]]
    t = (neck - shoulder)[:, 0] / (head - shoulder)[:, 0]
    assert ((t > 0) & (t < 1)).all()


def test_mediapipe_visibility_takes_the_weakest_source() -> None:
    vis = np.ones((2, 33), dtype=np.float32)
    vis[0, 24] = 0.1  # right hip hidden: SpineBase, SpineMid and HipRight become uncertain
    vis[1, 7] = 0.2  # left ear hidden: the head is uncertain
    out = mediapipe_visibility_to_ntu(vis)
    assert out.shape == (2, 25)
    assert out[0, J["HipRight"]] == pytest.approx(0.1) and out[0, J["SpineBase"]] == pytest.approx(0.1)
    assert out[0, J["SpineMid"]] == pytest.approx(0.1) and out[0, J["HipLeft"]] == 1.0
    assert out[1, J["Head"]] == pytest.approx(0.2) and out[1, J["ShoulderLeft"]] == 1.0
    with pytest.raises(ValueError, match="33"):
        mediapipe_visibility_to_ntu(np.ones((2, 25)))


def test_mediapipe_world_to_camera_is_a_proper_rotation() -> None:
    rng = np.random.default_rng(2)
    p = rng.normal(size=(10, 3)).astype(np.float32)
    q = mediapipe_world_to_camera(p)
    np.testing.assert_allclose(q[:, 2], p[:, 2])
    np.testing.assert_allclose(q[:, :2], -p[:, :2])
    # orientation (handedness) is kept: a mirror would flip the sign of this triple product
    a, b, c = p[1] - p[0], p[2] - p[0], p[3] - p[0]
    a2, b2, c2 = q[1] - q[0], q[2] - q[0], q[3] - q[0]
    assert np.sign(np.dot(np.cross(a, b), c)) == np.sign(np.dot(np.cross(a2, b2), c2))
    np.testing.assert_allclose(mediapipe_world_to_camera(q), p)
    with pytest.raises(ValueError):
        mediapipe_world_to_camera(np.zeros((3, 2)))


# --- real recordings ----------------------------------------------------------------------------


@pytest.mark.realdata
def test_utd_joint_order_file_matches_the_mapping(data_dir: Path) -> None:
    """The dataset's own joint-order file, read by name, agrees with ``from_utd_mhad``."""
    text = (data_dir / "utd_mhad" / "Skeleton" / "Skeleton_joint_order.txt").read_text()
    names = re.findall(r"^\s*\d+\.\s*([a-z_]+)", text, flags=re.M)
    assert len(names) == 20
    to_ntu = {"head": "Head", "shoulder_center": "SpineShoulder", "spine": "SpineMid", "hip_center": "SpineBase"}
    for part in ("shoulder", "elbow", "wrist", "hand", "hip", "knee", "ankle", "foot"):
        for side in ("left", "right"):
            to_ntu[f"{side}_{part}"] = part.capitalize() + side.capitalize()
    out = from_utd_mhad(_coded(20))
    for k, name in enumerate(names):
        np.testing.assert_array_equal(out[J[to_ntu[name]]], _coded(20)[k], err_msg=name)


@pytest.mark.realdata
def test_v1_mapping_reproduces_ntu_derived_joints(ntu_sample_xyz: np.ndarray) -> None:
    """Kinect v2 tracks Neck, hand tips and thumbs; deriving them from the v1 subset lands close."""
    ntu = ntu_sample_xyz
    as_v1 = ntu[:, [J["SpineBase"], J["SpineMid"], J["SpineShoulder"], J["Head"], *range(4, 20)]]
    derived = from_kinect_v1(as_v1)
    err = np.median(np.linalg.norm(derived - ntu, axis=-1), axis=0)
    assert err[J["Neck"]] < 0.04
    for name in ("HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight"):
        assert err[J[name]] < 0.08, name
    np.testing.assert_allclose(err[:20][[i for i in range(20) if i != J["Neck"]]], 0.0, atol=1e-6)


def _real_checks(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sequence: bone-length CV per limb, left/right length ratio, fraction of frames with the
    left shoulder at smaller x than the right one."""
    cvs, ratios, left_first = [], [], []
    for s in seqs:
        bones = _bone_lengths(s, LIMBS_LEFT + LIMBS_RIGHT)
        cvs.append(bones.std(axis=0) / bones.mean(axis=0))
        med = np.median(bones, axis=0)
        ratios.append(med[:4] / med[4:])
        left_first.append(np.mean(s[:, J["ShoulderLeft"], 0] < s[:, J["ShoulderRight"], 0]))
    return np.array(cvs), np.array(ratios), np.array(left_first)


@pytest.mark.realdata
def test_utd_mapped_skeletons_are_physically_consistent(utd_files: list[Path]) -> None:
    seqs = [from_utd_mhad(load_utd_raw(f)) for f in utd_files[::4]]
    assert all(s.shape[1:] == (25, 3) and np.isfinite(s).all() for s in seqs)
    cvs, ratios, left_first = _real_checks(seqs)
    # rigid bones: lengths vary little across frames (Kinect noise only)
    assert np.median(cvs) < 0.08 and np.median(cvs, axis=0).max() < 0.12
    # left and right limbs are about as long as each other
    assert np.all(np.abs(np.median(ratios, axis=0) - 1) < 0.06)
    # subjects face the camera: in Kinect camera space their left shoulder has the smaller x
    assert np.median(left_first) == 1.0 and np.mean(left_first > 0.9) > 0.95
    # y is up: the head is above the hips in every frame
    assert all((s[:, J["Head"], 1] > s[:, J["SpineBase"], 1]).all() for s in seqs)


@pytest.mark.realdata
def test_ucla_mapped_skeletons_are_physically_consistent(ucla_files: list[Path]) -> None:
    seqs = [from_kinect_v1(s) for s in (load_ucla_raw(f) for f in ucla_files[::5]) if len(s) >= 10]
    assert len(seqs) > 250
    cvs, ratios, left_first = _real_checks(seqs)
    assert np.median(cvs) < 0.12 and np.median(cvs, axis=0).max() < 0.15
    assert np.all(np.abs(np.median(ratios, axis=0) - 1) < 0.06)
    assert np.median(left_first) > 0.9
    upright = [np.mean(s[:, J["Head"], 1] > s[:, J["SpineBase"], 1]) for s in seqs]
    assert np.median(upright) == 1.0
