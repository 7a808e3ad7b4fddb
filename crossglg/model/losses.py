"""Losses of the CrossGLG dual-branch model.

``L = L_s + 0.5 * L_calibrate + 0.2 * L_c + 0.1 * MMD + 1e-4 * ||mean z||`` where

* ``L_s``: label-smoothing (0.1) cross-entropy of the skeleton branch,
* ``L_calibrate``: MSE between the JID's ``k_out (N, V)`` and the text's ``k_gt[y] (N, V)`` (g2l),
* ``L_c``: label-smoothing cross-entropy of the cross-modal branch through the shared classifier (l2g),
* ``L_metric`` (off by default): additive-margin cosine softmax of the embedding ``mu`` against the
  classifier's rows (CosFace form), which tightens classes on the sphere that cosine matching uses,
* MMD / mean-z: InfoGCN's information-bottleneck terms (class means of z vs. an orthogonal prior
  ``(K, D)`` that the model keeps as a registered buffer, so it is saved in checkpoints).

Terms whose branch is switched off are absent from the returned dict.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (defaults: CrossGLG paper + InfoGCN)."""

    label_smoothing: float = 0.1
    calibrate: float = 0.5
    cross_modal: float = 0.2
    mmd: float = 0.1
    z_mean: float = 1e-4
    metric: float = 0.0
    metric_scale: float = 16.0
    metric_margin: float = 0.2


def margin_cosine_loss(emb: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, scale: float,
                       margin: float) -> torch.Tensor:
    """Cross-entropy of ``scale * (cos(emb, weight_k) - margin * [k == y])``; ``emb (N, D)``, ``weight (K, D)``."""
    cos = F.normalize(emb, dim=1) @ F.normalize(weight, dim=1).t()  # (N, K)
    cos = cos - margin * F.one_hot(labels, weight.shape[0]).to(cos.dtype)
    return F.cross_entropy(scale * cos, labels)


def orthogonal_prior(num_classes: int, dim: int, gain: float = 3.0, seed: int = 0) -> torch.Tensor:
    """Class prior means ``(K, D)``: orthogonal rows scaled by ``gain`` (deterministic by seed)."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(max(num_classes, dim), min(num_classes, dim), generator=gen)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))[None, :]
    q = q if num_classes >= dim else q.t()  # (K, D) with orthonormal rows or columns
    return (gain * q).to(torch.float32).contiguous()


def mmd_loss(z: torch.Tensor, labels: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """MSE between the class means of ``z (N, D)`` and ``prior (K, D)``, over classes in the batch."""
    k = prior.shape[0]
    onehot = F.one_hot(labels, k).to(z.dtype)  # (N, K)
    counts = onehot.sum(0)  # (K,)
    present = counts > 0
    means = (onehot.t() @ z)[present] / counts[present, None]
    return F.mse_loss(means, prior[present])


def calibrate_loss(k_out: torch.Tensor, labels: torch.Tensor, k_gt: torch.Tensor) -> torch.Tensor:
    """Squared error between ``k_out (N, V)`` and ``k_gt[labels]``, summed over the V joints and
    averaged over the batch; ``k_gt (K, V)`` is the text's joint importance per class.

    Summed, not averaged, over joints: entries are ~1/V, so a per-entry mean is ~V times too weak
    to hold k_out near k_gt against the classification loss (measured: k_out collapsed to one joint).
    """
    return (k_out - k_gt[labels].to(k_out.dtype)).pow(2).sum(1).mean()


def compute_losses(
    *,
    logits: torch.Tensor,
    z: torch.Tensor,
    labels: torch.Tensor,
    prior: torch.Tensor,
    logits_c: torch.Tensor | None = None,
    k_out: torch.Tensor | None = None,
    k_gt: torch.Tensor | None = None,
    mu: torch.Tensor | None = None,
    class_weight: torch.Tensor | None = None,
    weights: LossWeights = LossWeights(),
) -> dict[str, torch.Tensor]:
    """All loss terms and their weighted sum under key ``"total"``.

    Shapes: ``logits``/``logits_c`` ``(N, K)``, ``z`` ``(N, D)``, ``labels`` ``(N,)`` int64 in
    ``[0, K)``, ``prior`` ``(K, D)``, ``k_out`` ``(N, V)``, ``k_gt`` ``(K, V)``.
    """
    num_classes = logits.shape[1]
    if labels.dim() != 1 or labels.shape[0] != logits.shape[0]:
        raise ValueError(f"labels: expected shape ({logits.shape[0]},), got {tuple(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels: expected class ids in [0, {num_classes}), got range "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    ls = weights.label_smoothing
    terms: dict[str, torch.Tensor] = {"skeleton_ce": F.cross_entropy(logits, labels, label_smoothing=ls)}
    total = terms["skeleton_ce"]
    if k_out is not None:
        if k_gt is None:
            raise ValueError("calibration loss: k_out is given but k_gt (num_classes, V) is missing")
        terms["calibrate"] = calibrate_loss(k_out, labels, k_gt)
        total = total + weights.calibrate * terms["calibrate"]
    if logits_c is not None:
        terms["cross_ce"] = F.cross_entropy(logits_c, labels, label_smoothing=ls)
        total = total + weights.cross_modal * terms["cross_ce"]
    if weights.metric > 0:
        if mu is None or class_weight is None:
            raise ValueError("metric loss: needs the embedding mu (N, D) and the classifier weight (K, D)")
        terms["metric"] = margin_cosine_loss(mu, labels, class_weight, weights.metric_scale, weights.metric_margin)
        total = total + weights.metric * terms["metric"]
    terms["mmd"] = mmd_loss(z, labels, prior)
    terms["z_mean"] = torch.linalg.vector_norm(z.mean(0))
    total = total + weights.mmd * terms["mmd"] + weights.z_mean * terms["z_mean"]
    terms["total"] = total
    return terms
