"""Fixtures for tests/calib: query windows and the INT8 version of the root conftest's ``tiny_fp32``
(the real skeleton branch at T=16, untrained, BatchNorm statistics from real windows, so
quantisation error is meaningful)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def query_windows(split, tiny_spec) -> np.ndarray:
    from calib.windows import calibration_windows

    return calibration_windows(split.queries, tiny_spec, 16, seed=1)


@pytest.fixture(scope="session")
def tiny_int8(tmp_path_factory: pytest.TempPathFactory, tiny_fp32: Path, calib_windows: np.ndarray):
    from calib.quantize import QuantConfig, quantize_model

    out = tmp_path_factory.mktemp("calib_int8") / "tiny.int8.onnx"
    return quantize_model(tiny_fp32, out, calib_windows, QuantConfig(method="percentile"))
