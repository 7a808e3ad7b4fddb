"""Fuzzed model metadata: the ``crossglg.*`` metadata_props dict (edge.engines.base.ModelMeta.from_props),
and real ONNX files (a tiny hand-built graph, the shipped test model) whose metadata or bytes are damaged,
loaded by ONNX Runtime through :class:`edge.engines.onnx.OnnxEngine` and :func:`read_onnx_metadata`.

Property: a :class:`ModelMeta` that holds together (frames, bodies, embedding_dim >= 1, classes a tuple
of strings, a centre of D finite floats or none) or a ValueError naming the file (or the caller's
``where``) and the field.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fuzz_helpers import assert_clear, fuzz_settings, guarded, mutated_bytes, record, write
from hypothesis import example, given
from hypothesis import strategies as st

from crossglg.model_meta import read_onnx_metadata
from edge.engines.base import ModelMeta
from edge.engines.onnx import OnnxEngine

onnx = pytest.importorskip("onnx")
ASSET = Path(__file__).resolve().parents[2] / "assets" / "crossglg_realdata.onnx"
FRAMES, DIM = 16, 6
WHERE = "model.onnx: metadata_props"

GOOD = {
    "crossglg.classes": json.dumps(["wave", "clap"]), "crossglg.layout": "ntu25", "crossglg.frames": str(FRAMES),
    "crossglg.bodies": "1", "crossglg.embedding_dim": str(DIM), "crossglg.preprocess_id": "crossglg-pp/1;frames=16",
    "crossglg.fingerprint": "ab" * 32, "crossglg.model_id": "tiny-fuzz",
    "crossglg.embedding_center": json.dumps([0.1] * DIM), "crossglg.quantization": json.dumps({"target": "tensorrt"}),
    "crossglg.open_set": json.dumps({"threshold": 0.42, "margin": 0.05, "dc_margin": 0.2, "target_far": 0.1,
                                     "ranking": "cosine"}),
}  # fmt: skip

_VALUES = st.one_of(
    st.sampled_from(("", " ", "0", "-1", "1", "16", "1e3", "16.0", "\uff11\uff16", "9" * 5000, "nan", "null", "true",
                     "[]", "{}", '["a", 1]', '"x"', "[" * 100_000, "[1e400]", "[NaN]", '{"target": 1}', "[0.1]",
                     json.dumps([0.1] * DIM), json.dumps([0.1] * (DIM + 1)), "\x00", "x" * 100_000,
                     '{"threshold": 2}', '{"threshold": 0.4, "margin": -1}', '{"threshold": 0.4, "target_far": "x"}',
                     '{"threshold": 0.4}', '{"threshold": 0.4, "ranking": "DC"}', '{"threshold": 0.4, "ranking": ["dc"]}')),
    st.text(max_size=12),
)  # fmt: skip
_KEYS = st.sampled_from((*GOOD, "crossglg.extra", "crossglg.", "other.key", "crossglg.classes "))


@st.composite
def props(draw: st.DrawFn) -> dict[str, str]:
    out = dict(GOOD)
    for _ in range(draw(st.integers(1, 4))):
        key = draw(_KEYS)
        if draw(st.integers(0, 4)) == 0:
            out.pop(key, None)
        else:
            out[key] = draw(_VALUES)
    return out


def _meta_ok(meta: ModelMeta) -> ModelMeta:
    assert isinstance(meta, ModelMeta)
    assert isinstance(meta.frames, int) and meta.frames >= 1 and isinstance(meta.bodies, int) and meta.bodies >= 1
    assert isinstance(meta.embedding_dim, int) and meta.embedding_dim >= 1
    assert isinstance(meta.classes, tuple) and all(isinstance(c, str) for c in meta.classes)
    for text in (meta.layout, meta.preprocess_id, meta.fingerprint, meta.model_id):
        assert isinstance(text, str)
    c = meta.embedding_center
    assert c is None or (c.shape == (meta.embedding_dim,) and np.isfinite(c).all())
    o = meta.open_set  # calibrated open-set values: absent, or in range
    assert o is None or (-1 <= o.params.threshold <= 1 and 0 <= o.params.margin <= 2 and 0 <= o.params.dc_margin <= 1)
    assert o is None or o.ranking in (None, "cosine", "dc")
    json.dumps(meta.to_dict())  # the sidecar / payload form stays JSON
    return meta


@fuzz_settings(250)
@given(p=props())
@example(p={**GOOD, "crossglg.frames": "0"})  # regression: the error did not name the file
@example(p={**GOOD, "crossglg.classes": "[" * 100_000})  # regression: RecursionError from json
@example(p={**GOOD, "crossglg.embedding_center": "[" * 100_000})  # regression: RecursionError
@example(p={**GOOD, "crossglg.embedding_center": json.dumps([0.1] * (DIM + 1))})  # regression: no file named
def test_metadata_props(p: dict[str, str]) -> None:
    out, exc = guarded(lambda: _meta_ok(ModelMeta.from_props(p, where=WHERE)), (ValueError,))
    record("ONNX metadata_props", exc is not None)
    if exc is not None:
        assert_clear(exc, WHERE)


def _tiny_model(props: dict[str, str]):
    """A real (tiny) ONNX graph honouring the contract: skeleton (N, 3, 16, 25, 1) -> embedding (N, 6)."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.linspace(-1, 1, 3 * DIM, dtype=np.float32).reshape(3, DIM), "w")
    nodes = [helper.make_node("ReduceMean", ["skeleton"], ["pooled"], axes=[2, 3, 4], keepdims=0),
             helper.make_node("MatMul", ["pooled", "w"], ["embedding"])]  # fmt: skip
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("skeleton", TensorProto.FLOAT, ["N", 3, FRAMES, 25, 1])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", DIM])], [w],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    for k, v in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    return model


