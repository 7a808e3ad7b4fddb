"""The edge's ONNX engine warns when a TensorRT-target INT8 file is run on ORT's CPU provider."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edge.engines.onnx import OnnxEngine, cpu_int8_advice


def test_tensorrt_int8_on_cpu_warns_with_the_fix(tiny_int8, caplog: pytest.LogCaptureFixture) -> None:
    path = tiny_int8.path
    with caplog.at_level(logging.WARNING, logger="edge.engines.onnx"):
        engine = OnnxEngine(path, provider="cpu", threads=1)
    try:
        assert engine.advice is not None and "--target ort-cpu" in engine.advice and str(path) in engine.advice
        assert any("--target ort-cpu" in r.getMessage() for r in caplog.records)
    finally:
        engine.close()


def test_fp32_model_gets_no_advice(tiny_fp32: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="edge.engines.onnx"):
        engine = OnnxEngine(tiny_fp32, provider="cpu", threads=1)
    try:
        assert engine.advice is None
        assert not [r for r in caplog.records if r.name == "edge.engines.onnx"]
    finally:
        engine.close()


def test_advice_only_for_the_tensorrt_target_on_cpu() -> None:
    trt = {"quantization": json.dumps({"target": "tensorrt"})}
    cpu = ["CPUExecutionProvider"]
    assert cpu_int8_advice(trt, cpu, Path("m.onnx")) is not None
    assert cpu_int8_advice(trt, ["CUDAExecutionProvider", *cpu], Path("m.onnx")) is None  # a GPU runs it
    assert cpu_int8_advice({"quantization": json.dumps({"target": "onnxruntime-cpu"})}, cpu, Path("m.onnx")) is None
    assert cpu_int8_advice({"quantization": "not json"}, cpu, Path("m.onnx")) is None
    assert cpu_int8_advice({}, cpu, Path("m.onnx")) is None
