"""Fixtures for tests/edge.

Engine tests (test_engines*.py) share one tiny exported model: the real CrossGLG skeleton branch
(InfoGCN encoder + JID + IB head, 4 classes) at T=16, exported once per session with
crossglg.model.export.export_onnx, plus the same weights as a torch ``.pt``. Its BatchNorm running
statistics are calibrated on a few random batches so activations have realistic magnitudes (a
freshly initialised model's grow by orders of magnitude through the blocks, which would make
precision comparisons meaningless).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TINY_FRAMES = 16
TINY_CLASSES = ("wave", "sit down", "stand up", "clap")


@dataclass
class TinyModel:
    model: Any  # crossglg.model.SkeletonBranch in eval mode
    onnx_path: Path
    pt_path: Path
    classes: tuple[str, ...]
    preprocess_id: str


def _calibrate_bn(model: Any, frames: int, seed: int = 0) -> None:
    """BatchNorm statistics from 3 batches of Gaussian noise ``(8, 3, frames, 25, 1)``."""
    import torch
    from shared_helpers import calibrate_batchnorm

    gen = torch.Generator().manual_seed(seed)
    calibrate_batchnorm(model, torch.randn(24, 3, frames, 25, 1, generator=gen))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    torch = pytest.importorskip("torch")
    from crossglg.model import ModelConfig, SkeletonBranch
    from crossglg.model.export import export_onnx
    from crossglg.preprocess import PreprocessConfig
    from train.torch_engine import save_inference_checkpoint

    preprocess_id = PreprocessConfig(frames=TINY_FRAMES).id
    torch.set_num_threads(2)
    torch.manual_seed(0)
    cfg = ModelConfig(num_classes=len(TINY_CLASSES), frames=TINY_FRAMES)
    model = SkeletonBranch(cfg)
    _calibrate_bn(model, TINY_FRAMES)
    out = tmp_path_factory.mktemp("tiny_model")
    meta = {"classes": list(TINY_CLASSES), "preprocess_id": preprocess_id, "model_id": "tiny-test"}
    onnx_path = export_onnx(model, out / "tiny.onnx",
                            metadata={**meta, "classes": json.dumps(list(TINY_CLASSES))})
    pt_path = out / "tiny.pt"
    save_inference_checkpoint(pt_path, model, meta)
    return TinyModel(model, onnx_path, pt_path, TINY_CLASSES, preprocess_id)


@pytest.fixture(scope="session")
def tiny_onnx(tiny_model: TinyModel) -> Path:
    return tiny_model.onnx_path


@pytest.fixture(scope="session")
def windows() -> np.ndarray:
    """Four preprocessed windows ``(4, 3, 16, 25, 1)`` float32 from synthetic moving skeletons."""
    from crossglg.preprocess import PreprocessConfig, preprocess

    rng = np.random.default_rng(7)
    cfg = PreprocessConfig(frames=TINY_FRAMES)
    out = []
    for _ in range(4):
        base = rng.normal(0.0, 0.3, size=(1, 1, 25, 3))
        drift = np.cumsum(rng.normal(0.0, 0.02, size=(40, 1, 25, 3)), axis=0)
        seq = (base + drift + np.array([0.0, 1.0, 3.0])).astype(np.float32)  # (T, M, V, 3), metres
        out.append(preprocess(seq, cfg))
    return np.stack(out).astype(np.float32)


@pytest.fixture(autouse=True)
def published_messages_follow_the_json_schema(monkeypatch: pytest.MonkeyPatch):
    """Every message a Subscription accepts in a tests/edge test is checked against the shipped JSON
    Schema files (edge/schemas). Violations are collected, not raised where they happen (a UI feed
    thread would swallow the error), and fail the test at teardown."""
    from schema_check import schema_errors

    from edge.client import Subscription

    accept = Subscription._accept
    violations: list[str] = []

    def checked(self: Subscription, frames: list[bytes]):
        msg = accept(self, frames)
        if msg is not None:
            violations.extend(f"{msg.topic} seq {msg.seq}: {e}" for e in schema_errors(msg.topic, msg.payload))
        return msg

    monkeypatch.setattr(Subscription, "_accept", checked)
    yield
    assert not violations, f"{len(violations)} published message(s) violate the JSON schema: {violations[:5]}"
