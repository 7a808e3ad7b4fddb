"""ONNX preparation for TensorRT builds, run here with ONNX Runtime as the executor: the fp16
rewrite used on TensorRT 11 (strongly typed) and the Q/DQ detection that gates INT8 builds."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from edge.engines import onnx_prep

ROOT = Path(__file__).resolve().parents[2]
HAS_TRT = importlib.util.find_spec("tensorrt") is not None


@pytest.fixture(scope="module")
def qdq_onnx(tiny_onnx: Path, windows: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static Q/DQ INT8 model of the tiny export (what crossglg-calib produces, in miniature)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter([{"skeleton": w[None]} for w in windows])

        def get_next(self):  # noqa: ANN201 - ORT's interface
            return next(self._it, None)

    out = tmp_path_factory.mktemp("qdq") / "tiny_int8.onnx"
    # TensorRT's explicit quantisation wants signed, symmetric int8 (zero points 0)
    quantize_static(str(tiny_onnx), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    return out


def test_fp16_rewrite_keeps_fp32_io_and_close_outputs(tiny_onnx: Path, windows: np.ndarray) -> None:
    import onnx
    import onnxruntime as ort

    model = onnx_prep.load_onnx(tiny_onnx)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the converter's per-weight truncation warnings are silenced
        half = onnx_prep.convert_fp16(model)
    # caller-facing IO stays float32; the weights are float16
    assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in [*half.graph.input, *half.graph.output])
    types = [t.data_type for t in half.graph.initializer if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)]
    assert types.count(onnx.TensorProto.FLOAT16) > 0.9 * len(types)
    assert onnx_prep.metadata_props(half) == onnx_prep.metadata_props(model)  # metadata survives
    # the original is untouched (the rewrite works on a copy)
    assert all(t.data_type != onnx.TensorProto.FLOAT16 for t in model.graph.initializer)

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    ref = ort.InferenceSession(str(tiny_onnx), opts, providers=["CPUExecutionProvider"])
    run16 = ort.InferenceSession(onnx_prep.serialize(half), opts, providers=["CPUExecutionProvider"])
    e32 = ref.run(["embedding"], {"skeleton": windows})[0]
    e16 = run16.run(["embedding"], {"skeleton": windows})[0]
    assert e16.dtype == np.float32 and e16.shape == e32.shape
    cos = np.sum(e32 * e16, axis=1) / (np.linalg.norm(e32, axis=1) * np.linalg.norm(e16, axis=1))
    assert cos.min() > 0.999
    assert np.abs(e16 - e32).max() < 2e-2 * np.abs(e32).max()
    assert np.abs(e16 - e32).max() > 0  # it really ran in reduced precision


def test_qdq_detection(tiny_onnx: Path, qdq_onnx: Path) -> None:
    assert not onnx_prep.has_qdq(onnx_prep.load_onnx(tiny_onnx))
    qdq = onnx_prep.load_onnx(qdq_onnx)
    assert onnx_prep.has_qdq(qdq) and {"QuantizeLinear", "DequantizeLinear"} <= onnx_prep.op_types(qdq)
    assert onnx_prep.qdq_problems(qdq) == []
    with pytest.raises(ValueError, match="--precision int8"):
        onnx_prep.convert_fp16(qdq)


def _asymmetric_copy(qdq_onnx: Path, out: Path) -> Path:
    """The Q/DQ model with one activation zero point moved off 0 and one made uint8."""
    import onnx
    from onnx import numpy_helper

    model = onnx_prep.load_onnx(qdq_onnx)
    inits = {t.name: t for t in model.graph.initializer}
    names = dict.fromkeys(n.input[2] for n in model.graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 2)
    zps = [inits[name] for name in names]
    zps[0].CopyFrom(numpy_helper.from_array(np.full(numpy_helper.to_array(zps[0]).shape, 3, np.int8), zps[0].name))
    zps[1].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(zps[1]).astype(np.uint8), zps[1].name))
    onnx.save(model, out)
    return out


def test_asymmetric_qdq_is_reported(qdq_onnx: Path, tmp_path: Path) -> None:
    bad = onnx_prep.load_onnx(_asymmetric_copy(qdq_onnx, tmp_path / "asym.onnx"))
    problems = onnx_prep.qdq_problems(bad)
    assert len(problems) >= 2  # zero-point initializers can be shared by several Q nodes
    assert any("non-zero zero point" in p for p in problems) and any("UINT8" in p for p in problems)
    res = subprocess.run([sys.executable, "-m", "edge.cli", "build-engine", str(tmp_path / "asym.onnx"),
                          "--precision", "int8"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 2 and "symmetric int8" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.skipif(HAS_TRT, reason="checks the behaviour where TensorRT is missing")
def test_build_engine_int8_with_qdq_model_gets_to_tensorrt(qdq_onnx: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "edge.cli", "build-engine", str(qdq_onnx), "--precision", "int8"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 3, res.stderr  # the Q/DQ gate passed; only TensorRT is missing
    assert "TensorRT is not installed" in res.stderr and "Traceback" not in res.stderr
