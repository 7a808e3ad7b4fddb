"""Resampled-pose features (crossglg/pose_features.py) on real recordings, the fusion weight and the
``crossglg.fusion`` metadata codec."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crossglg.pose_features import (
    FEATURES_ID,
    FUSION_KEY,
    Fusion,
    decode_fusion,
    encode_fusion,
    fuse,
    fusion_weight,
    off_diagonal_std,
    pose_matrix,
    pose_vector,
)
from train.baselines.pose_cosine import pose_vector as baseline_pose_vector

pytestmark = pytest.mark.realdata


def _utd(data_dir, name: str) -> np.ndarray:
    from crossglg.datasets.readers import read_utd_mat

    return read_utd_mat(data_dir / "utd_mhad" / "Skeleton" / name)


def _turn(seq: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32)
    return seq @ rot.T


def test_pose_features_ignore_where_the_person_stands_faces_and_how_tall(data_dir) -> None:
    seq = _utd(data_dir, "a3_s1_t1_skeleton.mat")  # (T, 1, 25, 3), hand wave
    v = pose_vector(seq)
    assert v.shape == (64 * 75,) and v.dtype == np.float32 and np.isfinite(v).all()
    moved = _turn(seq, 0.7) * 1.3 + np.array([0.4, -0.2, 2.0], np.float32)  # turned 40 degrees, 30% larger, elsewhere
    assert np.allclose(pose_vector(moved), v, atol=1e-4)
    assert np.array_equal(baseline_pose_vector(seq), v)  # the baseline and the edge use the same features
    # another action is not the same vector; the same action by another person is closer than it
    other = pose_vector(_utd(data_dir, "a24_s1_t1_skeleton.mat"))  # sit to stand
    again = pose_vector(_utd(data_dir, "a3_s2_t1_skeleton.mat"))  # hand wave, subject 2

    def cos(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cos(v, again) > cos(v, other)


def test_missing_joints_and_empty_clips(data_dir) -> None:
    seq = _utd(data_dir, "a3_s1_t1_skeleton.mat").copy()
    seq[5:20, 0, 7:12] = np.nan  # an arm lost for a stretch, as a live window has it
    seq[:3] = np.nan  # nobody in the first frames
    assert np.isfinite(pose_vector(seq)).all()
    with pytest.raises(ValueError, match="no frame holds a valid joint"):
        pose_vector(np.full((10, 1, 25, 3), np.nan, np.float32))
    bad = seq.copy()
    bad[4, 0, 3, 1] = np.inf
    with pytest.raises(ValueError, match="inf"):
        pose_vector(bad)
    m = pose_matrix([seq, seq[:20]])
    assert m.shape == (2, 64 * 75) and pose_matrix([]).shape == (0, 64 * 75)


def test_fusion_weight_balances_the_spreads() -> None:
    assert fusion_weight(0.1, 0.1) == pytest.approx(0.5)
    # a score that spreads twice as wide gets half the weight: both then move the sum alike
    w = fusion_weight(0.2, 0.1)
    assert w == pytest.approx(1 / 3)
    a, b = np.array([0.2, -0.2]), np.array([0.1, -0.1])
    assert np.allclose(fuse(a, 0 * b, w), fuse(0 * a, b, w))  # the same spread-unit step moves it equally
    assert fusion_weight(0.1, 0.1, w=1.0) == 1.0
    with pytest.raises(ValueError, match="spreads must be > 0"):
        fusion_weight(0.0, 0.1)
    rng = np.random.default_rng(0)
    assert off_diagonal_std(rng.normal(size=(50, 8))) > off_diagonal_std(rng.normal(size=(50, 8)) + 5.0)
    with pytest.raises(ValueError, match="at least 2 clips"):
        off_diagonal_std(np.ones((1, 4)))


def test_fusion_metadata_round_trip_and_clear_errors() -> None:
    f = Fusion(0.4123, spreads=(0.21, 0.09), w=0.5, source="spreads of 244 base clips")
    back = decode_fusion({FUSION_KEY: encode_fusion(f)})
    assert back == Fusion(0.4123, 64, FEATURES_ID, (0.21, 0.09), 0.5, "spreads of 244 base clips")
    assert decode_fusion({}) is None and decode_fusion({FUSION_KEY: ""}) is None
    bad = {
        "fusion is not JSON": "{",
        "must be a JSON object": "[1]",
        r"fusion.weight must be a number in \(0, 1\], got None": json.dumps({"frames": 64}),
        r"weight must be in \(0, 1\], got 1.5": json.dumps({"weight": 1.5}),
        "frames must be an integer": json.dumps({"weight": 0.5, "frames": 1.5}),
        "this runtime computes 'pose-resample64/1'": json.dumps({"weight": 0.5, "features": "pose-resample32/9"}),
    }
    for message, text in bad.items():
        with pytest.raises(ValueError, match=f"m.onnx: .*{message}"):
            decode_fusion({FUSION_KEY: text}, where="m.onnx")
