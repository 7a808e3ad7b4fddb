"""Pose maths without the network: translation recovery, mirror handling, mapping to NTU-25."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.pose import PoseConfig, PoseEstimator, focal_from_hfov, paint_out, recover_translation


def _body(rng: np.random.Generator) -> np.ndarray:
    """33 hip-centred points in MediaPipe world axes (x right, y down, z away), metres."""
    pts = rng.uniform([-0.3, -0.9, -0.15], [0.3, 0.9, 0.15], size=(33, 3))
    pts[23], pts[24] = [0.1, 0.0, 0.0], [-0.1, 0.0, 0.0]  # left hip on the image right
    return pts - 0.5 * (pts[23] + pts[24])


def _project(world: np.ndarray, t: np.ndarray, f: float, c: tuple[float, float]) -> np.ndarray:
    p = world + t
    return np.stack([c[0] + f * p[:, 0] / p[:, 2], c[1] + f * p[:, 1] / p[:, 2]], axis=1)


def test_focal_from_hfov():
    assert focal_from_hfov(1920, 90.0) == pytest.approx(960.0)
    assert focal_from_hfov(640, 60.0) == pytest.approx(320 / np.tan(np.radians(30)))


def test_recover_translation_exact_and_noisy():
    rng = np.random.default_rng(0)
    f, c = 900.0, (640.0, 360.0)
    for t_true in ([0.4, -0.2, 3.5], [-1.0, 0.3, 6.0], [0.0, 0.0, 1.5]):
        world = _body(rng)
        uv = _project(world, np.array(t_true), f, c)
        assert recover_translation(world, uv, f, c) == pytest.approx(t_true, abs=1e-6)
        noisy = uv + rng.normal(0, 2.0, uv.shape)  # 2 px of landmark noise
        t = recover_translation(world, noisy, f, c)
        assert np.abs(t[:2] - t_true[:2]).max() < 0.03 and abs(t[2] - t_true[2]) < 0.08 * t_true[2]


def test_recover_translation_rejects_degenerate_input():
    rng = np.random.default_rng(1)
    world = _body(rng)
    uv = _project(world, np.array([0.0, 0.0, 3.0]), 800.0, (320.0, 240.0))
    weights = np.zeros(33)
    weights[:2] = 1.0
    assert recover_translation(world, uv, 800.0, (320.0, 240.0), weights) is None  # < 3 points
    # image points of a body 3 m *behind* the camera cannot be explained in front of it
    behind = _project(world, np.array([0.0, 0.0, -3.0]), 800.0, (320.0, 240.0))
    assert recover_translation(world, behind, 800.0, (320.0, 240.0)) is None


def _detect(mirror: bool, translation: str = "recover"):
    rng = np.random.default_rng(2)
    world = _body(rng)
    width, height = 1280, 720
    f = focal_from_hfov(width, 60.0)
    t_true = np.array([0.5, 0.1, 3.0])
    uv = _project(world, t_true, f, (width / 2, height / 2))
    norm = np.concatenate([uv / [width, height], np.zeros((33, 1))], axis=1)
    est = PoseEstimator(PoseConfig(model_path=Path("unused.task"), mirror=mirror, translation=translation))
    return est._detection(norm, world, np.ones(33), width, height), uv, t_true, width


def test_detection_camera_frame_and_mirror():
    det, uv, t_true, width = _detect(mirror=False)
    assert det.translated
    # NTU SpineBase = hip centre = t, in Kinect axes (x left, y up)
    assert det.joints[0] == pytest.approx([-t_true[0], -t_true[1], t_true[2]], abs=1e-4)
    # NTU ShoulderLeft (4) is MediaPipe's left shoulder (11), image points untouched
    assert det.image_xy[4] == pytest.approx(uv[11], abs=1e-3)
    mdet, _, _, _ = _detect(mirror=True)
    # mirror: same 3D (the frame was flipped before pose), image x flipped back, sides kept
    assert mdet.joints == pytest.approx(det.joints, abs=1e-5)
    assert mdet.image_xy[4, 0] == pytest.approx(width - uv[11, 0], abs=1e-3)
    assert mdet.image_xy[4, 1] == pytest.approx(uv[11, 1], abs=1e-3)


def test_detection_root_relative():
    det, _, _, _ = _detect(mirror=False, translation="none")
    assert not det.translated
    assert det.joints[0] == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)


def test_config_validation():
    with pytest.raises(ValueError, match="translation"):
        PoseConfig(model_path=Path("x"), translation="guess")
    with pytest.raises(ValueError, match="hfov"):
        PoseConfig(model_path=Path("x"), hfov_deg=5.0)
    with pytest.raises(ValueError, match="max_people"):
        PoseConfig(model_path=Path("x"), max_people=0)


def test_paint_out_covers_the_person():
    rng = np.random.default_rng(3)
    world = _body(rng)
    uv = _project(world, np.array([0.0, 0.0, 3.0]), 500.0, (320.0, 240.0))
    img = np.zeros((480, 640, 3), np.uint8)
    paint_out(img, uv / [640, 480])
    hip_centre = (0.5 * (uv[23] + uv[24])).astype(int)
    assert (img[hip_centre[1], hip_centre[0]] == 127).all()
    painted = (img == 127).all(axis=-1).mean()
    assert 0.005 < painted < 0.5
