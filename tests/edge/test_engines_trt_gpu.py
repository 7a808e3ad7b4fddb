"""TensorRT parity on a real GPU: fp32 / fp16 / int8 engines built from the tiny export against ONNX
Runtime on the same windows, the engine cache, batch chunking. Marked ``trt`` and ``gpu``:
deselected by ``make test`` (CI machines have neither); run on a device with
``pytest -m "trt and gpu" tests/edge/test_engines_trt_gpu.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.engines import load_engine
from edge.engines.trt_plan import read_sidecar

pytestmark = [pytest.mark.trt, pytest.mark.gpu]


@pytest.fixture(scope="module")
def trt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tensorrt")
    return tmp_path_factory.mktemp("engines")


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _reference(onnx_path: Path, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with load_engine(onnx_path, provider="cpu") as ref:
        return ref.embed_and_logits(windows)


def test_fp32_engine_matches_onnxruntime(tiny_onnx: Path, windows: np.ndarray, trt_cache: Path) -> None:
    from edge.engines.tensorrt import build_engine

    path = build_engine(tiny_onnx, "fp32", cache_dir=trt_cache, max_batch=4, log=lambda _: None)
    emb_ref, logits_ref = _reference(tiny_onnx, windows)
    with load_engine(path) as engine:
        assert engine.backend == "tensorrt"
        emb, logits = engine.embed_and_logits(windows)
        assert engine.meta == read_sidecar(path).meta
    np.testing.assert_allclose(emb, emb_ref, atol=1e-3, rtol=0)  # TF32 is cleared for fp32 builds
    np.testing.assert_allclose(logits, logits_ref, atol=1e-3, rtol=0)


def test_fp16_engine_is_close(tiny_onnx: Path, windows: np.ndarray, trt_cache: Path) -> None:
    from edge.engines.tensorrt import build_engine

    path = build_engine(tiny_onnx, "fp16", cache_dir=trt_cache, max_batch=4, log=lambda _: None)
    emb_ref, _ = _reference(tiny_onnx, windows)
    with load_engine(path) as engine:
        emb = engine.embed(windows)
    assert _cosine(emb, emb_ref).min() > 0.999


def test_int8_engine_from_qdq_is_close(tiny_onnx: Path, windows: np.ndarray, trt_cache: Path,
                                       tmp_path: Path) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from edge.engines.tensorrt import build_engine

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter([{"skeleton": w[None]} for w in windows])

        def get_next(self):  # noqa: ANN201 - ORT's interface
            return next(self._it, None)

    qdq = tmp_path / "int8.onnx"
    quantize_static(str(tiny_onnx), str(qdq), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    path = build_engine(qdq, "int8", cache_dir=trt_cache, max_batch=4, log=lambda _: None)
    emb_ref, _ = _reference(qdq, windows)  # the same Q/DQ model under ORT
    with load_engine(path) as engine:
        emb = engine.embed(windows)
    assert _cosine(emb, emb_ref).min() > 0.99


def test_cache_hit_and_batch_chunking(tiny_onnx: Path, windows: np.ndarray, trt_cache: Path, tmp_path: Path) -> None:
    from edge.engines.tensorrt import build_engine

    first = build_engine(tiny_onnx, "fp32", cache_dir=trt_cache, max_batch=2, log=lambda _: None)
    stamp = first.stat().st_mtime_ns
    messages: list[str] = []
    again = build_engine(tiny_onnx, "fp32", cache_dir=trt_cache, max_batch=2, out=tmp_path / "m.engine",
                         log=messages.append)
    assert again == tmp_path / "m.engine" and any("cached engine" in m for m in messages)
    assert first.stat().st_mtime_ns == stamp  # not rebuilt
    emb_ref, _ = _reference(tiny_onnx, windows)
    with load_engine(again) as engine:  # 4 windows through a max-batch-2 engine: two chunks
        np.testing.assert_allclose(engine.embed(windows), emb_ref, atol=1e-3, rtol=0)
