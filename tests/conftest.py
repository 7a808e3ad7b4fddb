"""Shared test fixtures: where the real data lives, the CI rule that real-data tests never skip,
one tiny exported model whose BatchNorm statistics come from real windows (``tiny_fp32``: the real
skeleton branch at T=16 with untrained weights, exported once per session; used by tests/calib and
the edge end-to-end test), and one tiny training run on real data (``tiny_crossglg_run``: trained
once per session; used by tests/train and tests/tools)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from shared_helpers import TINY_TRAIN, calibrate_batchnorm

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
POSE_MODEL = SHARED / "models" / "pose_landmarker_full.task"
TINY_FRAMES = 16


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
def tiny_fp32(tmp_path_factory: pytest.TempPathFactory, calib_windows: np.ndarray, tiny_spec) -> Path:
    torch = pytest.importorskip("torch")
    from crossglg.model import ModelConfig, SkeletonBranch
    from crossglg.model.export import export_onnx

    torch.set_num_threads(2)
    torch.manual_seed(0)
    # JID version 1: the untrained model's near-uniform joint weights are what the e2e chance test
    # (test_pipeline_e2e) was set on; version 2's export is covered in test_model_export_fused
    model = SkeletonBranch(ModelConfig(num_classes=4, frames=TINY_FRAMES, jid_version=1))
    calibrate_batchnorm(model, calib_windows)
    out = tmp_path_factory.mktemp("calib_model") / "tiny.onnx"
    meta = {"preprocess_id": tiny_spec.preprocess.id, "classes": json.dumps(["a", "b", "c", "d"]),
            "model_id": "tiny-calib"}
    return export_onnx(model, out, metadata=meta)


@pytest.fixture(scope="session")
def tiny_train_data(data_dir: Path):
    """``train.prepare.ProtocolData`` of protocol realdata: 8 base sequences (4 classes x 2: UTD, UTD,
    NW-UCLA, GTU) and 2 queries per novel class, from the real datasets."""
    from dataclasses import replace

    from train.prepare import load_protocol_data

    full = load_protocol_data("realdata", data_dir, max_per_class=2, max_novel_per_class=2)
    keep = np.flatnonzero(np.isin(full.train_labels, [0, 1, 18, 30]))
    return replace(full, train=[full.train[i] for i in keep], train_labels=full.train_labels[keep])


@pytest.fixture(scope="session")
def tiny_crossglg_run(tiny_train_data, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a finished run (``final.pt``, ``last.pt``, metrics, config) of ``TINY_TRAIN`` on
    ``tiny_train_data``, trained once per session. Tests read it, never write into it."""
    from train.config import load_config
    from train.trainer import run_training

    out = tmp_path_factory.mktemp("tiny_run") / "full"
    run_training(load_config(None, TINY_TRAIN), tiny_train_data, out, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_heldout_final(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``final.pt`` of a 1-epoch model on protocol bench-heldout (one clip per class, T=16): trained
    on none of the benchmark protocols' novel classes, so the benchmark tools accept it. Read-only."""
    from train.config import load_config
    from train.prepare import load_protocol_data
    from train.trainer import run_training

    data = load_protocol_data("bench-heldout", data_dir, max_per_class=1, max_novel_per_class=1)
    cfg = load_config(None, ["data.protocol=bench-heldout", "data.frames=16", "optim.batch_size=8", "optim.epochs=1",
                             "model.variant=baseline", "eval.dc_samples=50", "num_threads=2", "augment.mirror=0.5",
                             "loss.metric=1.0", "augment.joint_drop=0.1"])  # fmt: skip
    return run_training(cfg, data, tmp_path_factory.mktemp("tiny_heldout") / "run", progress=False)
