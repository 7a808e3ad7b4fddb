"""FP32 ONNX -> Q/DQ INT8 ONNX with ONNX Runtime's static quantiser (no torch).

The result serves two runtimes:

* ONNX Runtime on CPU runs it directly (QLinearConv / integer MatMul after its Q/DQ fusions).
* TensorRT takes it as an explicitly quantised network (TensorRT 10/11: INT8 = Q/DQ nodes). TensorRT
  needs SYMMETRIC int8: activations and weights QInt8 with zero points 0 (``ActivationSymmetric``,
  ``WeightSymmetric``); ``edge.engines.onnx_prep.qdq_problems`` checks exactly that. Weights are
  quantised per output channel (``per_channel``), activations per tensor.

Calibration runs once over ALL float tensors (needed by the TensorRT-provider table, see
:mod:`calib.table`); its ranges are kept in ORT's JSON cache format and the quantiser reuses them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.calibrate import TensorsData, create_calibrator, save_tensors_data

from crossglg.model_meta import META_PREFIX

from .prepare import split_dynamic_gemm_c
from .windows import WindowReader

log = logging.getLogger(__name__)

METHODS = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
           "percentile": CalibrationMethod.Percentile}
# The ops whose int8 kernels pay off on CPU and that TensorRT fuses with their Q/DQ: convolutions,
# the GEMMs of SA-GC heads / the head MLP, and the attention products.
DEFAULT_OPS = ("Conv", "MatMul", "Gemm")
# ORT CPU (uint8): also the data-movement/elementwise ops between them, so ORT keeps tensors in
# uint8 across ReLU/max-pool/concat/residual adds (QLinearConcat, QLinearAdd, NhwcMaxPool) instead
# of a DequantizeLinear -> float op -> QuantizeLinear round trip around each (measured: -9% time).
CPU_OPS = (*DEFAULT_OPS, "Relu", "MaxPool", "Concat", "Add", "Reshape", "Transpose")


@dataclass(frozen=True)
class QuantConfig:
    """How to quantise.

    Attributes:
        method: calibration method: ``minmax`` | ``entropy`` | ``percentile``.
        percentile: kept share of the |x| histogram for ``percentile`` (e.g. 99.99).
        ops: op types to quantise (others stay float32 between Q/DQ boundaries); None = per
            target: ``DEFAULT_OPS`` for int8 (TensorRT fuses the rest itself), ``CPU_OPS`` for uint8.
        per_channel: per-output-channel weight scales (axis recorded on the DequantizeLinear).
        weights_only_matmul: quantise only MatMuls with a constant B (keeps both attention
            products, Q K^T and A x, in float32: their operands are data dependent); default off.
        float_logits: keep the attention logits products (Q K^T: the MatMuls whose output reaches a
            Softmax through elementwise/shape ops only) in float32 and quantise the graph product
            A x; None = per target: off for int8, on for uint8 (ORT CPU: integer A x x1.03-1.06
            faster than float, accuracy unchanged; both products in integer were slower than both
            in float, session 2; measured in docs/model_speed.md).
        preprocess: run ORT's ``quant_pre_process`` (shape inference + basic graph fusions) first.
        calib_batch: windows per calibration ``run`` and per ``collect_data`` call (memory bound).
        float_stem: keep the first Conv/MatMul/Gemm nodes, up to the first Conv (the stem on the
            raw 3-channel input: negligible compute, but its error propagates through all blocks), in float32.
        float_head: keep the compute nodes after the last Conv (the information-bottleneck head:
            pooled features -> embedding, and the classifier) in float32: they write the embedding
            itself, their compute is negligible, and their error is not averaged over T or V.
        activations: ``int8`` = symmetric int8 (TensorRT; zero point 0) or ``uint8`` = asymmetric
            uint8 for ONNX Runtime on x86 CPUs without VNNI, where ORT fuses DQ -> Conv -> Q into
            QLinearConv only for uint8 activations (with int8 ones the convs stay float between Q/DQ).
        exclude: node names to keep in float32 (names of the pre-processed graph).
        extra: further ``extra_options`` for ``quantize_static``.
    """

    method: str = "percentile"
    percentile: float = 99.99
    ops: tuple[str, ...] | None = None
    per_channel: bool = True
    weights_only_matmul: bool = False
    float_logits: bool | None = None
    preprocess: bool = True
    calib_batch: int = 8
    exclude: tuple[str, ...] = ()
    float_stem: bool = True
    float_head: bool = True
    activations: str = "int8"
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"calibration method must be one of {sorted(METHODS)}, got {self.method!r}")
        if not 0 < self.percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {self.percentile}")
        if self.activations not in ("int8", "uint8"):
            raise ValueError(f"activations must be 'int8' (TensorRT) or 'uint8' (ORT CPU), got {self.activations!r}")
        cpu = self.activations == "uint8"
        if self.ops is None:  # frozen: resolve the per-target defaults once, here
            object.__setattr__(self, "ops", CPU_OPS if cpu else DEFAULT_OPS)
        if self.float_logits is None:
            object.__setattr__(self, "float_logits", cpu)
        if not self.ops:
            raise ValueError("ops: at least one op type to quantise")
        if self.calib_batch < 1:
            raise ValueError(f"calib_batch must be >= 1, got {self.calib_batch}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ops"], d["exclude"] = list(self.ops), list(self.exclude)
        return d


@dataclass(frozen=True)
class QuantResult:
    """What :func:`quantize_model` produced."""

    path: Path
    ranges: TensorsData  # calibrated (lowest, highest) per float tensor, all tensors
    windows: int
    qdq_nodes: int


def _preprocess(src: Path, dst: Path) -> Path:
    """ORT's pre-quantisation pass (symbolic shape inference + optimisation); falls back to the
    input when it cannot handle the graph (the quantiser still works, slightly less fused)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    error: Exception | None = None
    # symbolic shape inference trips over some dynamo graphs; onnx's own inference then suffices
    for skip_symbolic in (False, True):
        try:
            quant_pre_process(str(src), str(dst), skip_symbolic_shape=skip_symbolic)
            return dst
        except Exception as exc:  # its failures come from several libraries (onnx, sympy, ORT)
            error = exc
    log.warning("quant_pre_process failed (%s); quantising the model as exported", error)
    return src


