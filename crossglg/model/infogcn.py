"""InfoGCN encoder (CVPR 2022), written for speed with the same maths and parameter count.

Structure (see DESIGN.md "Model facts"): input transform ``I - A_outward`` -> Linear(C -> 64) +
learnable joint embedding -> BatchNorm over ``M * V * 64`` -> 9 encoding blocks (64, 64, 64,
128/2, 128, 128, 256/2, 256, 256). A block is SA-GC -> MS-TCN, plus a residual, then ReLU.

Speed choices (the maths is unchanged, ``tests`` check it against ``reference_infogcn``):

* SA-GC is vectorised over heads. The per-head graph products are one batched matmul whose
  result is already laid out as ``(N, T, V, H*C)``; the three per-head 1x1 convs and their sum
  then collapse into one GEMM with a ``(C_out, H*C)`` weight. No einsum, no per-head loop.
* The three MS-TCN branches that start with a 1x1 conv + BN + ReLU keep their weights in one
  conv: training runs it as one larger GEMM; the eval graph slices it into three convs (a Split
  would force ONNX Runtime out of its blocked conv layout). Attention q/k likewise: two GEMMs on
  weight slices instead of GEMM + Split.
* Eval-mode BatchNorms after GEMMs are folded into the GEMM weights; the input BatchNorm is a
  broadcast affine in eval mode (no permutes).
* Attention logits are kept within 60 of their row max: the reference's peaked softmax yields
  subnormal floats that slow CPU kernels down many times; weights below ~1e-28 are invisible anyway.
* Training path (docs/training_speed.md, tools/bench/bench_train_step.py): attention weights below
  e^-30 of the row max are exact zeros (no subnormal products in the backward: ~2x per step), the
  row max is detached (softmax is shift-invariant), the MS-TCN openings are a ``split`` and its four
  branch BatchNorms run as one call (contiguous BN backward). Tests pin each against the plain
  formulation in float64 (outputs, gradients, BN statistics).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from crossglg.skeleton.layouts import Layout

from .graph import input_transform
from .registry import SkeletonEncoder, register_encoder

INFOGCN_CHANNELS = (64, 64, 64, 128, 128, 128, 256, 256, 256)
INFOGCN_STRIDES = (1, 1, 1, 2, 1, 1, 2, 1, 1)
ATTN_LOGIT_RANGE = 60.0
TRAIN_ATTN_LOGIT_RANGE = 30.0


def _bn(channels: int, gamma: float = 1.0) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels)
    nn.init.constant_(bn.weight, gamma)
    nn.init.zeros_(bn.bias)
    return bn


def bn_affine(bn: nn.BatchNorm2d | nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``(scale, shift)`` per channel: ``bn(y) == y * scale + shift``."""
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.affine:
        scale = bn.weight * scale
        return scale, bn.bias - bn.running_mean * scale
    return scale, -bn.running_mean * scale


def _conv_init(conv: nn.Conv2d) -> nn.Conv2d:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def batch_norm_concat(x: torch.Tensor, bns: Sequence[nn.BatchNorm2d]) -> torch.Tensor:
    """Train-mode ``cat([bn_i(x_i)], 1)`` as ONE BatchNorm call on ``x (N, sum C_i, T, V)``.

    BatchNorm is per channel, so this is the same maths (outputs, gradients, running statistics,
    ``num_batches_tracked``) as applying each ``bns[i]`` to its channel group. Why: the gradient a
    ``torch.cat`` hands to each branch is a strided slice, and the CPU BatchNorm backward on such a
    slice took several times longer per element than on a contiguous tensor in torch.profiler.
    Callers use it only for plain ``nn.BatchNorm2d`` (a ``SyncBatchNorm`` must run itself).
    """
    bn0 = bns[0]
    weight = torch.cat([bn.weight for bn in bns])
    bias = torch.cat([bn.bias for bn in bns])
    if not bn0.track_running_stats:
        return F.batch_norm(x, None, None, weight, bias, True, 0.0, bn0.eps)
    for bn in bns:
        bn.num_batches_tracked.add_(1)
    momentum = bn0.momentum if bn0.momentum is not None else 1.0 / float(bn0.num_batches_tracked)
    mean = torch.cat([bn.running_mean for bn in bns])
    var = torch.cat([bn.running_var for bn in bns])
    y = F.batch_norm(x, mean, var, weight, bias, True, momentum, bn0.eps)  # updates mean/var in place
    with torch.no_grad():
        start = 0
        for bn in bns:
            end = start + bn.num_features
            bn.running_mean.copy_(mean[start:end])
            bn.running_var.copy_(var[start:end])
            start = end
    return y


