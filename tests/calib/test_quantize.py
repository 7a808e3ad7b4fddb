"""Q/DQ INT8 quantisation of a real exported model, and the TensorRT-provider table."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from calib.prepare import split_dynamic_gemm_c
from calib.quantize import CPU_OPS, DEFAULT_OPS, QuantConfig, dynamic_matmuls, logit_matmuls, stem_nodes
from calib.table import TABLE_FILES, write_trt_table
from edge.engines.onnx_prep import qdq_problems

pytestmark = pytest.mark.realdata


def _embed(path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(["embedding"], {"skeleton": x})[0]


def test_int8_has_symmetric_per_channel_qdq(tiny_int8) -> None:
    model = onnx.load(str(tiny_int8.path))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 0 and ops.count("DequantizeLinear") > 0
    assert tiny_int8.qdq_nodes == ops.count("QuantizeLinear") + ops.count("DequantizeLinear")
    assert qdq_problems(model) == []  # the engines' TensorRT check: int8, zero points 0
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    per_channel = 0
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:  # a quantised weight
            scale = inits[node.input[1]]
            if scale.ndim == 1 and scale.size > 1:
                axis = {a.name: a.i for a in node.attribute}.get("axis", 1)
                assert scale.size == inits[node.input[0]].shape[axis]
                per_channel += 1
            zp = inits[node.input[2]]
            assert zp.dtype == np.int8 and not zp.any()
    assert per_channel >= 10  # every conv / GEMM weight of the encoder


def test_int8_close_to_fp32_on_real_windows(tiny_fp32, tiny_int8, query_windows) -> None:
    a, b = _embed(tiny_fp32, query_windows), _embed(tiny_int8.path, query_windows)
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.mean() > 0.98, cos


def test_metadata_kept_and_fingerprint_changed(tiny_fp32, tiny_int8) -> None:
    src = {p.key: p.value for p in onnx.load(str(tiny_fp32)).metadata_props}
    dst = {p.key: p.value for p in onnx.load(str(tiny_int8.path)).metadata_props}
    assert dst["crossglg.preprocess_id"] == src["crossglg.preprocess_id"]
    assert dst["crossglg.source_fingerprint"] == src["crossglg.fingerprint"] != dst["crossglg.fingerprint"]
    q = json.loads(dst["crossglg.quantization"])
    assert q["format"] == "qdq" and q["per_channel"] and q["method"] == "percentile" and q["windows"] == 24


def test_weights_only_matmul_excludes_attention_products(tiny_fp32, calib_windows, tmp_path) -> None:
    from calib.quantize import quantize_model

    names = set(dynamic_matmuls(onnx.load(str(tiny_fp32))))
    assert names  # SA-GC's Q K^T and A x
    res = quantize_model(tiny_fp32, tmp_path / "w.onnx", calib_windows[:8],
                         QuantConfig(weights_only_matmul=True, preprocess=False))
    model = onnx.load(str(res.path))
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        if node.name in names:
            assert all(producer.get(i) != "DequantizeLinear" for i in node.input)


def test_float_logits_keeps_q_kt_float_and_quantises_the_graph_product(tiny_fp32, calib_windows, tmp_path) -> None:
    from calib.quantize import quantize_model

    graph = onnx.load(str(tiny_fp32))
    dynamic, logits = set(dynamic_matmuls(graph)), set(logit_matmuls(graph))
    blocks = sum(n.op_type == "LayerNormalization" for n in graph.graph.node)  # one per SA-GC (tiny: JID v1)
    assert len(logits) == blocks and logits < dynamic  # one Q K^T per SA-GC; the rest is A x
    res = quantize_model(tiny_fp32, tmp_path / "l.onnx", calib_windows[:8],
                         QuantConfig(activations="uint8", preprocess=False))  # ort-cpu: float_logits on
    model = onnx.load(str(res.path))
    # a quantised node's output is re-quantised (QDQ format); an excluded one's goes on in float
    consumers: dict[str, list[str]] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n.op_type)
    requantised = {n.name: "QuantizeLinear" in consumers.get(n.output[0], []) for n in model.graph.node}
    assert not any(requantised[m] for m in logits)
    graph_products = dynamic - logits - set(stem_nodes(graph))  # block 0 stays float with the stem
    assert graph_products and all(requantised[m] for m in graph_products)  # A x runs in int8


def test_trt_table_files(tiny_int8, tmp_path) -> None:
    paths = write_trt_table(tiny_int8.ranges, tmp_path / "table")
    assert [p.name for p in paths] == list(TABLE_FILES)
    assert all(p.stat().st_size > 0 for p in paths)
    table = json.loads((tmp_path / "table" / "calibration.json").read_text())
    assert "skeleton" in table and "embedding" in table and len(table) > 50  # every float tensor
    # the flatbuffers file (what ORT's TensorRT provider reads): one |max| per tensor
    from onnxruntime.quantization.CalTableFlatBuffers.TrtTable import TrtTable

    fb = TrtTable.GetRootAsTrtTable(bytearray((tmp_path / "table" / "calibration.flatbuffers").read_bytes()), 0)
    entries = {fb.Dict(i).Key().decode(): float(fb.Dict(i).Value()) for i in range(fb.DictLength())}
    assert entries.keys() == table.keys()
    for name in ("skeleton", "embedding"):  # TensorRT's range = max |x| of the calibrated range
        lo, hi = (float(np.max(v)) for v in tiny_int8.ranges[name].range_value)
        assert entries[name] == pytest.approx(max(abs(lo), abs(hi)), rel=1e-6)
        assert table[name]["highest"] == pytest.approx(-table[name]["lowest"])
    assert not list((tmp_path / "table").glob(".trt-table-*"))  # no temp leftovers


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="method"):
        QuantConfig(method="kl")
    with pytest.raises(ValueError, match="percentile"):
        QuantConfig(percentile=0)


def test_stem_stays_float(tiny_int8) -> None:
    """Fused export: the stem MatMul, block 0's SA-GC and the first conv stay float32; every conv /
    GEMM after that, up to the last conv, is quantised."""
    model = onnx.load(str(tiny_int8.path))
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    compute = [n for n in model.graph.node if n.op_type in ("Conv", "MatMul", "Gemm")]
    first_conv = next(i for i, n in enumerate(compute) if n.op_type == "Conv")
    head = [n for n in compute[:first_conv + 1] if n.op_type in ("Conv", "Gemm") or n.input[1].startswith("stem")]
    assert compute[0].op_type == "MatMul" and head
    assert all(producer.get(n.input[1]) != "DequantizeLinear" for n in head)  # float weights
    last_conv = max(i for i, n in enumerate(compute) if n.op_type == "Conv")  # the head after it: test below
    later = [n for n in compute[first_conv + 1 : last_conv + 1] if n.op_type in ("Conv", "Gemm")]
    assert later and all(producer.get(n.input[1]) == "DequantizeLinear" for n in later)


def test_head_stays_float(tiny_int8) -> None:
    """The GEMMs after the last conv (pooled features -> embedding, classifier) keep float weights."""
    model = onnx.load(str(tiny_int8.path))
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    compute = [n for n in model.graph.node if n.op_type in ("Conv", "MatMul", "Gemm")]
    last_conv = max(i for i, n in enumerate(compute) if n.op_type == "Conv")
    head = compute[last_conv + 1 :]
    assert len(head) >= 3 and all(n.op_type == "Gemm" for n in head)  # fc, fc_mu, classifier
    assert all(producer.get(n.input[1]) != "DequantizeLinear" for n in head)
    assert producer.get(compute[last_conv].input[1]) == "DequantizeLinear"


def test_per_target_defaults() -> None:
    trt, cpu = QuantConfig(), QuantConfig(activations="uint8")
    assert trt.ops == DEFAULT_OPS and not trt.weights_only_matmul and trt.float_logits is False
    assert cpu.ops == CPU_OPS and not cpu.weights_only_matmul and cpu.float_logits is True
    mine = QuantConfig(activations="uint8", ops=("Conv",), float_logits=False)
    assert mine.ops == ("Conv",) and mine.float_logits is False
    with pytest.raises(ValueError, match="ops"):
        QuantConfig(ops=())


def test_dynamic_gemm_c_split_keeps_the_function(tiny_fp32, query_windows, tmp_path) -> None:
    """The fused export feeds SA-GC residuals into the head GEMM's C; calib moves them to an Add."""
    model = onnx.load(str(tiny_fp32))
    consts = {t.name for t in model.graph.initializer}
    dynamic_c = [n for n in model.graph.node if n.op_type == "Gemm" and len(n.input) > 2 and n.input[2] not in consts]
    assert dynamic_c  # one per SA-GC head
    assert split_dynamic_gemm_c(model) == len(dynamic_c)
    onnx.checker.check_model(model)
    consts = {t.name for t in model.graph.initializer}
    assert not [n for n in model.graph.node if n.op_type == "Gemm" and len(n.input) > 2 and n.input[2] not in consts]
    onnx.save(model, str(tmp_path / "split.onnx"))
    a, b = _embed(tiny_fp32, query_windows), _embed(tmp_path / "split.onnx", query_windows)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-5 * float(np.abs(a).max()))


