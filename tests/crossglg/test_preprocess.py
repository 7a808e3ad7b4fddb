"""The single preprocessing function: view invariance, NaN handling, bodies, versioning, real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from core_loaders import load_ucla_raw, load_utd_raw

from crossglg.preprocess import (
    PREPROCESS_VERSION,
    PreprocessConfig,
    check_compatible,
    fill_missing,
    preprocess,
    resample,
    valid_range,
    validate_sequence,
)
from crossglg.skeleton.layouts import KINETICS18, NTU25
from crossglg.skeleton.mappings import from_kinect_v1, from_utd_mhad

J = {name: i for i, name in enumerate(NTU25.joints)}

# A standing person in body coordinates (metres): x towards the person's right, y up, z towards
# the camera. NTU convention after alignment: the left side has negative x.
_BODY = {
    "SpineBase": (0, 0, 0), "SpineMid": (0, 0.25, 0), "SpineShoulder": (0, 0.5, 0), "Neck": (0, 0.58, 0),
    "Head": (0, 0.72, 0.02),
    "ShoulderLeft": (-0.18, 0.47, 0), "ElbowLeft": (-0.21, 0.2, 0), "WristLeft": (-0.22, -0.05, 0.02),
    "HandLeft": (-0.22, -0.12, 0.03), "HandTipLeft": (-0.22, -0.2, 0.04), "ThumbLeft": (-0.19, -0.12, 0.06),
    "ShoulderRight": (0.18, 0.47, 0), "ElbowRight": (0.21, 0.2, 0), "WristRight": (0.22, -0.05, 0.02),
    "HandRight": (0.22, -0.12, 0.03), "HandTipRight": (0.22, -0.2, 0.04), "ThumbRight": (0.19, -0.12, 0.06),
    "HipLeft": (-0.1, -0.02, 0), "KneeLeft": (-0.1, -0.45, 0.02), "AnkleLeft": (-0.1, -0.85, 0),
    "FootLeft": (-0.1, -0.9, 0.1),
    "HipRight": (0.1, -0.02, 0), "KneeRight": (0.1, -0.45, 0.02), "AnkleRight": (0.1, -0.85, 0),
    "FootRight": (0.1, -0.9, 0.1),
}  # fmt: skip


def body_sequence(frames: int = 40) -> np.ndarray:
    """A person raising the right forearm, ``(T, 25, 3)`` in body coordinates (torso length 0.5)."""
    rest = np.array([_BODY[n] for n in NTU25.joints], dtype=np.float32)
    seq = np.repeat(rest[None], frames, axis=0)
    phase = np.linspace(0, np.pi / 2, frames, dtype=np.float32)
    elbow = rest[J["ElbowRight"]]
    for name in ("WristRight", "HandRight", "HandTipRight", "ThumbRight"):
        d = rest[J[name]] - elbow  # swing the forearm forward and up about the elbow (x axis)
        seq[:, J[name], 0] = elbow[0] + d[0]
        seq[:, J[name], 1] = elbow[1] + d[1] * np.cos(phase)
        seq[:, J[name], 2] = elbow[2] - d[1] * np.sin(phase)
    return seq


def rotation(yaw: float, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return (rz @ rx @ ry).astype(np.float32)


def in_camera(body: np.ndarray, yaw: float, pitch: float = 0.0, roll: float = 0.0, scale: float = 1.0,
              shift: tuple[float, float, float] = (0.3, -0.1, 3.0)) -> np.ndarray:  # fmt: skip
    """Body coordinates -> a camera view ``(T, 1, 25, 3)``."""
    cam = scale * body @ rotation(yaw, pitch, roll).T + np.asarray(shift, dtype=np.float32)
    return cam[:, None].astype(np.float32)


def expected_canonical(body: np.ndarray) -> np.ndarray:
    """What first-frame centring, alignment and torso scaling make of ``body``: ``(3, T, 25, 1)``."""
    out = (body - body[0, J["SpineMid"]]) / 0.5
    return out.transpose(2, 0, 1)[..., None]


# --- generated fixtures -------------------------------------------------------------------------


@pytest.mark.parametrize("view", [(0.0, 0.0, 0.0), (0.9, 0.1, 0.0), (-2.5, -0.2, 0.1), (3.0, 0.0, -0.15)])
def test_view_position_and_size_are_removed(view: tuple[float, float, float]) -> None:
    body = body_sequence(40)
    out = preprocess(in_camera(body, *view, scale=1.3), PreprocessConfig(frames=40))
    assert out.shape == (3, 40, 25, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected_canonical(body), atol=2e-4)


def test_output_is_upright_with_left_on_negative_x() -> None:
    out = preprocess(in_camera(body_sequence(30), yaw=2.0, pitch=0.3), PreprocessConfig(frames=16))
    x, y = out[0, :, :, 0], out[1, :, :, 0]
    assert (y[:, J["Head"]] > y[:, J["SpineBase"]]).all()
    assert (x[:, J["ShoulderLeft"]] < 0).all() and (x[:, J["ShoulderRight"]] > 0).all()
    assert (x[:, J["HipLeft"]] < 0).all() and (x[:, J["HipRight"]] > 0).all()
    np.testing.assert_allclose(out[:, 0, J["SpineMid"], 0], 0.0, atol=1e-5)
    torso = np.linalg.norm(out[:, :, J["SpineShoulder"], 0] - out[:, :, J["SpineBase"], 0], axis=0)
    np.testing.assert_allclose(torso, 1.0, atol=1e-4)


def test_nan_holes_give_finite_output_close_to_the_clean_one() -> None:
    rng = np.random.default_rng(3)
    clean = in_camera(body_sequence(50), yaw=0.4)
    holes = clean.copy()
    mask = rng.random(holes.shape[:3]) < 0.15
    mask[0] = False  # the first frame defines centre and view; keep it whole here
    holes[mask] = np.nan
    holes[:, :, J["ThumbLeft"]] = np.nan  # a joint never seen: takes its parent's place
    cfg = PreprocessConfig(frames=32)
    out, ref = preprocess(holes, cfg), preprocess(clean, cfg)
    assert np.isfinite(out).all()
    diff = np.abs(out - ref)
    diff[:, :, J["ThumbLeft"]] = 0.0
    assert diff.max() < 0.05, "interpolated holes stay close to the clean motion"
    np.testing.assert_allclose(out[:, :, J["ThumbLeft"]], out[:, :, J["HandLeft"]], atol=1e-5)


def test_nan_in_the_first_frame_and_empty_frames_are_handled() -> None:
    seq = in_camera(body_sequence(40), yaw=-0.7)
    seq[4, 0, J["ShoulderLeft"]] = np.nan  # holes in the first valid frame, which sets the view
    seq[4, 0, J["SpineMid"]] = np.nan
    seq[:4] = np.nan  # nobody there yet
    seq[-3:] = np.nan  # person left
    seq[20:23] = np.nan  # a dropout in the middle
    out = preprocess(seq, PreprocessConfig(frames=24))
    assert np.isfinite(out).all()
    assert (out[1, :, J["Head"], 0] > out[1, :, J["SpineBase"], 0]).all()
    assert valid_range(seq[:, :, :, :]) == (4, 37)


def test_leading_and_trailing_empty_frames_are_trimmed() -> None:
    seq = in_camera(body_sequence(30), yaw=1.1)
    padded = np.concatenate([np.full((5, 1, 25, 3), np.nan, np.float32), seq, np.full((7, 1, 25, 3), np.nan, np.float32)])
    cfg = PreprocessConfig(frames=20)
    np.testing.assert_allclose(preprocess(padded, cfg), preprocess(seq, cfg), atol=1e-6)
    # crop is relative to the valid range
    np.testing.assert_allclose(preprocess(padded, cfg, crop=(3, 18)), preprocess(seq[3:18], cfg), atol=1e-6)
    with pytest.raises(ValueError, match="crop"):
        preprocess(padded, cfg, crop=(0, 31))


def test_all_missing_sequence_is_an_error() -> None:
    with pytest.raises(ValueError, match="no frame"):
        preprocess(np.full((10, 1, 25, 3), np.nan, np.float32))


def test_center_modes() -> None:
    walk = body_sequence(40)
    walk[:, :, 2] += np.linspace(0, 1.0, 40, dtype=np.float32)[:, None]  # walks 1 m towards the camera
    seq = in_camera(walk, yaw=0.5)
    first = preprocess(seq, PreprocessConfig(frames=40, center="first_frame"))
    per = preprocess(seq, PreprocessConfig(frames=40, center="per_frame"))
    np.testing.assert_allclose(per[:, :, J["SpineMid"], 0], 0.0, atol=1e-5)
    travelled = np.linalg.norm(first[:, -1, J["SpineMid"], 0] - first[:, 0, J["SpineMid"], 0])
    assert travelled == pytest.approx(2.0, rel=1e-3)  # 1 m in torso units (0.5 m)
    # body shape relative to the root is the same either way
    np.testing.assert_allclose(
        first - first[:, :, J["SpineMid"] : J["SpineMid"] + 1], per - per[:, :, J["SpineMid"] : J["SpineMid"] + 1], atol=1e-4
    )


def test_main_body_kept_and_noise_dropped() -> None:
    actor = in_camera(body_sequence(40), yaw=0.2)[:, 0]
    noise = np.full_like(actor, np.nan)
    noise[10:14] = actor[10:14] + np.float32(1.5)  # a short-lived ghost body
    seq = np.stack([noise, actor], axis=1)  # (T, 2, 25, 3), ghost first
    out = preprocess(seq, PreprocessConfig(frames=40, max_bodies=1))
    ref = preprocess(actor[:, None], PreprocessConfig(frames=40, max_bodies=1))
    np.testing.assert_allclose(out, ref, atol=1e-5)
    two = preprocess(actor[:, None], PreprocessConfig(frames=40, max_bodies=2))
    assert two.shape == (3, 40, 25, 2)
    np.testing.assert_array_equal(two[..., 1], 0.0)
    np.testing.assert_allclose(two[..., :1], ref, atol=1e-6)


def test_second_body_shares_the_first_bodys_frame() -> None:
    a = body_sequence(30)
    b = body_sequence(30)[::-1].copy() + np.array([1.0, 0, 0.2], np.float32)  # partner to the right
    seq = np.concatenate([in_camera(a, yaw=0.6), in_camera(b, yaw=0.6)], axis=1)
    out = preprocess(seq, PreprocessConfig(frames=30, max_bodies=2))
    assert out.shape == (3, 30, 25, 2) and np.isfinite(out).all()
    # the partner stands about 1 m (2 torso units) to the main actor's right, in the aligned frame
    offset = out[:, 0, J["SpineBase"], 1] - out[:, 0, J["SpineBase"], 0]
    np.testing.assert_allclose(offset, [2.0, 0.0, 0.4], atol=1e-3)


def test_resample_fill_and_validate() -> None:
    ramp = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 4), np.float32)
    up = resample(ramp, 19)
    np.testing.assert_allclose(up[:, 0], np.linspace(0, 9, 19), atol=1e-5)
    np.testing.assert_allclose(resample(ramp, 4)[:, 2], [0, 3, 6, 9], atol=1e-5)
    assert resample(ramp[:1], 5).shape == (5, 4)
    body = in_camera(body_sequence(11), yaw=0)[:, 0].copy()
    truth = body.copy()
    body[3:7, J["ElbowLeft"]] = np.nan
    filled = fill_missing(body)
    np.testing.assert_allclose(filled[3:7, J["ElbowLeft"]], truth[3:7, J["ElbowLeft"]], atol=1e-6)
    with pytest.raises(ValueError, match="rank 4"):
        validate_sequence(np.zeros((10, 25, 3)))
    with pytest.raises(ValueError, match="25 joints"):
        validate_sequence(np.zeros((10, 1, 20, 3)))
    with pytest.raises(ValueError, match="3 channels"):
        validate_sequence(np.zeros((10, 1, 25, 2)))
    bad = np.zeros((4, 1, 25, 3))
    bad[1, 0, 2, 1] = np.inf
    with pytest.raises(ValueError, match="inf"):
        validate_sequence(bad)


def test_kinetics_layout_keeps_scores_and_centres_xy() -> None:
    rng = np.random.default_rng(4)
    seq = rng.uniform(0.2, 0.8, size=(20, 2, 18, 3)).astype(np.float32)
    out = preprocess(seq, PreprocessConfig(frames=20, max_bodies=2), layout=KINETICS18)
    assert out.shape == (3, 20, 18, 2) and np.isfinite(out).all()
    np.testing.assert_allclose(out[:2, 0, KINETICS18.center, 0], 0.0, atol=1e-6)
    # scores are not coordinates: neither centred nor scaled
    np.testing.assert_allclose(out[2], seq[..., 2].transpose(0, 2, 1), atol=1e-6)
    np.testing.assert_allclose(out[:2, :, :, 1] + seq[0, 0, KINETICS18.center, :2, None, None],
                               seq[:, 1, :, :2].transpose(2, 0, 1), atol=1e-5)  # fmt: skip


def test_config_versioning() -> None:
    cfg = PreprocessConfig(frames=48, center="per_frame")
    assert cfg.id.startswith(PREPROCESS_VERSION + ";") and "frames=48" in cfg.id
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.id != PreprocessConfig().id
    with pytest.raises(ValueError, match="version"):
        PreprocessConfig.from_dict({**cfg.to_dict(), "version": "crossglg-pp/0"})
    with pytest.raises(ValueError, match="unknown"):
        PreprocessConfig.from_dict({**cfg.to_dict(), "mirror": True})
    for bad in ({"frames": 1}, {"max_bodies": 0}, {"center": "hips"}):
        with pytest.raises(ValueError, match="preprocess"):
            PreprocessConfig(**bad)
    check_compatible(cfg.id, cfg.id, "store")
    with pytest.raises(ValueError, match="mismatch"):
        check_compatible(cfg.id, PreprocessConfig().id, "store")


# --- real recordings ----------------------------------------------------------------------------


def _upright_and_sided(out: np.ndarray) -> tuple[bool, bool, float]:
    x, y = out[0, :, :, 0], out[1, :, :, 0]
    head_up = bool((y[:, J["Head"]] > y[:, J["SpineBase"]]).all())
    left_neg = bool(x[0, J["ShoulderLeft"]] < 0 < x[0, J["ShoulderRight"]])
    torso = float(np.median(np.linalg.norm(out[:, :, J["SpineShoulder"], 0] - out[:, :, J["SpineBase"], 0], axis=0)))
    return head_up, left_neg, torso


@pytest.mark.realdata
def test_utd_sequences_stand_upright_after_preprocess(utd_files: list[Path]) -> None:
    results = [_upright_and_sided(preprocess(from_utd_mhad(load_utd_raw(f))[:, None])) for f in utd_files[::3]]
    head_up, left_neg, torso = map(np.array, zip(*results, strict=True))
    assert head_up.all() and left_neg.all()
    np.testing.assert_allclose(torso, 1.0, atol=0.1)


@pytest.mark.realdata
def test_ucla_sequences_stand_upright_after_preprocess(ucla_files: list[Path]) -> None:
    outs = []
    for f in ucla_files[::4]:
        raw = load_ucla_raw(f)
        if len(raw) >= 10:
            outs.append(_upright_and_sided(preprocess(from_kinect_v1(raw)[:, None])))
    head_up, left_neg, _ = map(np.array, zip(*outs, strict=True))
    # multi-view clips include odd first frames (people entering, occlusion): nearly all, not all
    assert head_up.mean() > 0.97 and left_neg.mean() > 0.95


@pytest.mark.realdata
def test_ntu_sample_preprocess(ntu_sample_xyz: np.ndarray) -> None:
    head_up, left_neg, torso = _upright_and_sided(preprocess(ntu_sample_xyz[:, None]))
    assert head_up and left_neg and torso == pytest.approx(1.0, abs=0.05)


@pytest.mark.realdata
def test_real_sequences_with_nan_holes_stay_finite_and_close(utd_files: list[Path], ucla_files: list[Path]) -> None:
    rng = np.random.default_rng(5)
    seqs = [from_utd_mhad(load_utd_raw(f)) for f in utd_files[::50]]
    seqs += [from_kinect_v1(s) for s in (load_ucla_raw(f) for f in ucla_files[::80]) if len(s) >= 20]
    cfg = PreprocessConfig(frames=64)
    errors = []
    for s in seqs:
        holes = s[:, None].copy()
        mask = rng.random(holes.shape[:3]) < 0.1
        mask[0] = False
        holes[mask] = np.nan
        holes[rng.integers(1, len(s) - 1), 0] = np.nan  # a whole dropped frame
        out = preprocess(holes, cfg)
        assert np.isfinite(out).all()
        errors.append(np.median(np.abs(out - preprocess(s[:, None], cfg))))
    assert np.median(errors) < 0.02
