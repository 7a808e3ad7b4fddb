"""CrossGLG dual-branch training model: skeleton branch + text-guided cross-modal branch.

Usage (training)::

    model = CrossGLGModel(ModelConfig(num_classes=100))
    model.set_text_guidance(text_feats, k_gt)    # (K, V, D_text), (K, V) plain tensors
    out = model(x, labels)                        # x (N, C, T, V, M), labels (N,)
    loss = model.losses(out, labels)["total"]
    infer = model.inference_model()               # SkeletonBranch: text-free, shares the weights

Switches: ``cfg.g2l`` (JID + calibration loss) and ``cfg.l2g`` (cross-modal branch + L_c); both
off is the plain InfoGCN / encoder baseline. The orthogonal class prior of the MMD loss is the
registered buffer ``z_prior`` (saved in ``state_dict``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .crossmodal import CrossModalInteraction, skeleton_joint_features
from .losses import LossWeights, compute_losses, orthogonal_prior
from .skeleton_branch import SkeletonBranch


@dataclass
class CrossGLGOutput:
    """Forward result. ``logits``/``logits_c`` ``(N, K)``; ``mu``/``logvar``/``z`` ``(N, D)``;
    ``k_out`` ``(N, V)`` (None when g2l is off); ``logits_c`` None when l2g is off or no labels."""

    logits: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    k_out: torch.Tensor | None
    logits_c: torch.Tensor | None


class CrossGLGModel(nn.Module):
    """Training model. ``forward(x (N, C, T, V, M), labels (N,) | None) -> CrossGLGOutput``."""

    def __init__(self, cfg: ModelConfig, loss_weights: LossWeights | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.loss_weights = loss_weights or LossWeights()
        self.skeleton = SkeletonBranch(cfg, with_classifier=True)
        self.cross_modal = (
            CrossModalInteraction(cfg.text_dim, self.skeleton.encoder.out_channels, self.skeleton.num_joints,
                                  cfg.interaction_dim, cfg.interaction_layers, cfg.interaction_heads, cfg.embed_dim)
            if cfg.l2g else None
        )
        self.register_buffer("z_prior", orthogonal_prior(cfg.num_classes, cfg.embed_dim, cfg.prior_gain))
        # text side: plain tensors, not part of the checkpoint (they come from the text cache)
        self.register_buffer("text_feats", None, persistent=False)
        self.register_buffer("k_gt", None, persistent=False)

    def set_text_guidance(self, text_feats: torch.Tensor | None = None, k_gt: torch.Tensor | None = None) -> None:
        """Store joint text features ``(K, V, D_text)`` and joint importance ``k_gt (K, V)``."""
        k, v = self.cfg.num_classes, self.skeleton.num_joints
        if text_feats is not None:
            if tuple(text_feats.shape) != (k, v, self.cfg.text_dim):
                raise ValueError(f"text features: expected shape ({k}, {v}, {self.cfg.text_dim}) "
                                 f"(num_classes, joints, text_dim), got {tuple(text_feats.shape)}")
            if not bool(torch.isfinite(text_feats).all()):
                raise ValueError("text features: contain NaN or inf")
            self.text_feats = text_feats.detach().to(self.z_prior.device, torch.float32)
        if k_gt is not None:
            if tuple(k_gt.shape) != (k, v):
                raise ValueError(f"k_gt: expected shape ({k}, {v}) (num_classes, joints), got {tuple(k_gt.shape)}")
            if not bool(torch.isfinite(k_gt).all()) or bool((k_gt < 0).any()):
                raise ValueError("k_gt: expected finite, non-negative joint importances")
            self.k_gt = k_gt.detach().to(self.z_prior.device, torch.float32)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> CrossGLGOutput:
        f = self.skeleton.features(x)
        classifier = self.skeleton.head.classifier
        logits = classifier(f.z)
        logits_c = None
        if self.cross_modal is not None and labels is not None:
            if self.text_feats is None:
                raise ValueError("l2g is on but no text features were set: call set_text_guidance(text_feats, k_gt)")
            k = self.cfg.num_classes
            if labels.dim() != 1 or labels.shape[0] != x.shape[0] or labels.dtype not in (torch.int64, torch.int32):
                raise ValueError(f"labels: expected integer class ids of shape ({x.shape[0]},), "
                                 f"got {labels.dtype} {tuple(labels.shape)}")
            if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= k):
                raise ValueError(f"labels: expected class ids in [0, {k}), got [{int(labels.min())}, {int(labels.max())}]")
            text = self.text_feats[labels]  # (N, V, D_text): the description of each sample's class
            fused = self.cross_modal(text, skeleton_joint_features(f.final, self.cfg.max_bodies))
            logits_c = classifier(fused)
        return CrossGLGOutput(logits, f.mu, f.logvar, f.z, f.k_out, logits_c)

    def losses(self, out: CrossGLGOutput, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss terms + ``"total"`` (see :mod:`crossglg.model.losses`)."""
        if out.k_out is not None and self.k_gt is None:
            raise ValueError("g2l is on but no k_gt was set: call set_text_guidance(text_feats, k_gt)")
        return compute_losses(logits=out.logits, z=out.z, labels=labels, prior=self.z_prior,
                              logits_c=out.logits_c, k_out=out.k_out, k_gt=self.k_gt, mu=out.mu,
                              class_weight=self.skeleton.head.classifier.weight, weights=self.loss_weights)

    def inference_model(self) -> SkeletonBranch:
        """The skeleton branch alone (shares this model's parameters; text-free)."""
        return self.skeleton