def calibrate(model_path: Path, windows: np.ndarray, cfg: QuantConfig, work_dir: Path,
              progress: bool = False) -> TensorsData:
    """Ranges of every float tensor of ``model_path`` over ``windows (N, C, T, V, M)``."""
    extra: dict = {"symmetric": cfg.activations == "int8"}  # |x| ranges for symmetric int8
    if cfg.method == "percentile":
        extra["percentile"] = cfg.percentile
    calibrator = create_calibrator(model_path, [], augmented_model_path=str(work_dir / "augmented.onnx"),
                                   calibrate_method=METHODS[cfg.method], extra_options=extra)
    # ORT's histogram calibrators print progress to stdout: keep stdout clean for --json
    # ORT keeps every tensor of every batch of one collect_data call in memory (~15 GB for 256
    # windows at T=32): feed it one batch per call; MinMax merges ranges, histograms merge bins.
    from tqdm import tqdm

    with contextlib.redirect_stdout(sys.stderr):
        for start in tqdm(range(0, len(windows), cfg.calib_batch), desc="calibrating", disable=not progress,
                          leave=False):
            calibrator.collect_data(WindowReader(windows[start : start + cfg.calib_batch], batch=cfg.calib_batch))
        ranges = calibrator.compute_data()
    del calibrator
    return ranges


def dynamic_matmuls(model: onnx.ModelProto) -> list[str]:
    """Names of MatMul nodes with no constant operand (e.g. attention ``Q K^T`` and ``A x``).

    ORT's ``MatMulConstBOnly`` option is honoured only in QOperator mode, so for Q/DQ the
    weight-only choice is made by excluding these nodes. Unnamed nodes get a name here.
    """
    consts = {t.name for t in model.graph.initializer}
    consts |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    names = []
    for i, node in enumerate(model.graph.node):
        if node.op_type == "MatMul" and not any(x in consts for x in node.input):
            if not node.name:
                raise ValueError(f"MatMul #{i} has no name; cannot exclude it from quantisation")
            names.append(node.name)
    return names


# ops a logits tensor passes through on its way to the Softmax (scale, guard, reshapes)
_TO_SOFTMAX = {"Mul", "Div", "Add", "Sub", "Clip", "Max", "Min", "Reshape", "Transpose", "Where", "Cast"}


def logit_matmuls(model: onnx.ModelProto, depth: int = 6) -> list[str]:
    """The dynamic MatMuls (:func:`dynamic_matmuls`) whose output reaches a Softmax within ``depth``
    nodes passing through elementwise/shape ops only: the attention logits ``Q K^T``. The graph
    product ``A x`` reaches a GEMM/conv instead."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    dynamic = set(dynamic_matmuls(model))
    found = []
    for node in model.graph.node:
        if node.name not in dynamic:
            continue
        frontier, hit = list(node.output), False
        for _ in range(depth):
            nxt = []
            for t in frontier:
                for c in consumers.get(t, []):
                    hit |= c.op_type == "Softmax"
                    if c.op_type in _TO_SOFTMAX:
                        nxt.extend(c.output)
            if hit or not nxt:
                break
            frontier = nxt
        if hit:
            found.append(node.name)
    return found


def stem_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the compute nodes (Conv, MatMul, Gemm) up to and including the first Conv.

    Module graphs: the joint transform and the embedding conv. Fused graphs
    (:mod:`crossglg.model.export_fused`): the stem MatMul and block 0 up to its first MS-TCN conv
    (its SA-GC): quantising that block lowered the TensorRT-style file's embedding cosine to FP32
    from 0.995 to 0.992 on a trained checkpoint (measured), for no measurable ORT CPU speed.
    """
    names = []
    for node in model.graph.node:  # ONNX graphs are stored in topological order
        if node.op_type in ("Conv", "MatMul", "Gemm") and node.name:
            names.append(node.name)
            if node.op_type == "Conv":
                break
    return names


