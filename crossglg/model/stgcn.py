"""ST-GCN encoder (Yan et al., AAAI 2018) behind the same :class:`SkeletonEncoder` interface.

Spatial partitioning into 3 subsets (root / centripetal / centrifugal) from the layout, learnable
edge importance per block, temporal kernel 9, 10 blocks (64 x4, 128/2, 128 x2, 256/2, 256 x2).
It exists to show that the CrossGLG guidance is plug-and-play: JID and the cross-modal module
use only the encoder interface.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from crossglg.skeleton.layouts import Layout

from .graph import spatial_partitions
from .registry import SkeletonEncoder, register_encoder

STGCN_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
STGCN_STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


class STGCNBlock(nn.Module):
    """Graph conv (K subsets) -> optional joint reweighting -> BN-ReLU-Conv(9x1)-BN, + residual, ReLU.

    ``(N, C_in, T, V)`` -> ``(N, C_out, T/stride, V)``.
    """

    def __init__(self, in_channels: int, out_channels: int, partitions: torch.Tensor, stride: int = 1,
                 residual: bool = True, kernel_size: int = 9) -> None:
        super().__init__()
        k, v, _ = partitions.shape
        self.num_subsets, self.out_channels = k, out_channels
        self.register_buffer("partitions", partitions.clone())  # (K, V, V) float32
        self.edge_importance = nn.Parameter(torch.ones(k, v, v))
        self.gcn = nn.Conv2d(in_channels, out_channels * k, 1)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, (kernel_size, 1), (stride, 1), ((kernel_size - 1) // 2, 0)),
            nn.BatchNorm2d(out_channels),
        )
        self.has_residual = residual
        if not residual or (in_channels == out_channels and stride == 1):
            self.residual: nn.Module = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1)),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor, joint_weight: torch.Tensor | None = None) -> torch.Tensor:
        n, _, t, v = x.shape
        k, c = self.num_subsets, self.out_channels
        y = self.gcn(x).reshape(n, k, c, t, v).permute(0, 2, 3, 1, 4).reshape(n, c, t, k * v)
        a = (self.partitions * self.edge_importance).reshape(k * v, v)
        y = torch.matmul(y, a)  # sum_k x_k @ A_k: (N, C_out, T, V)
        if joint_weight is not None:
            y = y * joint_weight[:, None, None, :]
        y = self.tcn(y)
        if self.has_residual:
            y = y + self.residual(x)
        return F.relu(y)


@register_encoder("stgcn")
class STGCNEncoder(SkeletonEncoder):
    """ST-GCN encoder: ``(N, C, T, V, M)`` -> ``(N*M, 256, T/4, V)``."""

    def __init__(self, layout: Layout, in_channels: int = 3, max_bodies: int = 1) -> None:
        super().__init__(layout, in_channels, max_bodies)
        parts = spatial_partitions(layout)
        self.block_channels = STGCN_CHANNELS
        self.data_bn = nn.BatchNorm1d(in_channels * layout.num_joints)
        chans = (in_channels, *STGCN_CHANNELS)
        self.blocks = nn.ModuleList(
            STGCNBlock(chans[i], chans[i + 1], parts, STGCN_STRIDES[i], residual=i > 0) for i in range(len(STGCN_STRIDES))
        )

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M)`` -> ``(N*M, C, T, V)`` with BatchNorm over (V, C) channels."""
        n, c, t, v, m = x.shape
        h = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)
        h = self.data_bn(h).reshape(n * m, v, c, t)
        return h.permute(0, 2, 3, 1).contiguous()
