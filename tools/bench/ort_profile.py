"""Read ONNX Runtime profiles: milliseconds per op type and the GEMM / non-GEMM split.

An ORT profile (``SessionOptions.enable_profiling``) holds one ``*_kernel_time`` event per node and
run, with the node's op type and input/output shapes. From it:

* :func:`op_ms`: milliseconds per run per op type (each node's median over the profiled runs);
* :func:`gemm_split`: the time of the GEMM-like nodes (Conv, Gemm, MatMul and their fused and
  integer forms), their FLOPs computed from the recorded shapes, the rate they reach (GFLOP/s),
  and the time of everything else. Two graphs with the same FLOPs whose GEMMs run at the same rate
  can only differ in the non-GEMM time: ``gemm_ms + non_gemm_ms`` over ``gemm_ms`` is the most a
  rewrite that removed every non-GEMM node could gain.

Used by ``model_latency.py`` and ``onnx_ab.py``; no torch import (fast to load).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

# op type -> index of the weight input whose dims after the first give the reduction size of a conv
_CONV_WEIGHT = {"Conv": 1, "FusedConv": 1, "NhwcConv": 1, "QLinearConv": 3}
_GEMM = {"Gemm", "FusedGemm", "QGemm"}
_MATMUL = {"MatMul", "FusedMatMul", "MatMulInteger", "MatMulIntegerToFloat", "QLinearMatMul", "Einsum"}


def _kernel_events(profile_json: str | Path) -> list[dict]:
    events = json.loads(Path(profile_json).read_text())
    return [e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]


def _shapes(entries: list[dict]) -> list[list[int]]:
    return [list(next(iter(e.values()))) for e in entries]


def node_flops(op: str, inputs: list[list[int]], outputs: list[list[int]]) -> int:
    """Multiply-add FLOPs (2 per MAC) of one GEMM-like node from its shapes; 0 for other ops or
    when a shape is missing. Einsum counts 0 (its equation is not in the profile)."""
    try:
        out = outputs[0]
        if op in _CONV_WEIGHT:
            weight = inputs[_CONV_WEIGHT[op]]
            if len(weight) != len(out):  # weight shape not recorded (prepacked NHWC kernels)
                return 0
            return 2 * math.prod(out) * math.prod(weight[1:])
        if op in _GEMM:  # (M, K) x (K, N) -> (M, N); ORT records A as stored (transA is rare here)
            return 2 * math.prod(out) * inputs[0][-1]
        if op in _MATMUL and op != "Einsum":  # A is input 0 in every form (also QLinearMatMul)
            return 2 * math.prod(out) * inputs[0][-1]
    except (IndexError, TypeError):
        return 0
    return 0


def _per_node(profile_json: str | Path) -> dict[str, tuple[str, list[float], int]]:
    """node name -> (op type, durations in ms, FLOPs); each profile file is parsed once."""
    return _parse(str(Path(profile_json).resolve()))


@lru_cache(maxsize=16)
def _parse(profile_json: str) -> dict[str, tuple[str, list[float], int]]:
    nodes: dict[str, tuple[str, list[float], int]] = {}
    for e in _kernel_events(profile_json):
        args = e.get("args", {})
        op = args.get("op_name", "?")
        if e["name"] not in nodes:
            flops = node_flops(op, _shapes(args.get("input_type_shape", [])), _shapes(args.get("output_type_shape", [])))
            nodes[e["name"]] = (op, [], flops)
        nodes[e["name"]][1].append(float(e.get("dur", 0)) / 1e3)
    return nodes


def _median(values: list[float]) -> float:
    s = sorted(values)
    return s[len(s) // 2]


def op_ms(profile_json: str | Path, runs: int) -> dict[str, float]:
    """Milliseconds per run per op type: each node's median over the ``runs`` profiled runs (robust
    to the odd preempted run on a shared machine), summed per op type; ``runs=1`` sums everything."""
    per_op: dict[str, float] = defaultdict(float)
    for op, durs, _ in _per_node(profile_json).values():
        per_op[op] += sum(durs) if runs == 1 else _median(durs)
    return dict(sorted(per_op.items(), key=lambda kv: -kv[1]))


def gemm_split(profile_json: str | Path) -> dict[str, float]:
    """GEMM-like vs other node time per run (medians per node), GEMM FLOPs and rate.

    Returns ``{"gemm_ms", "gemm_gflop", "gemm_gflops" (rate over the nodes whose FLOPs the profile
    shapes give), "unknown_flop_nodes" (e.g. ORT's NHWC QLinearConv records no weight shape; Einsum),
    "non_gemm_ms", "total_ms", "max_gain_without_non_gemm" (total / gemm)}``."""
    gemm_ms = other_ms = known_ms = 0.0
    flops = unknown = 0
    for op, durs, f in _per_node(profile_json).values():
        med = _median(durs)
        if op in _CONV_WEIGHT or op in _GEMM or op in _MATMUL:
            gemm_ms += med
            if f > 0:
                flops, known_ms = flops + f, known_ms + med
            else:
                unknown += 1
        else:
            other_ms += med
    total = gemm_ms + other_ms
    return {"gemm_ms": round(gemm_ms, 3), "gemm_gflop": round(flops / 1e9, 4),
            "gemm_gflops": round(flops / known_ms / 1e6, 1) if known_ms else 0.0,
            "unknown_flop_nodes": unknown, "non_gemm_ms": round(other_ms, 3), "total_ms": round(total, 3),
            "max_gain_without_non_gemm": round(total / gemm_ms, 3) if gemm_ms else 0.0}
