"""Reference-style InfoGCN, used ONLY as the benchmark baseline and as a correctness oracle.

Structured the way the public InfoGCN code is described: per-head loops in SA-GC with a
``(N*T, V, C)`` rearrangement per head, einsum attention, four separate MS-TCN branches, separate
per-head 1x1 convs, and the input BatchNorm applied after rearranging to ``(N, M*V*C, T)``.
(Written here from the paper's and DESIGN.md's description; its fp32 ``A`` avoids the original's
float64 trap so the comparison is fair.) 1,572,227 parameters with 120 classes and M = 2.

:func:`to_fast_state_dict` maps its weights onto :class:`~crossglg.model.infogcn.InfoGCNEncoder`
+ :class:`~crossglg.model.heads.InfoBottleneckHead` so both compute the same function.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from crossglg.skeleton.layouts import NTU25, Layout

from .graph import input_transform
from .infogcn import INFOGCN_CHANNELS, INFOGCN_STRIDES


class RefSelfAttention(nn.Module):
    def __init__(self, in_channels: int, hidden_dim: int, n_heads: int, flush_subnormal: bool = False) -> None:
        super().__init__()
        self.flush_subnormal = flush_subnormal
        self.scale = hidden_dim**-0.5
        self.n_heads = n_heads
        self.ln = nn.LayerNorm(in_channels)
        self.to_qk = nn.Linear(in_channels, hidden_dim * n_heads * 2)
        nn.init.normal_(self.to_qk.weight, 0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        y = self.to_qk(self.ln(x.permute(0, 2, 3, 1).contiguous()))
        q, k = y.chunk(2, dim=-1)
        q = q.reshape(n * t, v, self.n_heads, -1).permute(0, 2, 1, 3)
        k = k.reshape(n * t, v, self.n_heads, -1).permute(0, 2, 1, 3)
        dots = torch.einsum("bhid,bhjd->bhij", q, k) * self.scale
        if self.flush_subnormal:  # benchmark ablation: the same subnormal guard as ours
            dots = (dots - dots.amax(dim=-1, keepdim=True)).clamp_min(-60.0)
            return dots.softmax(dim=-1)
        return dots.softmax(dim=-1).float()  # (N*T, H, V, V)


class RefSAGC(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, num_joints: int, num_heads: int = 3,
                 flush_subnormal: bool = False) -> None:
        super().__init__()
        self.num_head = num_heads
        self.shared_topology = nn.Parameter(torch.eye(num_joints).repeat(num_heads, 1, 1))
        self.conv_d = nn.ModuleList(nn.Conv2d(in_channels, out_channels, 1) for _ in range(num_heads))
        for conv in self.conv_d:
            nn.init.normal_(conv.weight, 0, math.sqrt(2.0 / (out_channels * num_heads)))
            nn.init.zeros_(conv.bias)
        if in_channels != out_channels:
            self.down: nn.Module = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
        else:
            self.down = nn.Identity()
        self.bn = nn.BatchNorm2d(out_channels)
        nn.init.constant_(self.bn.weight, 1e-6)
        self.attn = RefSelfAttention(in_channels, in_channels // 8, num_heads, flush_subnormal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        a = self.attn(x) * self.shared_topology.unsqueeze(0)
        out = None
        for h in range(self.num_head):
            feature = x.permute(0, 2, 3, 1).reshape(n * t, v, c)
            z = a[:, h] @ feature
            z = z.reshape(n, t, v, -1).permute(0, 3, 1, 2).contiguous()
            z = self.conv_d[h](z)
            out = z if out is None else z + out
        out = self.bn(out)
        out = out + self.down(x)
        return F.relu(out)


def _tconv(cin: int, cout: int, k: int, stride: int, dilation: int = 1) -> nn.Sequential:
    pad = (k + (k - 1) * (dilation - 1) - 1) // 2
    return nn.Sequential(nn.Conv2d(cin, cout, (k, 1), (stride, 1), (pad, 0), (dilation, 1)), nn.BatchNorm2d(cout))


class RefMSTCN(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        b = out_channels // 4
        self.branches = nn.ModuleList()
        for d in (1, 2):
            self.branches.append(nn.Sequential(nn.Conv2d(in_channels, b, 1), nn.BatchNorm2d(b), nn.ReLU(),
                                               _tconv(b, b, 5, stride, d)))
        self.branches.append(nn.Sequential(nn.Conv2d(in_channels, b, 1), nn.BatchNorm2d(b), nn.ReLU(),
                                           nn.MaxPool2d((3, 1), (stride, 1), (1, 0)), nn.BatchNorm2d(b)))
        self.branches.append(nn.Sequential(nn.Conv2d(in_channels, b, 1, stride=(stride, 1)), nn.BatchNorm2d(b)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([br(x) for br in self.branches], dim=1)


class RefBlock(nn.Module):
    def __init__(self, cin: int, cout: int, v: int, stride: int = 1, flush_subnormal: bool = False) -> None:
        super().__init__()
        self.agcn = RefSAGC(cin, cout, v, flush_subnormal=flush_subnormal)
        self.tcn = RefMSTCN(cout, cout, stride)
        self.residual: nn.Module = nn.Identity() if cin == cout and stride == 1 else _tconv(cin, cout, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.tcn(self.agcn(x)) + self.residual(x))


class ReferenceInfoGCN(nn.Module):
    """``(N, C, T, V, M)`` -> ``(logits (N, K), z (N, 256))``; eval uses z = mu."""

    def __init__(self, num_classes: int = 120, layout: Layout = NTU25, num_person: int = 2, in_channels: int = 3,
                 flush_subnormal: bool = False):
        """``flush_subnormal`` adds our attention guard (benchmark ablation only; off = as published)."""
        super().__init__()
        v, base = layout.num_joints, 64
        self.num_point = v
        self.register_buffer("A_vector", input_transform(layout, 1))
        self.data_bn = nn.BatchNorm1d(num_person * base * v)
        self.to_joint_embedding = nn.Linear(in_channels, base)
        self.pos_embedding = nn.Parameter(torch.randn(1, v, base))
        chans = (base, *INFOGCN_CHANNELS)
        self.layers = nn.ModuleList(RefBlock(chans[i], chans[i + 1], v, INFOGCN_STRIDES[i], flush_subnormal)
                                    for i in range(9))
        self.fc = nn.Linear(256, 256)
        self.fc_mu = nn.Linear(256, 256)
        self.fc_logvar = nn.Linear(256, 256)
        self.decoder = nn.Linear(256, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 2, 3, 1).reshape(n * m * t, v, c)
        x = self.A_vector.expand(n * m * t, -1, -1) @ x
        x = self.to_joint_embedding(x)
        x = x + self.pos_embedding[:, : self.num_point]
        x = x.reshape(n, m, t, v, -1).permute(0, 1, 3, 4, 2).reshape(n, -1, t)
        x = self.data_bn(x)
        x = x.reshape(n, m, v, -1, t).permute(0, 1, 3, 4, 2).reshape(n * m, -1, t, v)
        for layer in self.layers:
            x = layer(x)
        x = x.reshape(n, m, x.shape[1], -1).mean(3).mean(1)
        x = F.relu(self.fc(x))
        mu, logvar = self.fc_mu(x), self.fc_logvar(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), z


def to_fast_state_dict(ref: ReferenceInfoGCN) -> dict[str, torch.Tensor]:
    """Reference weights -> state dict of ``SkeletonBranch`` (encoder.* and head.*, no JID)."""
    src = ref.state_dict()
    out: dict[str, torch.Tensor] = {
        "encoder.joint_transform": src["A_vector"],
        "encoder.to_joint_embedding.weight": src["to_joint_embedding.weight"],
        "encoder.to_joint_embedding.bias": src["to_joint_embedding.bias"],
        "encoder.pos_embedding": src["pos_embedding"],
    }
    for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        out[f"encoder.data_bn.{key}"] = src[f"data_bn.{key}"]
    for name in ("fc", "fc_mu", "fc_logvar"):
        for key in ("weight", "bias"):
            out[f"head.{name}.{key}"] = src[f"{name}.{key}"]
    out["head.classifier.weight"], out["head.classifier.bias"] = src["decoder.weight"], src["decoder.bias"]
    for i in range(9):
        r, f = f"layers.{i}.", f"encoder.blocks.{i}."
        ref_sub = {k[len(r):]: val for k, val in src.items() if k.startswith(r)}
        heads = len([k for k in ref_sub if k.startswith("agcn.conv_d.") and k.endswith(".weight")])
        out[f + "gcn.head_weight"] = torch.cat([ref_sub[f"agcn.conv_d.{h}.weight"][:, :, 0, 0] for h in range(heads)], 1)
        out[f + "gcn.head_bias"] = torch.stack([ref_sub[f"agcn.conv_d.{h}.bias"] for h in range(heads)])
        # 3 MS-TCN branch-opening 1x1 convs + their BNs -> one conv/BN
        for key in ("weight", "bias"):
            out[f + f"tcn.proj.0.{key}"] = torch.cat([ref_sub[f"tcn.branches.{b}.0.{key}"] for b in range(3)])
        for key in ("weight", "bias", "running_mean", "running_var"):
            out[f + f"tcn.proj.1.{key}"] = torch.cat([ref_sub[f"tcn.branches.{b}.1.{key}"] for b in range(3)])
        out[f + "tcn.proj.1.num_batches_tracked"] = ref_sub["tcn.branches.0.1.num_batches_tracked"]
        renames = {
            "agcn.shared_topology": "gcn.shared_topology", "agcn.bn.": "gcn.bn.", "agcn.down.": "gcn.down.",
            "agcn.attn.ln.": "gcn.ln.", "agcn.attn.to_qk.": "gcn.to_qk.",
            "tcn.branches.0.3.": "tcn.temporal.0.", "tcn.branches.1.3.": "tcn.temporal.1.",
            "tcn.branches.2.4.": "tcn.pool_bn.", "tcn.branches.3.": "tcn.point.", "residual.": "residual.",
        }
        for k, val in ref_sub.items():
            for old, new in renames.items():
                if k.startswith(old):
                    out[f + new + k[len(old):]] = val
    return out
