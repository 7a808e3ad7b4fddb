"""Fixtures for the core tests: lists of real recordings (see ``core_loaders`` for the raw readers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from core_loaders import load_ntu_xyz


@pytest.fixture(scope="session")
def utd_files(data_dir: Path) -> list[Path]:
    files = sorted((data_dir / "utd_mhad" / "Skeleton").glob("a*_s*_t*_skeleton.mat"))
    assert len(files) > 800, "UTD-MHAD skeletons missing"
    return files


@pytest.fixture(scope="session")
def ucla_files(data_dir: Path) -> list[Path]:
    files = sorted((data_dir / "nw_ucla" / "all_sqe").glob("a*_s*_e*_v*.json"))
    assert len(files) > 1400, "NW-UCLA sequences missing"
    return files


@pytest.fixture(scope="session")
def ntu_sample_xyz(data_dir: Path) -> np.ndarray:
    return load_ntu_xyz(data_dir / "ntu_sample" / "S001C001P001R001A001.skeleton")