def _engine_ok(path: Path) -> ModelMeta:
    with OnnxEngine(path, provider="cpu", threads=1) as eng:
        meta = _meta_ok(eng.meta)
        assert meta.frames == FRAMES or not path.name.startswith("tiny")
        emb = eng.embed(np.zeros((1, 3, meta.frames, 25, meta.bodies), np.float32))
        assert emb.shape[0] == 1
    _meta_ok(ModelMeta.from_dict({k: v for k, v in read_onnx_metadata(path).items()}, where=str(path)))
    return meta


def _check_engine(path: Path) -> None:
    out, exc = guarded(lambda: _engine_ok(path), (ValueError,))
    record("ONNX model files (metadata, bytes)", exc is not None)
    if exc is not None:
        assert_clear(exc, path)


@fuzz_settings(40)
@given(p=props(), damage=st.sampled_from((False, False, False, True)), data=st.data())
@example(p=GOOD, damage=False, data=None)
def test_tiny_onnx_files(p: dict[str, str], damage: bool, data, fuzz_dir: Path) -> None:
    raw = _tiny_model(p).SerializeToString()
    if damage and data is not None:
        raw = data.draw(mutated_bytes(raw), label="bytes")
    _check_engine(write(fuzz_dir / "onnx" / "tiny.onnx", raw))


@fuzz_settings(3)
@given(p=props())
def test_real_model_with_damaged_metadata(p: dict[str, str], fuzz_dir: Path) -> None:
    """The shipped test model (T=32, D=256, 51 classes) with its metadata edited like the props above."""
    model = onnx.load(str(ASSET))
    real = {e.key: e.value for e in model.metadata_props}
    edited = {**real, **{k: v for k, v in p.items() if v != GOOD.get(k)}}
    for k in [k for k in real if k in GOOD and k not in p]:
        edited.pop(k)
    del model.metadata_props[:]
    for k, v in edited.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    path = fuzz_dir / "onnx" / "real.onnx"
    onnx.save(model, str(path))
    _check_engine(path)
