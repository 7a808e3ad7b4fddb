"""Fused (inference-equivalent) export: same function as the trained branch, leaner ORT graph."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from crossglg.model import ModelConfig, SkeletonBranch
from crossglg.model.export import export_onnx, weights_fingerprint
from crossglg.model.export_fused import FUSED_GRAPH_VERSION, fuse_for_export
from crossglg.model_meta import read_onnx_metadata


def _trained_like(cfg: ModelConfig, calibrate_bn) -> SkeletonBranch:
    """BN statistics from data, plus non-trivial affines/topologies so every fold is exercised.

    q/k weights are scaled down to trained-model logit ranges: with the N(0, 1) init the attention
    is a near-hard argmax, where float32 rounding alone flips rows (an ill-posed comparison)."""
    torch.manual_seed(0)
    branch = SkeletonBranch(cfg)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for mod in branch.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
                mod.weight.copy_(0.5 + torch.rand(mod.weight.shape, generator=gen))
                mod.bias.copy_(0.2 * torch.randn(mod.bias.shape, generator=gen))
        for blk in branch.encoder.blocks:
            blk.gcn.shared_topology.add_(0.1 * torch.rand(blk.gcn.shared_topology.shape, generator=gen))
            blk.gcn.head_bias.copy_(0.1 * torch.randn(blk.gcn.head_bias.shape, generator=gen))
            blk.gcn.to_qk.weight.mul_(0.1)
    return calibrate_bn(branch, (4, cfg.in_channels, cfg.frames, 25, cfg.max_bodies))


@pytest.mark.parametrize(("bodies", "g2l", "mix", "jid"), [(1, True, 0.5, 2), (2, True, 1.0, 2), (1, True, 0.5, 1),
                                                          (1, False, 0.5, 2)])
def test_fused_module_computes_the_same_function(calibrate_bn, bodies: int, g2l: bool, mix: float, jid: int) -> None:
    cfg = ModelConfig(num_classes=7, frames=12, max_bodies=bodies, g2l=g2l, jid_mix=mix, n_pre=2, jid_version=jid)
    branch = _trained_like(cfg, calibrate_bn)
    before = copy.deepcopy(branch.state_dict())
    x = torch.randn(3, 3, 12, 25, bodies, generator=torch.Generator().manual_seed(1))
    # float64: the rewrite is exact algebra, so the difference is far below float32 rounding (~1e-7)
    b64 = copy.deepcopy(branch).double()
    with torch.no_grad():
        ref_emb, ref_logits = b64(x.double())
        emb, logits = fuse_for_export(b64)(x.double())
    scale = float(ref_emb.abs().max())
    assert scale > 1e-2
    assert float((emb - ref_emb).abs().max()) / scale < 1e-8
    assert float((logits - ref_logits).abs().max()) / float(ref_logits.abs().max()) < 1e-8
    # float32: the same tolerance as the export contract; the trained state_dict is untouched
    with torch.no_grad():
        ref32 = branch(x)[0]
        got32 = fuse_for_export(branch)(x)[0]
    assert float((got32 - ref32).abs().max()) / float(ref32.abs().max()) < 1e-4
    assert all(torch.equal(before[k], v) for k, v in branch.state_dict().items())


def test_fused_rejects_other_encoders(tmp_path: Path) -> None:
    branch = SkeletonBranch(ModelConfig(encoder="stgcn", num_classes=3, frames=8))
    with pytest.raises(ValueError, match="InfoGCN"):
        fuse_for_export(branch)
    with pytest.raises(ValueError, match="InfoGCN"):
        export_onnx(branch, tmp_path / "m.onnx", fused=True)


@pytest.fixture(scope="module")
def fused_export(tmp_path_factory, calibrate_bn) -> tuple[SkeletonBranch, Path]:
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    try:
        cfg = ModelConfig(num_classes=5, frames=16, max_bodies=2, g2l=True, n_pre=3)
        branch = _trained_like(cfg, calibrate_bn)
        path = export_onnx(branch, tmp_path_factory.mktemp("fused") / "m.onnx", {"classes": json.dumps(list("abcde"))})
    finally:
        torch.set_flush_denormal(False)
    return branch, path


@pytest.mark.parametrize("batch", [1, 3])
def test_fused_onnx_matches_torch_with_dynamic_batch(fused_export, batch: int) -> None:
    branch, path = fused_export
    x = torch.randn(batch, 3, 16, 25, 2, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        emb, logits = branch(x)  # the trained module itself, not the rewrite
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    got_emb, got_logits = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]).run(
        None, {"skeleton": x.numpy()})
    scale = float(emb.abs().max())
    assert np.abs(got_emb - emb.numpy()).max() / scale < 1e-4
    assert np.abs(got_logits - logits.numpy()).max() / float(logits.abs().max()) < 1e-4


def test_fused_graph_shape_and_metadata(fused_export, tmp_path: Path) -> None:
    branch, path = fused_export
    meta = read_onnx_metadata(path)
    assert meta["graph"] == FUSED_GRAPH_VERSION
    assert meta["fingerprint"] == weights_fingerprint(branch)  # trained weights, not the folded ones
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert "BatchNormalization" not in ops and "Einsum" not in ops
    blocks = len(branch.encoder.blocks)
    # per block (fused-cl/2): k for the logits, MS-TCN in and out; q and the attention are laid out
    # (joint, head) from the start; the stem transposes the raw input once
    assert ops.count("Transpose") <= 3 * blocks + 1
    # ORT absorbs the transpose after each MS-TCN into a channels-last reorder of its NCHWc output
    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "opt.onnx")
    opts.log_severity_level = 3
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    opt = onnx.load(str(tmp_path / "opt.onnx")).graph.node
    cl = [n for n in opt if n.op_type == "ReorderOutput"
          and any(a.name == "channels_last" and a.i == 1 for a in n.attribute)]
    assert len(cl) == blocks
    # ORT folds k's transpose into the logits MatMul (FusedMatMul transB): what stays is one
    # transpose in front of each MS-TCN and the stem's
    assert sum(n.op_type == "FusedMatMul" for n in opt) == blocks
    assert sum(n.op_type == "Transpose" for n in opt) <= blocks + 1
    plain = export_onnx(branch, tmp_path / "plain.onnx", fused=False)
    assert read_onnx_metadata(plain)["graph"] == "module"
    assert [n.op_type for n in onnx.load(str(plain)).graph.node].count("Transpose") > ops.count("Transpose")
