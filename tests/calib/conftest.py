"""Fixtures for tests/calib: a tiny exported model whose BatchNorm statistics come from real windows.

The model is the real skeleton branch (InfoGCN + JID + head) at T=16 with untrained weights; its
BatchNorm running statistics are set from real calibration windows so activations have realistic
magnitudes (quantisation error is then meaningful). Exported once per session.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from shared_helpers import calibrate_batchnorm

TINY_FRAMES = 16


@pytest.fixture(scope="session")
def split(data_dir: Path):
    from calib.windows import protocol_split

    return protocol_split("realdata", data_dir)


@pytest.fixture(scope="session")
def tiny_spec():
    from calib.windows import InputSpec
    from crossglg.preprocess import PreprocessConfig
    from crossglg.skeleton.layouts import get_layout

    return InputSpec(PreprocessConfig(frames=TINY_FRAMES), get_layout("ntu25"))


@pytest.fixture(scope="session")
def calib_windows(split, tiny_spec) -> np.ndarray:
    from calib.windows import calibration_windows

    return calibration_windows(split.train, tiny_spec, 24, seed=0)


@pytest.fixture(scope="session")
def query_windows(split, tiny_spec) -> np.ndarray:
    from calib.windows import calibration_windows

    return calibration_windows(split.queries, tiny_spec, 16, seed=1)


@pytest.fixture(scope="session")
def tiny_fp32(tmp_path_factory: pytest.TempPathFactory, calib_windows: np.ndarray, tiny_spec) -> Path:
    torch = pytest.importorskip("torch")
    from crossglg.model import ModelConfig, SkeletonBranch
    from crossglg.model.export import export_onnx

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = SkeletonBranch(ModelConfig(num_classes=4, frames=TINY_FRAMES))
    calibrate_batchnorm(model, calib_windows)
    out = tmp_path_factory.mktemp("calib_model") / "tiny.onnx"
    meta = {"preprocess_id": tiny_spec.preprocess.id, "classes": json.dumps(["a", "b", "c", "d"]),
            "model_id": "tiny-calib"}
    return export_onnx(model, out, metadata=meta)


@pytest.fixture(scope="session")
def tiny_int8(tmp_path_factory: pytest.TempPathFactory, tiny_fp32: Path, calib_windows: np.ndarray):
    from calib.quantize import QuantConfig, quantize_model

    out = tmp_path_factory.mktemp("calib_int8") / "tiny.int8.onnx"
    return quantize_model(tiny_fp32, out, calib_windows, QuantConfig(method="percentile"))
