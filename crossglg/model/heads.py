"""Information-bottleneck head (InfoGCN) with its classifier.

``(N*M, C, T, V)`` features -> mean over (T, V), then over M -> Linear(C -> D) + ReLU -> mu, logvar
(each D) -> z. Training samples ``z = mu + eps * exp(0.5 * logvar)``; eval uses ``z = mu``.
The classifier ``Linear(D -> K)`` is shared with the cross-modal branch (CrossGLG).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pool_bodies(h: torch.Tensor, bodies: int) -> torch.Tensor:
    """``(N*M, C, T, V)`` -> ``(N, C)``: mean over T and V, then over the M bodies."""
    nm, c = h.shape[:2]
    return h.reshape(nm // bodies, bodies, c, -1).mean(-1).mean(1)


class InfoBottleneckHead(nn.Module):
    """Pooled features ``(N, C)`` -> ``(mu, logvar, z)`` each ``(N, D)``; ``classifier`` maps D -> K."""

    def __init__(self, in_channels: int = 256, embed_dim: int = 256, num_classes: int | None = 100) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, embed_dim)
        self.fc_mu = nn.Linear(embed_dim, embed_dim)
        self.fc_logvar = nn.Linear(embed_dim, embed_dim)
        self.classifier = nn.Linear(embed_dim, num_classes) if num_classes else None

    def embed(self, pooled: torch.Tensor) -> torch.Tensor:
        """``(N, C)`` -> ``mu (N, D)``: the deterministic embedding used at inference."""
        return self.fc_mu(F.relu(self.fc(pooled)))

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hid = F.relu(self.fc(pooled))
        mu = self.fc_mu(hid)
        logvar = self.fc_logvar(hid)
        if not self.training:
            return mu, logvar, mu
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return mu, logvar, z
