"""Shared test fixtures: where the real data lives, and the CI rule that real-data tests never skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
POSE_MODEL = SHARED / "models" / "pose_landmarker_full.task"


def _need(path: Path) -> Path:
    if not path.exists():
        msg = f"real data missing: {path}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg + " (CI=true: real-data tests must not skip)")
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data``; fails under CI=true when missing, skips otherwise."""
    return _need(DATA)


@pytest.fixture(scope="session")
def pose_model_path() -> Path:
    """The MediaPipe pose landmarker bundle used by tests (the product finds its own)."""
    return _need(POSE_MODEL)
