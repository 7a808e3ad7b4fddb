"""tools/bench/ort_profile.py on a real ONNX Runtime profile of a small generated graph."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools" / "bench"))
import ort_profile  # noqa: E402

M, K, N = 64, 32, 16  # Gemm (M, K) x (K, N)
C_IN, C_OUT, T, V, KT = 8, 4, 12, 5, 3  # Conv (1, C_IN, T, V) * (C_OUT, C_IN, KT, 1), same padding


def _graph(path: Path) -> Path:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((K, N)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(N).astype(np.float32), "b"),
             numpy_helper.from_array(rng.standard_normal((C_OUT, C_IN, KT, 1)).astype(np.float32), "cw")]
    nodes = [helper.make_node("Gemm", ["a", "w", "b"], ["g"], name="gemm"),
             helper.make_node("Transpose", ["g"], ["gt"], perm=[1, 0], name="transpose"),
             helper.make_node("Conv", ["x", "cw"], ["c"], pads=[1, 0, 1, 0], name="conv"),
             helper.make_node("Softmax", ["c"], ["s"], axis=-1, name="softmax")]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [M, K]),
         helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C_IN, T, V])],
        [helper.make_tensor_value_info("gt", TensorProto.FLOAT, [N, M]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, [1, C_OUT, T, V])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def profile_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("ort_profile")
    opts = ort.SessionOptions()
    opts.enable_profiling = True
    opts.profile_file_prefix = str(work / "p")
    opts.intra_op_num_threads = 1
    # basic level: no layout rewrites, so the node types are the file's
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    sess = ort.InferenceSession(str(_graph(work / "m.onnx")), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    feeds = {"a": rng.standard_normal((M, K)).astype(np.float32),
             "x": rng.standard_normal((1, C_IN, T, V)).astype(np.float32)}
    for _ in range(5):
        sess.run(None, feeds)
    return Path(sess.end_profiling())


def test_gemm_split_counts_flops_from_the_recorded_shapes(profile_json: Path) -> None:
    split = ort_profile.gemm_split(profile_json)
    expected = 2 * M * K * N + 2 * (C_OUT * T * V) * (C_IN * KT)
    assert split["gemm_gflop"] == pytest.approx(expected / 1e9, abs=1e-4)
    assert split["unknown_flop_nodes"] == 0
    assert split["gemm_ms"] > 0 and split["non_gemm_ms"] > 0  # Transpose + Softmax are the rest
    assert split["total_ms"] == pytest.approx(split["gemm_ms"] + split["non_gemm_ms"], abs=2e-3)
    assert split["max_gain_without_non_gemm"] > 1.0


def test_op_ms_sums_per_op_type(profile_json: Path) -> None:
    per_op = ort_profile.op_ms(profile_json, runs=5)
    assert {"Gemm", "Conv", "Transpose", "Softmax"} <= set(per_op)
    assert all(v >= 0 for v in per_op.values())
    everything = ort_profile.op_ms(profile_json, runs=1)  # sum over all profiled runs, warm-up included
    assert sum(everything.values()) > sum(per_op.values())


def test_node_flops_unknown_shapes_count_zero() -> None:
    # ORT's NHWC QLinearConv records per-channel scales where the weight would be: no FLOPs claimed
    assert ort_profile.node_flops("QLinearConv", [[1, 8, 8, 16], [], [], [4], [4], [], [], [4]], [[1, 8, 8, 4]]) == 0
    assert ort_profile.node_flops("Einsum", [[2, 3], [3, 4]], [[2, 4]]) == 0
    assert ort_profile.node_flops("Relu", [[2, 3]], [[2, 3]]) == 0
    assert ort_profile.node_flops("MatMul", [[7, 2, 3], [3, 5]], [[7, 2, 5]]) == 2 * 7 * 2 * 5 * 3