def test_ort_cpu_target_fuses_integer_kernels(tiny_fp32, calib_windows, query_windows, tmp_path) -> None:
    """uint8 activations: ORT turns DQ -> Conv -> Q into QLinearConv on x86 (int8 ones stay float)."""
    from calib.quantize import quantize_model

    res = quantize_model(tiny_fp32, tmp_path / "cpu.onnx", calib_windows[:12],
                         QuantConfig(activations="uint8", preprocess=False))
    meta = {p.key: p.value for p in onnx.load(str(res.path)).metadata_props}
    assert json.loads(meta["crossglg.quantization"])["target"] == "onnxruntime-cpu"
    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "cpu_opt.onnx")
    ort.InferenceSession(str(res.path), opts, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(str(tmp_path / "cpu_opt.onnx")).graph.node]
    assert ops.count("QLinearConv") >= 10
    # every SA-GC head runs as an integer GEMM (not float with dequantised weights), and the
    # MS-TCN concat / residual adds stay in uint8
    assert ops.count("QGemm") >= 9 and "QLinearConcat" in ops and "QLinearAdd" in ops
    a, b = _embed(tiny_fp32, query_windows), _embed(res.path, query_windows)
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.mean() > 0.98, cos
    with pytest.raises(ValueError, match="activations"):
        QuantConfig(activations="fp8")
