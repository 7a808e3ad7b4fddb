"""CrossGLG guidance: gradients, switches, losses, text-free inference model, checkpoints."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from crossglg.model import CrossGLGModel, ModelConfig, compute_losses, count_parameters
from crossglg.model.crossmodal import CrossModalInteraction
from crossglg.model.losses import LossWeights, mmd_loss, orthogonal_prior

K, V, D_TEXT = 6, 25, 24


def _model(encoder: str = "infogcn", **kw) -> CrossGLGModel:
    cfg = ModelConfig(encoder=encoder, num_classes=K, frames=12, text_dim=D_TEXT, interaction_dim=32,
                      interaction_layers=1, **kw)
    model = CrossGLGModel(cfg)
    model.set_text_guidance(torch.randn(K, V, D_TEXT), torch.softmax(3 * torch.randn(K, V), -1))
    return model


def _batch(n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n, 3, 12, V, 1), torch.arange(n) % K


def _block_grads(model: CrossGLGModel) -> list[float]:
    """Total |grad| per encoder block (0 when no parameter of the block got a gradient)."""
    out = []
    for blk in model.skeleton.encoder.blocks:
        out.append(sum(float(p.grad.abs().sum()) for p in blk.parameters() if p.grad is not None))
    return out


@pytest.mark.parametrize("encoder", ["infogcn", "stgcn"])
def test_cross_modal_loss_reaches_every_encoder_block(encoder: str) -> None:
    model = _model(encoder)
    model.train()
    x, y = _batch()
    out = model(x, y)
    terms = model.losses(out, y)
    terms["cross_ce"].backward()
    grads = _block_grads(model)
    assert all(g > 0 for g in grads), grads
    assert all(p.grad is not None for p in model.cross_modal.parameters())


def test_calibration_loss_reaches_blocks_up_to_n_pre_only() -> None:
    model = _model(n_pre=5)
    model.train()
    x, y = _batch()
    terms = model.losses(model(x, y), y)
    terms["calibrate"].backward()
    grads = _block_grads(model)
    assert all(g > 0 for g in grads[:5]), grads  # k_out is computed from blocks 1..5
    assert all(g == 0 for g in grads[5:]), grads  # later blocks do not influence k_out
    assert model.skeleton.jid.fc1.weight.grad is not None


def test_total_loss_is_the_weighted_sum() -> None:
    model = _model()
    model.train()
    x, y = _batch()
    t = model.losses(model(x, y), y)
    w = LossWeights()
    expected = (t["skeleton_ce"] + w.calibrate * t["calibrate"] + w.cross_modal * t["cross_ce"] + w.mmd * t["mmd"]
                + w.z_mean * t["z_mean"])
    torch.testing.assert_close(t["total"], expected)
    assert w.calibrate == 0.5 and w.cross_modal == 0.2 and w.label_smoothing == 0.1


def test_switches_change_the_parameter_set() -> None:
    names = {key: {n for n, _ in _model(g2l=g2l, l2g=l2g).named_parameters()}
             for key, (g2l, l2g) in {"both": (True, True), "g2l": (True, False), "l2g": (False, True),
                                 "none": (False, False)}.items()}
    assert names["both"] - names["g2l"] == {n for n in names["both"] if n.startswith("cross_modal.")}
    assert names["both"] - names["l2g"] == {n for n in names["both"] if n.startswith("skeleton.jid.")}
    assert not any(n.startswith(("cross_modal.", "skeleton.jid.")) for n in names["none"])
    assert names["none"] == names["g2l"] & names["l2g"]

    base = _model(g2l=False, l2g=False)
    base.train()
    x, y = _batch()
    out = base(x, y)
    assert out.k_out is None and out.logits_c is None
    assert set(base.losses(out, y)) == {"skeleton_ce", "mmd", "z_mean", "total"}


def test_uniform_joint_importance_is_the_identity() -> None:
    """V * k_out reweighting: a uniform k_out must leave the later blocks unchanged."""
    model = _model().eval()
    jid = model.skeleton.jid
    torch.nn.init.zeros_(jid.fc2.weight)
    torch.nn.init.zeros_(jid.fc2.bias)
    x, _ = _batch(2)
    with torch.no_grad():
        final, k_out = model.skeleton.encode(x)
        plain = model.skeleton.encoder(x)
    torch.testing.assert_close(k_out, torch.full((2, V), 1 / V))
    torch.testing.assert_close(final, plain)
    torch.nn.init.normal_(jid.fc2.weight, std=1.0)  # a peaked k_out does change them
    with torch.no_grad():
        assert not torch.allclose(model.skeleton.encode(x)[0], plain, atol=1e-4)


def test_inference_model_is_the_text_free_skeleton_branch() -> None:
    model = _model()
    infer = model.inference_model()
    assert not any(isinstance(m, CrossModalInteraction) for m in infer.modules())
    assert count_parameters(infer) == count_parameters(model) - count_parameters(model.cross_modal)
    code = ("import sys; import crossglg.model.skeleton_branch; "
            "bad = [m for m in sys.modules if m.startswith(('crossglg.text', 'transformers', 'crossglg.model.crossmodal'))];"
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_mmd_prior_and_losses() -> None:
    prior = orthogonal_prior(K, 16, gain=3.0)
    torch.testing.assert_close(prior @ prior.t(), 9.0 * torch.eye(K), atol=1e-4, rtol=0)
    labels = torch.tensor([0, 0, 2])
    z = prior[labels].clone()
    assert float(mmd_loss(z, labels, prior)) == pytest.approx(0.0, abs=1e-10)
    assert float(mmd_loss(z + 1.0, labels, prior)) == pytest.approx(1.0, rel=1e-5)
    logits = torch.randn(3, K)
    with pytest.raises(ValueError, match=r"class ids in \[0, 6\)"):
        compute_losses(logits=logits, z=z, labels=torch.tensor([0, 1, 6]), prior=prior)
    with pytest.raises(ValueError, match="k_gt"):
        compute_losses(logits=logits, z=z, labels=labels, prior=prior, k_out=torch.rand(3, V))


def test_state_dict_round_trip_keeps_the_prior(tmp_path) -> None:
    model = _model().eval()
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "config": model.cfg.to_dict()}, path)
    ckpt = torch.load(path, weights_only=True)
    assert "z_prior" in ckpt["model"] and "text_feats" not in ckpt["model"]
    clone = CrossGLGModel(ModelConfig.from_dict(ckpt["config"]))
    torch.nn.init.zeros_(clone.z_prior)  # must come back from the checkpoint, not from re-initialisation
    clone.load_state_dict(ckpt["model"], strict=True)
    clone.eval()
    torch.testing.assert_close(clone.z_prior, model.z_prior)
    x, _ = _batch(2)
    with torch.no_grad():
        torch.testing.assert_close(clone.inference_model()(x)[0], model.inference_model()(x)[0])


def test_guidance_errors_are_clear() -> None:
    model = CrossGLGModel(ModelConfig(num_classes=K, frames=12, text_dim=D_TEXT, interaction_dim=32))
    model.train()
    x, y = _batch()
    with pytest.raises(ValueError, match="set_text_guidance"):
        model(x, y)
    with pytest.raises(ValueError, match=r"expected shape \(6, 25, 24\)"):
        model.set_text_guidance(torch.randn(K, 18, D_TEXT))
    with pytest.raises(ValueError, match=r"k_gt: expected shape \(6, 25\)"):
        model.set_text_guidance(k_gt=torch.rand(K + 1, V))
    model.set_text_guidance(torch.randn(K, V, D_TEXT), torch.rand(K, V))
    with pytest.raises(ValueError, match=r"class ids in \[0, 6\)"):
        model(x, torch.tensor([0, 1, 2, 6]))
    with pytest.raises(ValueError, match="shape \\(4,\\)"):
        model(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="n_pre"):
        CrossGLGModel(ModelConfig(num_classes=K, n_pre=9))
    with pytest.raises(ValueError, match="unknown fields"):
        ModelConfig.from_dict({"num_classes": 3, "colour": "red"})
