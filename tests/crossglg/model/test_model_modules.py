"""Output shapes of every module of crossglg.model, for both layouts and both encoders."""

from __future__ import annotations

import pytest
import torch

from crossglg.model import CrossGLGModel, ModelConfig, SkeletonBranch, build_encoder
from crossglg.model.crossmodal import CrossModalInteraction, skeleton_joint_features
from crossglg.model.graph import spatial_partitions
from crossglg.model.heads import InfoBottleneckHead, pool_bodies
from crossglg.model.infogcn import MSTCN, SAGC, InfoGCNBlock
from crossglg.model.jid import JointImportanceDiscriminator, joint_weights
from crossglg.model.losses import calibrate_loss
from crossglg.model.stgcn import STGCNBlock
from crossglg.skeleton.layouts import KINETICS18, NTU25


def test_sagc_shapes_and_attention_rows() -> None:
    g = SAGC(16, 32, 25, num_heads=3)
    x = torch.randn(2, 16, 8, 25)
    assert g(x).shape == (2, 32, 8, 25)
    attn = g.attention(x.permute(0, 2, 3, 1))
    assert attn.shape == (2, 8, 3, 25, 25)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 8, 3, 25), atol=1e-5, rtol=0)


@pytest.mark.parametrize("stride,t_out", [(1, 16), (2, 8)])
def test_mstcn_and_block_shapes(stride: int, t_out: int) -> None:
    assert MSTCN(32, 32, stride)(torch.randn(2, 32, 16, 25)).shape == (2, 32, t_out, 25)
    blk = InfoGCNBlock(16, 32, 25, stride)
    x = torch.randn(2, 16, 16, 25)
    assert blk(x).shape == (2, 32, t_out, 25)
    assert blk(x, torch.rand(2, 25)).shape == (2, 32, t_out, 25)


def test_stgcn_block_shapes() -> None:
    blk = STGCNBlock(3, 16, spatial_partitions(NTU25), stride=2, residual=True)
    assert blk(torch.randn(2, 3, 16, 25), torch.rand(2, 25)).shape == (2, 16, 8, 25)


@pytest.mark.parametrize("name", ["infogcn", "stgcn"])
@pytest.mark.parametrize("layout", [NTU25, KINETICS18])
def test_encoders_shapes(name: str, layout) -> None:
    enc = build_encoder(name, layout=layout, in_channels=3, max_bodies=2)
    v = layout.num_joints
    x = torch.randn(3, 3, 16, v, 2)
    h = enc.stem(x)
    assert h.shape == (6, enc.stem(x).shape[1], 16, v)
    out = enc(x)
    assert out.shape == (6, 256, 4, v)
    assert enc.out_channels == 256 and len(enc.block_channels) == len(enc.blocks)


def test_unknown_encoder_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown encoder 'hdgcn'.*infogcn"):
        build_encoder("hdgcn", layout=NTU25)


def test_head_train_samples_eval_uses_mu() -> None:
    head = InfoBottleneckHead(256, 64, 10)
    feats = torch.randn(4, 256)
    head.train()
    mu, logvar, z = head(feats)
    assert mu.shape == logvar.shape == z.shape == (4, 64)
    assert not torch.equal(z, mu)
    head.eval()
    mu, logvar, z = head(feats)
    assert torch.equal(z, mu)
    torch.testing.assert_close(head.embed(feats), mu)
    assert head.classifier(z).shape == (4, 10)
    assert pool_bodies(torch.randn(6, 8, 4, 25), 2).shape == (3, 8)


def test_jid_distribution_and_weights() -> None:
    jid = JointImportanceDiscriminator(32, 25, hidden=16)
    k = jid(torch.randn(6, 32, 8, 25), bodies=2)
    assert k.shape == (3, 25)
    torch.testing.assert_close(k.sum(-1), torch.ones(3))
    w = joint_weights(k, bodies=2)
    assert w.shape == (6, 25)
    torch.testing.assert_close(w.mean(-1), torch.ones(6))


def test_jid_mix_never_silences_a_joint() -> None:
    collapsed = torch.zeros(2, 25)
    collapsed[:, 7] = 1.0
    bare = joint_weights(collapsed, bodies=1)  # mix 1: 24 joints at weight 0
    assert float(bare.min()) == 0.0
    mixed = joint_weights(collapsed, bodies=1, mix=0.5)
    assert float(mixed.min()) == pytest.approx(0.5)
    torch.testing.assert_close(mixed.mean(-1), torch.ones(2))
    uniform = joint_weights(torch.full((2, 25), 1 / 25), bodies=1, mix=0.5)
    torch.testing.assert_close(uniform, torch.ones(2, 25))