def head_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the compute nodes (Conv, MatMul, Gemm) after the last Conv: the embedding head."""
    compute = [n for n in model.graph.node if n.op_type in ("Conv", "MatMul", "Gemm") and n.name]
    last_conv = max((i for i, n in enumerate(compute) if n.op_type == "Conv"), default=len(compute) - 1)
    return [n.name for n in compute[last_conv + 1 :]]


def _int8_metadata(src: onnx.ModelProto, cfg: QuantConfig, windows: np.ndarray, source: Path) -> dict[str, str]:
    """Metadata of the INT8 file: the FP32 model's, plus a new fingerprint (its embeddings differ
    slightly, so support stores re-embed) and the quantisation recipe."""
    meta = {p.key: p.value for p in src.metadata_props}
    fp32_fp = meta.get(META_PREFIX + "fingerprint", "")
    digest = hashlib.sha256()
    digest.update(f"int8|{fp32_fp}|{json.dumps(cfg.to_dict(), sort_keys=True)}|".encode())
    digest.update(np.ascontiguousarray(windows).tobytes())
    meta[META_PREFIX + "fingerprint"] = digest.hexdigest()
    meta[META_PREFIX + "source_fingerprint"] = fp32_fp
    meta[META_PREFIX + "model_id"] = (meta.get(META_PREFIX + "model_id") or source.stem) + "-int8"
    meta[META_PREFIX + "quantization"] = json.dumps(
        {"format": "qdq", "activation": "int8-symmetric" if cfg.activations == "int8" else "uint8-asymmetric",
         "weight": "int8-symmetric", "target": "tensorrt" if cfg.activations == "int8" else "onnxruntime-cpu", "windows": int(len(windows)),
         **cfg.to_dict()}, sort_keys=True)
    return meta


def quantize_model(
    model_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    windows: np.ndarray,
    cfg: QuantConfig | None = None,
    progress: bool = False,
) -> QuantResult:
    """Write a Q/DQ INT8 copy of ``model_path`` to ``out_path`` (atomically) and return the ranges.

    Args:
        model_path: FP32 ONNX (input ``skeleton (N, C, T, V, M)``).
        out_path: the INT8 ONNX to write (one file, ``crossglg.*`` metadata kept and extended).
        windows: calibration inputs ``(N, C, T, V, M)`` float32 (see :mod:`calib.windows`).
        cfg: :class:`QuantConfig`.
    """
    cfg = cfg or QuantConfig()
    src = Path(model_path)
    if not src.is_file():
        raise FileNotFoundError(f"ONNX model not found: {src}")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        original = onnx.load(str(src))
    except Exception as exc:
        raise ValueError(f"{src}: not a readable ONNX model ({exc})") from exc
    with tempfile.TemporaryDirectory(prefix=".quant-", dir=out.parent) as tmp:
        work = Path(tmp)
        prepared = _preprocess(src, work / "pre.onnx") if cfg.preprocess else src
        graph = onnx.load(str(prepared))
        if split_dynamic_gemm_c(graph):  # integer QGemm needs a constant C (see calib.prepare)
            prepared = work / "split.onnx"
            onnx.save_model(graph, str(prepared), save_as_external_data=False)
        ranges = calibrate(prepared, windows, cfg, work, progress)
        cache = work / "ranges.json"
        save_tensors_data(ranges, cache)
        # int8 (TensorRT): biases stay float (TensorRT's Q/DQ takes int8 tensors, not int32 biases);
        # uint8 (ORT CPU): int32 biases, the form ORT's QLinearConv fusion expects
        sym = cfg.activations == "int8"
        extra = {"ActivationSymmetric": sym, "WeightSymmetric": True, "QuantizeBias": not sym, **cfg.extra}
        exclude = list(cfg.exclude) + (dynamic_matmuls(graph) if cfg.weights_only_matmul
                                       else logit_matmuls(graph) if cfg.float_logits else [])
        exclude += stem_nodes(graph) if cfg.float_stem else []
        exclude += head_nodes(graph) if cfg.float_head else []
        q_path = work / "int8.onnx"
        quantize_static(str(prepared), str(q_path), calibration_data_reader=None, quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=list(cfg.ops), per_channel=cfg.per_channel,
                        activation_type=QuantType.QInt8 if sym else QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=METHODS[cfg.method], extra_options=extra, nodes_to_exclude=exclude,
                        calibration_cache_path=str(cache))
        q = onnx.load(str(q_path))
        del q.metadata_props[:]
        for k, v in sorted(_int8_metadata(original, cfg, windows, src).items()):
            entry = q.metadata_props.add()
            entry.key, entry.value = k, v
        qdq = sum(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in q.graph.node)
        final = work / "final.onnx"
        onnx.save_model(q, str(final), save_as_external_data=False)
        os.replace(final, out)
    return QuantResult(out, ranges, int(len(windows)), qdq)
