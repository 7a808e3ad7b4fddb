"""The skeleton branch = the inference model: encoder (+ JID reweighting) + information-bottleneck head.

It imports nothing text-related: at inference CrossGLG keeps only this module (~1.67M parameters
with InfoGCN, a 100-class head and the JID). ``forward(x)`` maps ``(N, C, T, V, M)`` to
``(embedding (N, D), logits (N, K))`` (only the embedding when built without a classifier).
:meth:`SkeletonBranch.features` exposes everything training needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .heads import InfoBottleneckHead, pool_bodies
from .jid import JointImportanceDiscriminator, joint_weights
from .registry import build_encoder
from .validation import is_graph_capture, validate_skeleton_input


@dataclass
class SkeletonFeatures:
    """Intermediate results of the skeleton branch for one batch (N samples, M bodies).

    Attributes:
        final: last encoder block output ``(N*M, C_out, T', V)``.
        pooled: ``(N, C_out)`` after mean over T, V and M.
        mu, logvar, z: ``(N, D)``; ``z == mu`` in eval mode.
        k_out: JID joint importance ``(N, V)`` or None when g2l is off.
    """

    final: torch.Tensor
    pooled: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    k_out: torch.Tensor | None


class SkeletonBranch(nn.Module):
    """Encoder + (JID if ``cfg.g2l``) + head. Input ``(N, C, T, V, M)``."""

    def __init__(self, cfg: ModelConfig, with_classifier: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        layout = cfg.skeleton_layout
        self.layout_name = layout.name
        self.num_joints = layout.num_joints
        self.encoder = build_encoder(cfg.encoder, layout=layout, in_channels=cfg.in_channels,
                                     max_bodies=cfg.max_bodies)
        n_blocks = len(self.encoder.blocks)
        if cfg.g2l and not 0 < cfg.n_pre < n_blocks:
            raise ValueError(f"ModelConfig.n_pre must be in 1..{n_blocks - 1} for encoder {cfg.encoder!r}, got {cfg.n_pre}")
        self.jid = (JointImportanceDiscriminator(self.encoder.block_channels[cfg.n_pre - 1], self.num_joints,
                                                 cfg.jid_hidden, cfg.jid_version) if cfg.g2l else None)
        self.head = InfoBottleneckHead(self.encoder.out_channels, cfg.embed_dim,
                                       cfg.num_classes if with_classifier else None)

    def validate(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` for a malformed input (no-op while tracing/exporting)."""
        if not is_graph_capture():
            validate_skeleton_input(x, channels=self.cfg.in_channels, joints=self.num_joints,
                                    bodies=self.cfg.max_bodies, layout_name=self.layout_name)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(N, C, T, V, M)`` -> (final features ``(N*M, C_out, T', V)``, k_out ``(N, V)`` or None)."""
        m = self.cfg.max_bodies
        h = self.encoder.stem(x)
        k_out, jw = None, None
        for i, blk in enumerate(self.encoder.blocks):
            h = blk(h, jw)
            if self.jid is not None and i == self.cfg.n_pre - 1:
                k_out = self.jid(h, m)
                jw = joint_weights(k_out, m, self.cfg.jid_mix)
        return h, k_out

    def features(self, x: torch.Tensor) -> SkeletonFeatures:
        """Validated forward returning all intermediates (training, analysis)."""
        self.validate(x)
        final, k_out = self.encode(x)
        pooled = pool_bodies(final, self.cfg.max_bodies)
        mu, logvar, z = self.head(pooled)
        return SkeletonFeatures(final, pooled, mu, logvar, z, k_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``(N, C, T, V, M)`` -> ``embedding (N, D)`` [, ``logits (N, K)``] (deterministic: mu)."""
        self.validate(x)
        final, _ = self.encode(x)
        emb = self.head.embed(pool_bodies(final, self.cfg.max_bodies))
        if self.head.classifier is None:
            return emb
        return emb, self.head.classifier(emb)
