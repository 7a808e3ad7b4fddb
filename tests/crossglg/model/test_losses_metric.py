"""The additive-margin cosine (metric) term: off by default, shapes mu toward its class row."""

from __future__ import annotations

import pytest
import torch

from crossglg.model.losses import LossWeights, compute_losses, margin_cosine_loss, orthogonal_prior


def test_margin_makes_the_loss_larger_and_rewards_alignment() -> None:
    w = torch.eye(4, 8)
    y = torch.tensor([0, 1, 2, 3])
    aligned = w.clone() * 3.0
    assert margin_cosine_loss(aligned, y, w, 16.0, 0.2) > margin_cosine_loss(aligned, y, w, 16.0, 0.0)
    wrong = w[[1, 2, 3, 0]]
    assert margin_cosine_loss(aligned, y, w, 16.0, 0.2) < margin_cosine_loss(wrong, y, w, 16.0, 0.2)
    # scale-free in the embedding: only directions count
    assert torch.isclose(margin_cosine_loss(aligned, y, w, 16.0, 0.2), margin_cosine_loss(aligned * 0.01, y, w, 16.0, 0.2))


def test_compute_losses_adds_metric_only_when_weighted() -> None:
    torch.manual_seed(0)
    n, k, d = 6, 3, 8
    logits, z, mu = torch.randn(n, k), torch.randn(n, d), torch.randn(n, d)
    y, prior, w = torch.tensor([0, 1, 2, 0, 1, 2]), orthogonal_prior(k, d), torch.randn(k, d)
    off = compute_losses(logits=logits, z=z, labels=y, prior=prior, mu=mu, class_weight=w)
    assert "metric" not in off
    on = compute_losses(logits=logits, z=z, labels=y, prior=prior, mu=mu, class_weight=w,
                        weights=LossWeights(metric=0.5))
    assert torch.isclose(on["total"], off["total"] + 0.5 * on["metric"])
    with pytest.raises(ValueError, match="metric loss"):
        compute_losses(logits=logits, z=z, labels=y, prior=prior, weights=LossWeights(metric=0.5))