def test_calibrate_loss_sums_over_joints() -> None:
    k_gt = torch.softmax(torch.randn(3, 25), -1)
    labels = torch.tensor([0, 2])
    k_out = torch.softmax(torch.randn(2, 25), -1)
    expected = ((k_out - k_gt[labels]) ** 2).sum(1).mean()
    torch.testing.assert_close(calibrate_loss(k_out, labels, k_gt), expected)
    # a collapsed k_out against a spread k_gt costs a sizeable fraction of a CE unit, not ~1/25 of it
    collapsed = torch.zeros(1, 25)
    collapsed[0, 0] = 1.0
    assert float(calibrate_loss(collapsed, torch.tensor([0]), torch.full((1, 25), 1 / 25))) > 0.9


def test_model_config_jid_mix_validation_and_legacy_dicts() -> None:
    with pytest.raises(ValueError, match="jid_mix"):
        ModelConfig(jid_mix=0.0)
    legacy = ModelConfig().to_dict()
    del legacy["jid_mix"]
    assert ModelConfig.from_dict(legacy).jid_mix == 1.0  # old checkpoints keep the maths they were trained with
    assert ModelConfig.from_dict(ModelConfig().to_dict()).jid_mix == 0.5


def test_model_config_jid_version_validation_and_legacy_dicts() -> None:
    with pytest.raises(ValueError, match="jid_version"):
        ModelConfig(jid_version=3)
    legacy = ModelConfig().to_dict()
    del legacy["jid_version"]
    assert ModelConfig.from_dict(legacy).jid_version == 1  # old checkpoints rebuild the ReLU JID they trained
    assert ModelConfig().jid_version == 2


def test_jid_v2_keeps_learning_where_the_v1_relu_is_dead() -> None:
    """The benchmark ablation's failure: every hidden unit negative for every input. Version 1 then
    outputs softmax(fc2.bias) for any input and passes no gradient to fc1; version 2 does neither."""
    torch.manual_seed(0)
    h = torch.randn(4, 8, 5, 25) * 30  # (N*M, C, T, V), raw features as large as the trained encoder's
    outs = {}
    for version in (1, 2):
        jid = JointImportanceDiscriminator(8, 25, hidden=6, version=version)
        with torch.no_grad():
            jid.fc1.bias.fill_(-50.0)  # every unit below zero for every window
        k_out = jid(h, bodies=1)
        k_out[:, 3].sum().backward()
        outs[version] = (k_out.detach(), float(jid.fc1.weight.grad.abs().sum()))
    dead, grad_dead = outs[1]
    assert float((dead - dead[0]).abs().max()) == 0.0 and grad_dead == 0.0
    alive, grad_alive = outs[2]
    assert float((alive - alive[0]).abs().max()) > 1e-4 and grad_alive > 0.0
    torch.testing.assert_close(alive.sum(-1), torch.ones(4))


def test_crossmodal_shapes() -> None:
    cm = CrossModalInteraction(text_dim=48, skel_dim=32, num_joints=25, dim=64, layers=2, heads=4, out_dim=40)
    joints = skeleton_joint_features(torch.randn(6, 32, 4, 25), bodies=2)
    assert joints.shape == (3, 25, 32)
    assert cm(torch.randn(3, 25, 48), joints).shape == (3, 40)
    with pytest.raises(ValueError, match="text"):
        cm(torch.randn(2, 25, 48), joints)


@pytest.mark.parametrize("encoder", ["infogcn", "stgcn"])
def test_skeleton_branch_and_dual_model_shapes(encoder: str) -> None:
    cfg = ModelConfig(encoder=encoder, num_classes=7, frames=16, max_bodies=2, text_dim=24, interaction_dim=32,
                      interaction_layers=1)
    model = CrossGLGModel(cfg)
    model.set_text_guidance(torch.randn(7, 25, 24), torch.softmax(torch.randn(7, 25), -1))
    x, y = torch.randn(3, 3, 16, 25, 2), torch.tensor([0, 3, 6])
    out = model(x, y)
    assert out.logits.shape == out.logits_c.shape == (3, 7)
    assert out.mu.shape == out.z.shape == out.logvar.shape == (3, 256)
    assert out.k_out.shape == (3, 25)
    assert model(x).logits_c is None  # no labels: no cross-modal branch
    emb, logits = model.inference_model().eval()(x)
    assert emb.shape == (3, 256) and logits.shape == (3, 7)
    headless = SkeletonBranch(cfg, with_classifier=False).eval()
    assert headless(x).shape == (3, 256)
