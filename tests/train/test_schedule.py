"""Warm-up + step decay, scaled to the run length."""

from __future__ import annotations

import pytest

from train.config import OptimConfig
from train.schedule import make_schedule


def test_paper_schedule() -> None:
    s = make_schedule(OptimConfig())
    assert s.lr(0.0) < 0.001 and s.lr(2.5) == pytest.approx(0.025)
    assert s.lr(5.0) == pytest.approx(0.05) and s.lr(89.9) == pytest.approx(0.05)
    assert s.lr(90.0) == pytest.approx(0.005) and s.lr(100.0) == pytest.approx(0.0005)
    lrs = [s.lr(e / 10) for e in range(0, 50)]
    assert all(b > a for a, b in zip(lrs, lrs[1:], strict=False))  # warm-up is increasing


def test_scaled_schedule() -> None:
    s = make_schedule(OptimConfig(epochs=11, lr=0.1))
    assert s.warmup == pytest.approx(0.5) and s.milestones == pytest.approx((9.0, 10.0))
    assert s.lr(0.6) == pytest.approx(0.1) and s.lr(9.5) == pytest.approx(0.01) and s.lr(10.2) == pytest.approx(0.001)
