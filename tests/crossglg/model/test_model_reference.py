"""The fast InfoGCN computes the reference's function, with its size and cost; graph matrices are sane."""

from __future__ import annotations

import pytest
import torch

from crossglg.model import ModelConfig, SkeletonBranch, count_flops, count_parameters
from crossglg.model.graph import input_transform, spatial_partitions
from crossglg.model.reference_infogcn import ReferenceInfoGCN, to_fast_state_dict
from crossglg.skeleton.layouts import KINETICS18, NTU25


def test_reference_parameter_count_matches_published() -> None:
    assert count_parameters(ReferenceInfoGCN(120, num_person=2)) == 1_572_227


def test_fast_model_has_the_reference_parameter_count() -> None:
    fast = SkeletonBranch(ModelConfig(num_classes=120, max_bodies=2, g2l=False))
    assert count_parameters(fast) == 1_572_227


@pytest.mark.parametrize("guarded", [False, True])
def test_fast_equals_reference_in_eval(calibrate_bn, guarded: bool) -> None:
    ref = calibrate_bn(ReferenceInfoGCN(10, num_person=2, flush_subnormal=guarded), (4, 3, 16, 25, 2))
    fast = SkeletonBranch(ModelConfig(num_classes=10, max_bodies=2, g2l=False))
    fast.load_state_dict(to_fast_state_dict(ref), strict=True)
    fast.eval()
    x = torch.randn(3, 3, 16, 25, 2)
    with torch.no_grad():
        logits_ref, z_ref = ref(x)
        emb, logits = fast(x)
    torch.testing.assert_close(emb, z_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits, logits_ref, atol=1e-5, rtol=1e-5)


def test_fast_equals_reference_in_training_mode() -> None:
    """Train-mode BatchNorm (batch statistics) must agree as well: the stem's permuted BN path."""
    ref = ReferenceInfoGCN(10, num_person=1)
    fast = SkeletonBranch(ModelConfig(num_classes=10, max_bodies=1, g2l=False))
    fast.load_state_dict(to_fast_state_dict(ref), strict=True)
    ref.train()
    fast.train()
    x = torch.randn(4, 3, 12, 25, 1)
    feats = fast.features(x)
    h = x.permute(0, 4, 2, 3, 1).reshape(4 * 12, 25, 3)  # the reference's forward up to the head
    h = ref.to_joint_embedding(ref.A_vector @ h) + ref.pos_embedding
    h = ref.data_bn(h.reshape(4, 1, 12, 25, 64).permute(0, 1, 3, 4, 2).reshape(4, -1, 12))
    h = h.reshape(4, 1, 25, 64, 12).permute(0, 1, 3, 4, 2).reshape(4, 64, 12, 25)
    for layer in ref.layers:
        h = layer(h)
    torch.testing.assert_close(feats.final, h, atol=1e-4, rtol=1e-4)


def test_inference_model_size_and_flops() -> None:
    infer = SkeletonBranch(ModelConfig(num_classes=100))
    n = count_parameters(infer)
    assert 1_600_000 <= n <= 1_800_000, n
    flops = count_flops(infer, (1, 3, 64, 25, 1))
    assert 1.70e9 <= flops <= 1.90e9, flops  # InfoGCN: 1.78 GFLOPs per M=1 window (DESIGN.md)


def test_input_transform_is_float32_joint_minus_parent() -> None:
    m = input_transform(NTU25)
    assert m.dtype == torch.float32 and m.shape == (25, 25)
    x = torch.randn(25, 3)
    y = m @ x
    for j, p in enumerate(NTU25.parents):
        expected = x[j] - x[p] if p >= 0 else x[j]
        torch.testing.assert_close(y[j], expected)
    with pytest.raises(ValueError, match="k=0"):
        input_transform(NTU25, k=0)


@pytest.mark.parametrize("layout", [NTU25, KINETICS18])
def test_spatial_partitions_cover_the_normalised_graph(layout) -> None:
    a = spatial_partitions(layout)
    v = layout.num_joints
    assert a.dtype == torch.float32 and a.shape == (3, v, v)
    torch.testing.assert_close(a.sum(0).sum(0), torch.ones(v))  # each receiving joint averages its inputs
    assert torch.all(torch.diagonal(a[0]) > 0)