def _groupable(bns: Sequence[nn.Module]) -> bool:
    """Plain BatchNorm2d modules with the same settings (not SyncBatchNorm, not replaced)."""
    b0 = bns[0]
    return all(type(bn) is nn.BatchNorm2d and bn.affine and bn.training and bn.eps == b0.eps
               and bn.momentum == b0.momentum and bn.track_running_stats == b0.track_running_stats for bn in bns)


def attention_softmax(dots: torch.Tensor, training: bool) -> torch.Tensor:
    """Row softmax of attention logits ``(..., V, V)`` with the subnormal guards (see comments)."""
    # Peaked softmax rows produce subnormal floats (< 1.2e-38), and subnormal operands make the
    # softmax and the following GEMMs many times slower on x86 CPUs (measured in ONNX Runtime).
    # Keeping logits within 60 of their row max bounds every weight below by ~e^-60/V ~ 1e-28
    # (a normal float, also after the topology product); weights that small are invisible at
    # float32 resolution of a row summing to 1, so the result equals the plain softmax.
    if training:
        # softmax is shift-invariant, so the row max carries no gradient: detaching it drops
        # amax's backward (compare, count, divide, scatter) from the step, not a term of the maths
        dots = dots - dots.amax(dim=-1, keepdim=True).detach()
        # Backward multiplies these weights by tiny gradients (the SA-GC BN starts at 1e-6):
        # weights of ~1e-28 then give subnormal products in the softmax backward and in the
        # graph-product GEMMs. Weights below e^-30 of the row max (total mass < V * 1e-13 of
        # the row, far under float32 resolution) are therefore exact zeros while training.
        dots = dots.masked_fill(dots < -TRAIN_ATTN_LOGIT_RANGE, float("-inf"))
    else:
        dots = torch.clamp_min(dots - dots.amax(dim=-1, keepdim=True), -ATTN_LOGIT_RANGE)
    return torch.softmax(dots, dim=-1)


def _relu_sum(a: torch.Tensor, b: torch.Tensor, training: bool) -> torch.Tensor:
    """``relu(a + b)``; in training the ReLU runs in place on the fresh sum (one buffer less per
    block; the add's backward does not need its output). Eval keeps the out-of-place graph."""
    s = a + b
    return s.relu_() if training and torch.is_grad_enabled() else F.relu(s)


