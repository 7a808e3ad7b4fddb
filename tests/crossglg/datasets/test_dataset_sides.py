"""The moving side of one-sided classes agrees with the class name after scanning (real data)."""

from __future__ import annotations

import numpy as np
import pytest

from crossglg.datasets import scan_dataset
from crossglg.skeleton.layouts import NTU25

pytestmark = pytest.mark.realdata

WRIST_L, WRIST_R = NTU25.index("WristLeft"), NTU25.index("WristRight")
SHOULDER_L, SHOULDER_R = NTU25.index("ShoulderLeft"), NTU25.index("ShoulderRight")


def _wrist_motion(seq: np.ndarray) -> tuple[float, float]:
    body = seq[:, 0]
    rel_l = body[:, WRIST_L] - body[:, SHOULDER_L]
    rel_r = body[:, WRIST_R] - body[:, SHOULDER_R]
    return float(np.nanstd(rel_l, axis=0).sum()), float(np.nanstd(rel_r, axis=0).sum())


@pytest.mark.parametrize(("gesture", "side"), [(0, "left"), (1, "right"), (4, "left"), (5, "right")])
def test_irds_named_side_moves(data_dir, tmp_path, gesture, side):
    samples, _ = scan_dataset("irds", data_dir / "irds", cache_dir=tmp_path)
    picked = [s for s in samples if s.label == gesture][:6]
    assert picked
    wins = 0
    for s in picked:
        seq = s.load()
        left, right = _wrist_motion(seq)
        wins += (left > right) if side == "left" else (right > left)
        # geometry stays a body facing the camera: left shoulder at smaller x
        assert np.nanmedian(seq[:, 0, SHOULDER_L, 0] - seq[:, 0, SHOULDER_R, 0]) < 0
    assert wins >= len(picked) - 1


def test_gtu_handed_shaking_sides(data_dir, tmp_path):
    samples, _ = scan_dataset("gtu3d", data_dir / "gtu3d", cache_dir=tmp_path)
    names = {s.label: s for s in samples}
    assert names  # folder 2 = left handed shaking, folder 10 = right handed shaking
    for label, side in ((1, "left"), (9, "right")):
        picked = [s for s in samples if s.label == label][:6]
        wins = sum(
            (lambda lr: lr[0] > lr[1] if side == "left" else lr[1] > lr[0])(_wrist_motion(s.load())) for s in picked
        )
        assert wins >= len(picked) - 1, (label, side)
