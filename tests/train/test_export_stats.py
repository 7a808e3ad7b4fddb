"""`crossglg-train export` carries the base statistics: the embedding centre in the ONNX metadata and
the per-class statistics in ``<model>.onnx.basestats.npz``, both readable by the edge (torch-free).

Here without a torch export (a one-node ONNX stands in); the real export of a trained checkpoint,
with the same checks through the edge's readers, is in test_train_pipeline.py (one shared export)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from crossglg.basestats import DEFAULT_RANK, low_rank, read_base_stats_info
from crossglg.model_meta import decode_center
from crossglg.oneshot import base_statistics
from train.checkpoint import FORMAT, save_checkpoint, stats_to_payload
from train.config import load_config, to_dict
from train.prepare import build_model, model_config, preprocess_config

CLASSES = ["a", "b", "c"]


def _checkpoint(path: Path, with_stats: bool) -> dict:
    """A final checkpoint of an untrained tiny baseline model (T=16) with real base statistics of
    embeddings that share a large common offset, as trained encoders' do."""
    torch.manual_seed(0)
    cfg = load_config(None, ["data.frames=16", "model.variant=baseline"])
    model = build_model(model_config(cfg, len(CLASSES), None), cfg)
    d = model.cfg.embed_dim
    rng = np.random.default_rng(0)
    feats = 5.0 + rng.normal(0, 0.3, (3, 1, d)) + rng.normal(0, 0.1, (3, 20, d))  # (classes, samples, D)
    st = base_statistics(feats.reshape(-1, d), np.repeat(np.arange(3), 20))
    pcfg = preprocess_config(cfg)
    payload = {
        "format": FORMAT, "epoch": 1, "model": model.state_dict(), "config": to_dict(cfg),
        "model_config": model.cfg.to_dict(), "class_names": CLASSES, "protocol": "custom", "layout": "ntu25",
        "preprocess": pcfg.to_dict(), "preprocess_id": pcfg.id,
        "base_stats": stats_to_payload(st.means, st.covs, st.beta, CLASSES) if with_stats else None,
    }  # fmt: skip
    save_checkpoint(path, payload)
    return {"stats": st, "raw_mean": feats.mean(axis=(0, 1))}


def _tiny_onnx(path: Path, fingerprint: str) -> Path:
    """A one-node ONNX (Identity) with a fingerprint: enough for the sidecar logic, no torch export."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])  # fmt: skip
    model = helper.make_model(graph)
    entry = model.metadata_props.add()
    entry.key, entry.value = "crossglg.fingerprint", fingerprint
    onnx.save(model, str(path))
    return path


def test_sidecar_and_center_from_checkpoint_round_trip(tmp_path: Path) -> None:
    from edge.calibration import load_base_stats
    from train.checkpoint import load_checkpoint
    from train.export_stats import center_metadata, write_export_sidecar

    info = _checkpoint(tmp_path / "final.pt", with_stats=True)
    ckpt = load_checkpoint(tmp_path / "final.pt")
    d = info["stats"].means.shape[1]
    center = np.array(decode_center(center_metadata(ckpt), d))
    np.testing.assert_allclose(center, info["raw_mean"], rtol=2e-3)  # estimated centre ~ the raw mean
    onnx_path = _tiny_onnx(tmp_path / "m.onnx", "f" * 64)
    side = write_export_sidecar(onnx_path, ckpt)
    assert side == tmp_path / "m.onnx.basestats.npz"
    stats = load_base_stats(side)
    # the sidecar holds the compact form of the checkpoint's covariances; every variance is kept
    covs = info["stats"].covs
    np.testing.assert_allclose(stats.covs, low_rank(covs, DEFAULT_RANK).expand(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.einsum("bdd->bd", stats.covs), np.einsum("bdd->bd", covs), rtol=1e-3)
    sinfo = read_base_stats_info(side)
    assert sinfo.fingerprint == "f" * 64 and sinfo.classes == tuple(CLASSES)
    np.testing.assert_allclose(sinfo.center, center, rtol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.pt", "m.onnx", "m.onnx.basestats.npz"]

    _checkpoint(tmp_path / "mid.pt", with_stats=False)  # an intermediate checkpoint: no centre, stale sidecar gone
    mid = load_checkpoint(tmp_path / "mid.pt")
    assert center_metadata(mid) == {}
    assert write_export_sidecar(onnx_path, mid) is None and not side.exists()