class SAGC(nn.Module):
    """Self-attention graph convolution. ``(N, C, T, V)`` -> ``(N, C_out, T, V)``.

    Per frame and head h: ``A_h = softmax(Q_h K_h^T / sqrt(d)) * S_h`` with Q, K from
    LayerNorm -> Linear (d = C/8 per head) and S the learnable shared topology (identity at init).
    Output ``ReLU(BN(sum_h W_h (A_h x) + b_h) + down(x))`` with BN weight initialised to 1e-6.
    """

    def __init__(self, in_channels: int, out_channels: int, num_joints: int, num_heads: int = 3) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.num_heads = in_channels, out_channels, num_heads
        self.head_dim = max(in_channels // 8, 1)
        self.scale = self.head_dim**-0.5
        self.ln = nn.LayerNorm(in_channels)
        self.to_qk = nn.Linear(in_channels, 2 * num_heads * self.head_dim)
        nn.init.normal_(self.to_qk.weight, 0.0, 1.0)
        self.shared_topology = nn.Parameter(torch.eye(num_joints).repeat(num_heads, 1, 1))  # (H, V, V)
        # the H per-head 1x1 convs as one (C_out, H*C_in) weight; biases kept per head (same params)
        std = math.sqrt(2.0 / (out_channels * num_heads))
        self.head_weight = nn.Parameter(torch.randn(out_channels, num_heads * in_channels) * std)
        self.head_bias = nn.Parameter(torch.zeros(num_heads, out_channels))
        self.bn = _bn(out_channels, 1e-6)
        if in_channels != out_channels:
            self.down = nn.Sequential(_conv_init(nn.Conv2d(in_channels, out_channels, 1)), _bn(out_channels))
        else:
            self.down = nn.Identity()

    def attention(self, xt: torch.Tensor) -> torch.Tensor:
        """``xt (N, T, V, C)`` -> attention ``(N, T, H, V, V)`` (rows sum to 1)."""
        n, t, v, _ = xt.shape
        h, d = self.num_heads, self.head_dim
        hn = self.ln(xt)
        w, b = self.to_qk.weight, self.to_qk.bias  # rows: q then k, each (h d)
        # two GEMMs on weight slices instead of one GEMM + Split (a Split costs a copy in ORT)
        q = F.linear(hn, w[: h * d], b[: h * d]).reshape(n, t, v, h, d).transpose(2, 3)  # (N, T, H, V, d)
        k = F.linear(hn, w[h * d :], b[h * d :]).reshape(n, t, v, h, d).permute(0, 1, 3, 4, 2)  # (N, T, H, d, V)
        dots = torch.matmul(q, k) * self.scale
        return attention_softmax(dots, self.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        xt = x.permute(0, 2, 3, 1)  # (N, T, V, C)
        a = self.attention(xt) * self.shared_topology  # (N, T, H, V, V)
        # rows ordered (v, h) so the product lands as (N, T, V, H*C) for the fused head GEMM
        a = a.transpose(2, 3).reshape(n, t, v * self.num_heads, v)
        z = torch.matmul(a, xt).reshape(n * t * v, self.num_heads * c)  # (N*T*V, H*C): one 2-D GEMM
        w, b = self.head_weight, self.head_bias.sum(0)
        if not self.training:
            # eval BN is an affine map: fold it into the head GEMM (ORT cannot fuse BN after a MatMul)
            scale, shift = bn_affine(self.bn)
            w, b = w * scale[:, None], b * scale + shift
        # (N, C_out, T, V) with channels-last strides; making it NCHW-contiguous by a per-sample
        # W @ z^T GEMM measured 2-20% slower per training step (docs/training_speed.md)
        y = F.linear(z, w, b).reshape(n, t * v, self.out_channels).transpose(1, 2)
        y = y.reshape(n, self.out_channels, t, v)
        if self.training:
            y = self.bn(y)
        return _relu_sum(y, self.down(x), self.training)


class MSTCN(nn.Module):
    """Multi-scale temporal conv (kernel 5, dilations 1 and 2, max-pool, 1x1), four branches of C/4.

    ``(N, C_in, T, V)`` -> ``(N, C_out, ceil(T / stride), V)``. The first 1x1 conv + BN + ReLU of
    the two dilated branches and the max-pool branch share one conv of ``3 * C_out/4`` channels.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = 5,
                 dilations: tuple[int, int] = (1, 2)) -> None:
        super().__init__()
        if out_channels % 4:
            raise ValueError(f"MSTCN: out_channels must be divisible by 4, got {out_channels}")
        b = out_channels // 4
        self.branch_channels = b
        self.proj = nn.Sequential(_conv_init(nn.Conv2d(in_channels, 3 * b, 1)), _bn(3 * b), nn.ReLU())
        self.temporal = nn.ModuleList()
        for d in dilations:
            pad = (kernel_size + (kernel_size - 1) * (d - 1) - 1) // 2
            conv = nn.Conv2d(b, b, (kernel_size, 1), stride=(stride, 1), padding=(pad, 0), dilation=(d, 1))
            self.temporal.append(nn.Sequential(_conv_init(conv), _bn(b)))
        self.pool = nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0))
        self.pool_bn = _bn(b)
        self.point = nn.Sequential(_conv_init(nn.Conv2d(in_channels, b, 1, stride=(stride, 1))), _bn(b))

    def _opening(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """Branch ``i``'s 1x1 conv + BN + ReLU from its slice of the shared conv (eval path)."""
        conv, bn = self.proj[0], self.proj[1]
        sl = slice(i * self.branch_channels, (i + 1) * self.branch_channels)
        y = F.conv2d(x, conv.weight[sl], conv.bias[sl])
        y = F.batch_norm(y, bn.running_mean[sl], bn.running_var[sl], bn.weight[sl], bn.bias[sl], False, 0.0, bn.eps)
        return F.relu(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.branch_channels
        if self.training:  # one conv for the three openings: fewer, larger GEMMs for training
            opened = self.proj(x).split(b, dim=1)  # split: its backward is one cat, not 3 zero-filled slices
            bns = (self.temporal[0][1], self.temporal[1][1], self.pool_bn, self.point[1])
            if _groupable(bns):  # the four branch BNs as one call on the concatenated pre-BN maps
                pre = [self.temporal[0][0](opened[0]), self.temporal[1][0](opened[1]), self.pool(opened[2]),
                       self.point[0](x)]
                return batch_norm_concat(torch.cat(pre, dim=1), bns)
        else:  # three convs: ORT keeps them in its blocked layout, a Split would force a reorder
            opened = tuple(self._opening(x, i) for i in range(3))
        outs = [self.temporal[0](opened[0]), self.temporal[1](opened[1]),
                self.pool_bn(self.pool(opened[2])), self.point(x)]
        return torch.cat(outs, dim=1)


class InfoGCNBlock(nn.Module):
    """SA-GC -> (optional joint reweighting) -> MS-TCN, + residual, ReLU.

    ``(N, C_in, T, V)`` -> ``(N, C_out, T/stride, V)``; ``joint_weight`` ``(N, V)`` or None, where
    N here is the folded batch ``N*M`` of the encoder.
    """

    def __init__(self, in_channels: int, out_channels: int, num_joints: int, stride: int = 1, num_heads: int = 3):
        super().__init__()
        self.gcn = SAGC(in_channels, out_channels, num_joints, num_heads)
        self.tcn = MSTCN(out_channels, out_channels, stride)
        if in_channels == out_channels and stride == 1:
            self.residual: nn.Module = nn.Identity()
        else:
            conv = nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1))
            self.residual = nn.Sequential(_conv_init(conv), _bn(out_channels))

    def forward(self, x: torch.Tensor, joint_weight: torch.Tensor | None = None) -> torch.Tensor:
        y = self.gcn(x)
        if joint_weight is not None:
            y = y * joint_weight[:, None, None, :]
        return _relu_sum(self.tcn(y), self.residual(x), self.training)


@register_encoder("infogcn")
class InfoGCNEncoder(SkeletonEncoder):
    """InfoGCN encoder: ``(N, C, T, V, M)`` -> ``(N*M, 256, T/4, V)`` via ``stem`` + 9 ``blocks``."""

    def __init__(self, layout: Layout, in_channels: int = 3, max_bodies: int = 1, base_channels: int = 64,
                 num_heads: int = 3) -> None:
        super().__init__(layout, in_channels, max_bodies)
        v = layout.num_joints
        scale = base_channels // 64
        self.block_channels = tuple(c * scale for c in INFOGCN_CHANNELS)
        self.register_buffer("joint_transform", input_transform(layout, k=1))  # (V, V) float32
        self.to_joint_embedding = nn.Linear(in_channels, base_channels)
        self.pos_embedding = nn.Parameter(torch.randn(1, v, base_channels))
        self.data_bn = nn.BatchNorm1d(max_bodies * v * base_channels)
        chans = (base_channels, *self.block_channels)
        self.blocks = nn.ModuleList(
            InfoGCNBlock(chans[i], chans[i + 1], v, INFOGCN_STRIDES[i], num_heads) for i in range(len(INFOGCN_STRIDES))
        )

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M)`` -> ``(N*M, C0, T, V)``."""
        n, c, t, v, m = x.shape
        c0 = self.to_joint_embedding.out_features
        xp = x.permute(0, 4, 1, 2, 3)  # (N, M, C, T, V): cheap, only C=3 channels
        xp = torch.matmul(xp, self.joint_transform.t())  # joint minus parent, along V
        h = F.conv2d(xp.reshape(n * m, c, t, v), self.to_joint_embedding.weight[:, :, None, None],
                     self.to_joint_embedding.bias)  # (N*M, C0, T, V)
        h = h + self.pos_embedding.transpose(1, 2)[:, :, None, :]
        h = h.reshape(n, m, c0, t, v)
        bn = self.data_bn
        if self.training or not bn.track_running_stats or bn.running_mean is None:
            # the reference's BatchNorm1d over channels ordered (m, v, c), statistics over (n, t)
            hb = h.permute(0, 1, 4, 2, 3).reshape(n, m * v * c0, t)
            hb = bn(hb).reshape(n, m, v, c0, t).permute(0, 1, 3, 4, 2)
            return hb.reshape(n * m, c0, t, v)
        # eval: the same BatchNorm as a broadcast affine on (N, M, C0, T, V), no permutes of h
        w, b = bn_affine(bn)
        w = w.reshape(m, v, c0).permute(0, 2, 1)[None, :, :, None, :]
        b = b.reshape(m, v, c0).permute(0, 2, 1)[None, :, :, None, :]
        return (h * w + b).reshape(n * m, c0, t, v)
