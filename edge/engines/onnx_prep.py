"""ONNX checks and rewrites done before TensorRT parses a model (build machines only).

Needs the ``onnx`` package (and ``onnxconverter-common`` for fp16), imported inside the functions:
the ``trt`` extra installs both; the edge runtime itself never needs them.

FP16 on TensorRT 11 (strongly typed only): we convert the graph's float32 weights and activations
to float16 with onnxconverter-common, keeping the model's inputs and outputs float32 (a Cast after
the input, a Cast before each output) so callers feed and receive float32 on every backend.
LayerNormalization and Softmax stay float32 (Casts around them): their reductions lose the most
in fp16 and cost little.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from .base import EngineUnavailableError

QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
FP32_KEEP_OPS = ("LayerNormalization", "Softmax")


def load_onnx(path: str | os.PathLike[str]) -> Any:
    """``onnx.ModelProto`` with external data loaded (so it can be re-serialised as one blob)."""
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - onnx is part of the trt extra
        raise EngineUnavailableError("building engines needs the 'onnx' package: pip install 'crossglg[trt]'") from exc
    return onnx.load(str(path), load_external_data=True)


def op_types(model: Any) -> set[str]:
    """All op types in the graph, including nested subgraphs (If/Loop bodies)."""
    found: set[str] = set()

    def walk(graph: Any) -> None:
        for node in graph.node:
            found.add(node.op_type)
            for attr in node.attribute:
                if attr.g is not None and len(attr.g.node):
                    walk(attr.g)
                for g in attr.graphs:
                    walk(g)

    walk(model.graph)
    return found


def has_qdq(model: Any) -> bool:
    """Whether the model is explicitly quantised (contains QuantizeLinear/DequantizeLinear)."""
    return bool(op_types(model) & QDQ_OPS)


def qdq_problems(model: Any) -> list[str]:
    """Why TensorRT would reject this Q/DQ model: it needs int8 (not uint8) with zero points of 0
    (symmetric quantisation). Empty list = fine. Checks the top-level graph's QuantizeLinear nodes.
    """
    import numpy as np
    from onnx import TensorProto, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    consts = {n.output[0]: a.t for n in model.graph.node if n.op_type == "Constant"
              for a in n.attribute if a.name == "value"}
    problems: list[str] = []
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear":
            continue
        zp_name = node.input[2] if len(node.input) > 2 else ""
        zp = inits.get(zp_name) or consts.get(zp_name)
        if zp is None:
            out_type = next((a.i for a in node.attribute if a.name == "output_dtype"), TensorProto.UINT8)
            if out_type != TensorProto.INT8:
                problems.append(f"{node.name or node.output[0]}: no int8 zero point (defaults to uint8)")
            continue
        if zp.data_type != TensorProto.INT8:
            problems.append(f"{node.name or node.output[0]}: zero point type {TensorProto.DataType.Name(zp.data_type)}, "
                            "TensorRT needs INT8")
        elif np.any(numpy_helper.to_array(zp) != 0):
            problems.append(f"{node.name or node.output[0]}: non-zero zero point (asymmetric), TensorRT needs symmetric")
    return problems


def metadata_props(model: Any) -> dict[str, str]:
    """The model's metadata_props as a plain dict."""
    return {p.key: p.value for p in model.metadata_props}


def convert_fp16(model: Any) -> Any:
    """A copy of ``model`` with float32 weights/activations in float16; inputs/outputs stay float32.

    Raises ValueError for an already quantised (Q/DQ) model: its precision is set by calibration.
    """
    if has_qdq(model):
        raise ValueError("the ONNX has Q/DQ nodes (an INT8 model): build it with --precision int8, not fp16")
    try:
        from onnxconverter_common import float16
    except ImportError as exc:
        raise EngineUnavailableError("fp16 engines on TensorRT 11 need 'onnxconverter-common': "
                          "pip install 'crossglg[trt]'") from exc
    import onnx

    block = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(FP32_KEEP_OPS))
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    _detach_outputs(copy, onnx.helper)
    with warnings.catch_warnings():
        # one warning per weight below fp16's range (flushed to +-1e-7): noise for a CLI user
        warnings.filterwarnings("ignore", message=".*will be truncated to.*", category=UserWarning)
        return float16.convert_float_to_float16(copy, keep_io_types=True, op_block_list=block,
                                                disable_shape_infer=False)


def _detach_outputs(model: Any, helper: Any) -> None:
    """Give every graph output that other nodes also read its own Identity node (in place).

    Our model's ``embedding`` output also feeds the classifier; with ``keep_io_types`` the
    converter casts such an output back to fp32 and then hands the fp32 tensor to the fp16
    classifier (ORT: "Gemm bound to different types"). Reading an internal copy avoids that.
    """
    graph = model.graph
    outputs = {o.name for o in graph.output}
    consumed = {i for n in graph.node for i in n.input}
    for name in sorted(outputs & consumed):
        inner = f"{name}__internal"
        for node in graph.node:
            for k, out in enumerate(node.output):
                if out == name:
                    node.output[k] = inner
            for k, inp in enumerate(node.input):
                if inp == name:
                    node.input[k] = inner
        graph.node.append(helper.make_node("Identity", [inner], [name], name=f"{name}__output"))


def serialize(model: Any) -> bytes:
    """The model as bytes for ``OnnxParser.parse`` (weights inline; our models are far below 2 GB)."""
    return model.SerializeToString()
