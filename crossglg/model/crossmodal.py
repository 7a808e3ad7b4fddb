"""Cross-modal interaction module (CrossGLG local-to-global guidance), training only.

Joint text features ``(N, V, D_text)`` (the motion description of each joint, for the sample's
class) and skeleton joint features ``(N, V, C)`` (last encoder block, pooled over time and bodies)
are projected to a common width ``d``. Each of the ``L`` interaction layers does

1. text-text self-attention (+ residual, LayerNorm),
2. cross-attention with the text as query over the skeleton joint features (+ residual, LN),
3. fusion: add + MLP (+ residual, LN).

The text tokens are then averaged and projected to the embedding width D so the result can go
through the SHARED classifier; gradients of its loss flow back into the encoder via the skeleton
joint features. The module takes text as plain tensors: no text model is imported here.
"""

from __future__ import annotations

import torch
from torch import nn


class InteractionLayer(nn.Module):
    """One layer: ``text (N, V_t, d)``, ``skel (N, V_s, d)`` -> text ``(N, V_t, d)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(dim * mlp_ratio, dim))
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, text: torch.Tensor, skel: torch.Tensor) -> torch.Tensor:
        t = self.norm1(text + self.self_attn(text, text, text, need_weights=False)[0])
        t = self.norm2(t + self.cross_attn(t, skel, skel, need_weights=False)[0])
        return self.norm3(t + self.mlp(t))


class CrossModalInteraction(nn.Module):
    """``text (N, V, D_text)``, ``skel_joints (N, V, C)`` -> fused feature ``(N, D_out)``."""

    def __init__(self, text_dim: int, skel_dim: int, num_joints: int, dim: int = 256, layers: int = 2,
                 heads: int = 4, out_dim: int = 256) -> None:
        super().__init__()
        self.text_proj = nn.Linear(text_dim, dim)
        self.skel_proj = nn.Linear(skel_dim, dim)
        # joint identity for the skeleton tokens (the text tokens carry it in their wording)
        self.joint_embedding = nn.Parameter(torch.zeros(1, num_joints, dim))
        nn.init.trunc_normal_(self.joint_embedding, std=0.02)
        self.layers = nn.ModuleList(InteractionLayer(dim, heads) for _ in range(layers))
        self.out = nn.Linear(dim, out_dim)

    def forward(self, text: torch.Tensor, skel_joints: torch.Tensor) -> torch.Tensor:
        if text.dim() != 3 or skel_joints.dim() != 3 or text.shape[0] != skel_joints.shape[0]:
            raise ValueError(
                f"cross-modal interaction: expected text (N, V, D_text) and skeleton joints (N, V, C) with the "
                f"same N, got {tuple(text.shape)} and {tuple(skel_joints.shape)}"
            )
        t = self.text_proj(text)
        s = self.skel_proj(skel_joints) + self.joint_embedding
        for layer in self.layers:
            t = layer(t, s)
        return self.out(t.mean(1))


def skeleton_joint_features(final: torch.Tensor, bodies: int) -> torch.Tensor:
    """``(N*M, C, T, V)`` -> ``(N, V, C)``: mean over time and bodies, joints as tokens."""
    nm, c, _, v = final.shape
    return final.mean(2).reshape(nm // bodies, bodies, c, v).mean(1).transpose(1, 2)
