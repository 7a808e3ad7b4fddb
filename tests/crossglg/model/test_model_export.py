"""ONNX export: one self-contained file, dynamic batch, metadata, ONNX Runtime parity with torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from crossglg.model import ModelConfig, SkeletonBranch
from crossglg.model.export import export_onnx, weights_fingerprint
from crossglg.model_meta import REQUIRED_KEYS, decode_classes, read_onnx_metadata

CLASSES = [f"class {i}" for i in range(100)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, calibrate_bn) -> tuple[SkeletonBranch, Path]:
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    try:
        model = calibrate_bn(SkeletonBranch(ModelConfig(num_classes=100, frames=64)), (4, 3, 64, 25, 1))
        path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "model.onnx",
                           {"classes": json.dumps(CLASSES), "preprocess_id": "crossglg-pp/1;test"})
    finally:
        torch.set_flush_denormal(False)
    return model, path


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def test_single_file_with_dynamic_batch(exported) -> None:
    _, path = exported
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.onnx"]  # no .onnx.data, no temp leftovers
    sess = _session(path)
    (inp,) = sess.get_inputs()
    assert inp.name == "skeleton" and inp.shape[1:] == [3, 64, 25, 1] and not isinstance(inp.shape[0], int)
    assert [o.name for o in sess.get_outputs()] == ["embedding", "logits"]
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert not ops & {"IsNaN", "IsInf"}, "input validation must not be traced into the graph"


@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_runtime_matches_torch(exported, batch: int) -> None:
    model, path = exported
    x = torch.randn(batch, 3, 64, 25, 1, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        emb, logits = model(x)
    got_emb, got_logits = _session(path).run(None, {"skeleton": x.numpy()})
    assert got_emb.shape == (batch, 256) and got_logits.shape == (batch, 100)
    assert float(emb.abs().max()) > 1e-2  # a meaningful comparison, not two zero vectors
    np.testing.assert_allclose(got_emb, emb.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(got_logits, logits.numpy(), atol=1e-4, rtol=0)


def test_metadata(exported) -> None:
    model, path = exported
    meta = read_onnx_metadata(path)
    assert set(REQUIRED_KEYS) <= set(meta)
    assert decode_classes(meta) == CLASSES
    assert meta["layout"] == "ntu25" and meta["frames"] == "64" and meta["bodies"] == "1"
    assert meta["embedding_dim"] == "256" and meta["preprocess_id"] == "crossglg-pp/1;test"
    assert meta["fingerprint"] == weights_fingerprint(model)
    assert meta["exporter"] in ("dynamo", "torchscript")
    assert ModelConfig.from_dict(json.loads(meta["model_config"])) == model.cfg
    raw = read_onnx_metadata(path, strip_prefix=False)
    assert all(k.startswith("crossglg.") for k in raw)


def test_metadata_reader_needs_no_torch(exported) -> None:
    _, path = exported
    code = ("import sys, json; from crossglg.model_meta import read_onnx_metadata; "
            f"m = read_onnx_metadata({str(path)!r}); "
            "assert 'torch' not in sys.modules, 'torch imported'; print(json.dumps(m))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["layout"] == "ntu25"


def test_reader_and_exporter_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        read_onnx_metadata(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not an onnx model at all")
    with pytest.raises(ValueError, match="junk.onnx"):
        read_onnx_metadata(junk)
    with pytest.raises(ValueError, match="must be a string"):
        export_onnx(SkeletonBranch(ModelConfig(num_classes=3, frames=8)), tmp_path / "m.onnx", {"frames": 8})
    with pytest.raises(ValueError, match="input_shape"):
        export_onnx(torch.nn.Linear(3, 3), tmp_path / "m.onnx")
