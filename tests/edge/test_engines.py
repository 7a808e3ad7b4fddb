"""Engines on a real exported CrossGLG model: ONNX Runtime == torch, .pt engine == ONNX engine,
metadata round trip, input validation, suffix dispatch, and a torch-free import of edge.engines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.engines import Engine, EngineUnavailableError, ModelMeta, backend_for, check_window, load_engine
from edge.engines.onnx import OnnxEngine, choose_providers

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-4


def _torch_forward(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import torch

    with torch.no_grad():
        emb, logits = model(torch.from_numpy(x))
    return emb.numpy(), logits.numpy()


def test_importing_engines_does_not_import_torch(tiny_onnx: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "import edge.engines, edge.engines.loader, edge.engines.onnx, edge.engines.tensorrt, edge.engines.trt_plan\n"
        "import edge.commands.build_engine\n"
        "from edge.engines import load_engine\n"
        f"e = load_engine({str(tiny_onnx)!r}, provider='cpu', threads=1)\n"
        "e.embed(np.zeros((1, 3, e.meta.frames, 25, 1), np.float32))\n"
        "bad = [m for m in ('torch', 'transformers', 'tensorrt', 'onnx') if m in sys.modules]\n"
        "print(','.join(bad) or 'clean')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "clean"


def test_onnx_engine_matches_torch(tiny_model, windows: np.ndarray) -> None:
    with load_engine(tiny_model.onnx_path, provider="cpu", threads=1) as engine:
        assert isinstance(engine, Engine)  # the Protocol the pipeline codes against
        assert engine.backend == "onnxruntime" and engine.has_logits and engine.joints == 25
        emb, logits = engine.embed_and_logits(windows)
        emb_only = engine.embed(windows[:1])
    ref_emb, ref_logits = _torch_forward(tiny_model.model, windows)
    assert emb.shape == (4, 256) and emb.dtype == np.float32 and logits.shape == (4, 4)
    np.testing.assert_allclose(emb, ref_emb, atol=TOL, rtol=0)
    np.testing.assert_allclose(logits, ref_logits, atol=TOL, rtol=0)
    # batch composition does not change a window's embedding
    np.testing.assert_allclose(emb_only[0], emb[0], atol=1e-5, rtol=0)
    # windows differ, so embeddings differ (the comparison above is not vacuous)
    assert np.abs(emb[0] - emb[1]).max() > 1e-3


def test_pt_engine_matches_onnx_engine(tiny_model, windows: np.ndarray) -> None:
    with load_engine(tiny_model.pt_path, threads=1) as pt, load_engine(tiny_model.onnx_path, provider="cpu") as ox:
        assert pt.backend == "torch"
        np.testing.assert_allclose(pt.embed(windows), ox.embed(windows), atol=TOL, rtol=0)
        np.testing.assert_allclose(pt.logits(windows), ox.logits(windows), atol=TOL, rtol=0)
        # same weights -> same fingerprint and metadata, whichever file they come from
        assert pt.meta.fingerprint == ox.meta.fingerprint
        for field in ("classes", "layout", "frames", "embedding_dim", "preprocess_id", "model_id", "bodies"):
            assert getattr(pt.meta, field) == getattr(ox.meta, field), field


def test_metadata_round_trip(tiny_model) -> None:
    from crossglg.model.export import weights_fingerprint
    from crossglg.model_meta import read_onnx_metadata

    with OnnxEngine(tiny_model.onnx_path, provider="cpu") as engine:
        meta = engine.meta
        info = engine.describe()
    assert meta.classes == tiny_model.classes
    assert meta.preprocess_id == tiny_model.preprocess_id
    assert meta.frames == 16 and meta.embedding_dim == 256 and meta.bodies == 1 and meta.layout == "ntu25"
    assert meta.model_id == "tiny-test"
    assert meta.fingerprint == weights_fingerprint(tiny_model.model)
    assert json.loads(meta.extra["model_config"])["frames"] == 16  # extra keys kept verbatim
    # the exporter's own torch-free reader sees the same values
    raw = read_onnx_metadata(tiny_model.onnx_path)
    assert ModelMeta.from_dict(raw) == meta
    assert info["backend"] == "onnxruntime" and info["providers"] == ["CPUExecutionProvider"]
    # and the dataclass survives its JSON form
    assert ModelMeta.from_dict(json.loads(json.dumps(meta.to_dict()))) == meta


def test_model_meta_validation() -> None:
    assert ModelMeta.from_props({"crossglg.classes": '["a", "b"]', "crossglg.frames": "32", "other": "x"}).classes == ("a", "b")
    with pytest.raises(ValueError, match="classes"):
        ModelMeta.from_props({"crossglg.classes": "[1, 2]"})
    with pytest.raises(ValueError, match="classes"):
        ModelMeta.from_props({"crossglg.classes": "not json"})
    with pytest.raises(ValueError, match="frames"):
        ModelMeta.from_props({"crossglg.frames": "sixty"})
    with pytest.raises(ValueError, match="embedding_dim"):
        ModelMeta(embedding_dim=0)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda w: w[0], r"\(N, 3, T, V, M\) \(5 axes\)"),
        (lambda w: w[:, :, :8], "axis T must be 16"),
        (lambda w: w[:, :, :, :18], "axis V must be 25"),
        (lambda w: np.concatenate([w, w], axis=4), "axis M must be 1"),
        (lambda w: w[:, :2], "axis C must be 3"),
        (lambda w: w[:0], "batch is empty"),
        (lambda w: w.astype(np.int32), "float32"),
        (lambda w: w.tolist(), "numpy array"),
        (lambda w: np.where(np.arange(w.size).reshape(w.shape) == 5, np.nan, w), "NaN"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_expectation(tiny_onnx: Path, windows: np.ndarray, make, match) -> None:
    with OnnxEngine(tiny_onnx, provider="cpu") as engine, pytest.raises(ValueError, match=match):
        engine.embed(make(windows))


def test_float64_input_is_accepted_and_closed_engine_refuses(tiny_onnx: Path, windows: np.ndarray) -> None:
    engine = OnnxEngine(tiny_onnx, provider="cpu")
    a = engine.embed(windows.astype(np.float64))
    assert a.dtype == np.float32
    with OnnxEngine(tiny_onnx, provider="cpu", threads=1, spin=False) as quiet:
        np.testing.assert_allclose(quiet.embed(windows), a, atol=1e-5, rtol=0)
    engine.close()
    engine.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        engine.embed(windows)


def test_check_window_dynamic_axes() -> None:
    x = np.zeros((2, 3, 7, 18, 2), np.float64)
    out = check_window(x, frames=None, joints=None, bodies=None)
    assert out.dtype == np.float32 and out.flags.c_contiguous


def test_embedding_only_model_has_no_logits(tmp_path: Path, tiny_model, windows: np.ndarray) -> None:
    from crossglg.model import SkeletonBranch
    from train.torch_engine import save_inference_checkpoint

    model = SkeletonBranch(tiny_model.model.cfg, with_classifier=False).eval()
    save_inference_checkpoint(tmp_path / "emb.pt", model, {"classes": []})
    with load_engine(tmp_path / "emb.pt") as engine:
        assert not engine.has_logits
        emb, logits = engine.embed_and_logits(windows)
        assert emb.shape == (4, 256) and logits is None
        with pytest.raises(ValueError, match="no logits"):
            engine.logits(windows)


def test_training_checkpoint_loads_as_torch_engine(tmp_path: Path, tiny_model, windows: np.ndarray) -> None:
    import torch

    from crossglg.model import CrossGLGModel

    full = CrossGLGModel(tiny_model.model.cfg)
    full.skeleton.load_state_dict(tiny_model.model.state_dict())
    ckpt = {"format": "crossglg-ckpt/1", "epoch": 1, "model": full.state_dict(), "config": {},
            "model_config": full.cfg.to_dict(), "class_names": list(tiny_model.classes), "layout": "ntu25",
            "preprocess": {}, "preprocess_id": tiny_model.preprocess_id}
    torch.save(ckpt, tmp_path / "train.pt")
    with load_engine(tmp_path / "train.pt") as pt, load_engine(tiny_model.onnx_path, provider="cpu") as ox:
        np.testing.assert_allclose(pt.embed(windows), ox.embed(windows), atol=TOL, rtol=0)
        assert pt.meta.classes == tiny_model.classes and pt.meta.fingerprint == ox.meta.fingerprint


def test_suffix_dispatch_and_file_errors(tmp_path: Path) -> None:
    assert backend_for("m.onnx") == "onnxruntime" and backend_for("M.ENGINE") == "tensorrt"
    assert backend_for("m.plan") == "tensorrt" and backend_for("m.pt") == "torch"
    with pytest.raises(ValueError, match=r"unknown model file type '\.tflite'.*\.onnx"):
        load_engine(tmp_path / "m.tflite")
    with pytest.raises(ValueError, match="no suffix"):
        load_engine(tmp_path / "model")
    for name in ("missing.onnx", "missing.engine", "missing.pt"):
        with pytest.raises(FileNotFoundError, match="not found"):
            load_engine(tmp_path / name)
    (tmp_path / "junk.onnx").write_bytes(b"this is not a protobuf")
    with pytest.raises(ValueError, match="not a loadable ONNX"):
        load_engine(tmp_path / "junk.onnx")
    (tmp_path / "junk.pt").write_bytes(b"nor a zip")
    with pytest.raises(ValueError, match="weights-only"):
        load_engine(tmp_path / "junk.pt")


def test_onnx_with_other_io_names_is_rejected(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    onnx.save(model, tmp_path / "other.onnx")
    with pytest.raises(ValueError, match="expected input 'skeleton' and output 'embedding'"):
        load_engine(tmp_path / "other.onnx")


def test_provider_choice() -> None:
    assert choose_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    both = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers("auto", both) == both and choose_providers("cuda", both) == both
    assert choose_providers("cpu", both) == ["CPUExecutionProvider"]
    with pytest.raises(EngineUnavailableError, match="onnxruntime-gpu"):
        choose_providers("cuda", ["CPUExecutionProvider"])
    with pytest.raises(ValueError, match="provider"):
        choose_providers("tpu", both)
