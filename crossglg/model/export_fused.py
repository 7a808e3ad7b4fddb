"""Inference-only rewrite of a trained InfoGCN skeleton branch for fast ONNX Runtime graphs.

:func:`fuse_for_export` builds a :class:`FusedInfoGCNBranch` from a trained
:class:`~crossglg.model.skeleton_branch.SkeletonBranch` (InfoGCN encoder, with or without the JID).
It computes the same function as the eval-mode branch (same maths, float32 rounding only; tests
check torch and ONNX Runtime parity) with a graph laid out for ONNX Runtime's CPU kernels. The
trained ``state_dict`` is not touched: every tensor here is derived from it at build time.

Why each rewrite (measured with ORT profiles, see docs/model_speed.md):

* Channels-last between blocks: features travel as ``(B, T, V, C)`` (B = N*M). SA-GC works
  channels-last anyway (LayerNorm over C, per-frame graph product, head GEMM over (B*T*V, H*C)),
  so its input/output transposes disappear. The MS-TCN convolutions still run in ORT's blocked
  NCHWc layout: the transpose in front of them and the one after their Concat are absorbed by ORT
  into its ``ReorderInput/ReorderOutput(channels_last=1)`` nodes, which it needs anyway.
* Every eval BatchNorm is folded into the weights of the conv/GEMM in front of it; the LayerNorm
  affine and the 1/sqrt(d) attention scale into the q/k GEMM weights; q/k and the head run as 2-D
  GEMMs so ORT fuses their bias (and the head's ReLU) into one kernel; the SA-GC residual enters
  the head GEMM as its C operand (and a ``down`` projection carries the head bias).
* Attention rows ordered (joint, head) from the start: q is spread block-diagonally over the heads
  (a broadcast Mul with a 0/1 mask) so one MatMul against k yields all heads' logits as
  ``(B*T, V*H, U)``, the layout the graph product needs: no transposes of q or of the attention
  (those transposes, with 8- and 25-float inner runs, took ~0.15 ms each per block at T = 64 in
  ORT profiles; x1.05-1.11 wall at 2 threads).
* Stem: ``I - A`` along V, Linear(3 -> C0), positional embedding and the input BatchNorm (an affine
  per body, joint and channel) collapse into one MatMul with a ``(M, C*V, V*C0)`` weight: one small
  transpose of the raw input and one GEMM instead of nine nodes.
* JID: pooled channels-last, its first Linear's columns permuted to the (joint, channel) order.
* Stride-2 residual projections: a strided slice + GEMM in channels-last (no extra reorder).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .infogcn import ATTN_LOGIT_RANGE, MSTCN, SAGC, InfoGCNBlock, InfoGCNEncoder, bn_affine
from .jid import jid_mlp
from .skeleton_branch import SkeletonBranch

FUSED_GRAPH_VERSION = "fused-cl/2"


def _const(t: torch.Tensor) -> torch.Tensor:
    return t.detach().clone().contiguous()


def _fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Conv followed by eval BN as one conv: ``(weight (O, I, kh, kw), bias (O,))``."""
    scale, shift = bn_affine(bn)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
    return conv.weight * scale[:, None, None, None], bias * scale + shift


class FusedStem(nn.Module):
    """``(N, C, T, V, M)`` -> ``(N*M, T, V, C0)`` as one MatMul per body (see module docstring)."""

    def __init__(self, enc: InfoGCNEncoder, bodies: int) -> None:
        super().__init__()
        lin, v = enc.to_joint_embedding, enc.joint_transform.shape[0]
        c_in, c0 = lin.in_features, lin.out_features
        scale, shift = bn_affine(enc.data_bn)  # channels ordered (m, v, c0)
        scale, shift = scale.reshape(bodies, v, c0), shift.reshape(bodies, v, c0)
        jt = enc.joint_transform  # (V, V): out joint v = sum_u jt[v, u] * in joint u
        # K[m, (c, u), (v, o)] = jt[v, u] * W[o, c] * scale[m, v, o]
        k = torch.einsum("vu,oc->cuvo", jt, lin.weight)[None] * scale[:, None, None]  # (M, C, U, V, O)
        self.register_buffer("kernel", _const(k.reshape(bodies, c_in * v, v * c0)))
        bias = (lin.bias[None, None, :] + enc.pos_embedding) * scale + shift  # (M, V, O)
        self.register_buffer("bias", _const(bias.reshape(bodies, 1, v * c0)))
        self.bodies, self.channels = bodies, c0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        xr = x.permute(0, 4, 2, 1, 3).reshape(n, m, t, c * v)  # tiny transpose: only C=3 channels
        h = torch.matmul(xr, self.kernel) + self.bias  # (N, M, T, V*C0)
        return h.reshape(n * m, t, v, self.channels)


class FusedSAGC(nn.Module):
    """SA-GC channels-last: ``(B, T, V, C)`` -> ``(B, T, V, C_out)`` (ReLU applied)."""

    def __init__(self, g: SAGC) -> None:
        super().__init__()
        h, d, c = g.num_heads, g.head_dim, g.in_channels
        self.heads, self.head_dim, self.out_channels, self.eps = h, d, g.out_channels, g.ln.eps
        w, b = g.to_qk.weight, g.to_qk.bias  # rows: q then k, each (h d); input LayerNorm(C)
        gamma, beta = g.ln.weight, g.ln.bias
        wf, bf = w * gamma[None, :], b + w @ beta  # LayerNorm affine folded into the GEMM
        self.register_buffer("wq_t", _const(wf[: h * d].t() * g.scale))  # (C, H*d), 1/sqrt(d) folded
        self.register_buffer("bq", _const(bf[: h * d] * g.scale))
        self.register_buffer("wk_t", _const(wf[h * d :].t()))
        self.register_buffer("bk", _const(bf[h * d :]))
        # spreads q block-diagonally over the heads (see attention())
        mask = torch.zeros(h, h * d, dtype=w.dtype)
        for i in range(h):
            mask[i, i * d : (i + 1) * d] = 1.0
        self.register_buffer("head_mask", mask)  # (H, H*d)
        self.register_buffer("topology", _const(g.shared_topology.permute(1, 0, 2)))  # (V, H, U)
        scale, shift = bn_affine(g.bn)
        self.register_buffer("w_head_t", _const((g.head_weight * scale[:, None]).t()))  # (H*C, C_out)
        head_bias = g.head_bias.sum(0) * scale + shift
        if isinstance(g.down, nn.Identity):
            self.down_t = None
            self.register_buffer("head_bias", _const(head_bias))
        else:  # the residual projection carries the head bias: one GEMM bias instead of an Add
            wd, bd = _fold_conv_bn(g.down[0], g.down[1])
            self.register_buffer("down_t", _const(wd[:, :, 0, 0].t()))  # (C, C_out)
            self.register_buffer("down_bias", _const(bd + head_bias))
        self.in_channels = c

    def attention(self, n2: torch.Tensor, b: int, t: int, v: int) -> torch.Tensor:
        """Normalised rows ``(B*T*V, C)`` -> attention ``(B, T, V*H, U)`` (rows: joint v, then head h)
        times the topology."""
        h, d = self.heads, self.head_dim
        q = torch.addmm(self.bq, n2, self.wq_t).reshape(b * t, v, 1, h * d) * self.head_mask  # (BT, V, H, H*d)
        k = torch.addmm(self.bk, n2, self.wk_t).reshape(b * t, v, h * d)  # (BT, U, H*d)
        # zeros outside each row's head block: row (v, h) dotted with k gives head h's logits only;
        # ORT folds the transpose of k into the MatMul (FusedMatMul transB)
        dots = torch.matmul(q.reshape(b * t, v * h, h * d), k.transpose(1, 2))  # (BT, V*H, U)
        # the same subnormal guard as the trained model (crossglg.model.infogcn.SAGC.attention);
        # flooring the softmax output instead (one op) or ORT's denormals-as-zero without a guard
        # were 3-5x slower on a CPU that penalises subnormals (measured): they then arise inside
        # the softmax itself
        dots = torch.clamp_min(dots - dots.amax(dim=-1, keepdim=True), -ATTN_LOGIT_RANGE)
        a = torch.softmax(dots, dim=-1).reshape(b * t, v, h, v) * self.topology
        return a.reshape(b, t, v * h, v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, v, c = x.shape
        x2 = x.reshape(b * t * v, c)
        n2 = F.layer_norm(x2, (c,), eps=self.eps)
        z = torch.matmul(self.attention(n2, b, t, v), x).reshape(b * t * v, self.heads * c)  # (B*T*V, H*C)
        res = x2 + self.head_bias if self.down_t is None else torch.addmm(self.down_bias, x2, self.down_t)
        return F.relu(torch.addmm(res, z, self.w_head_t)).reshape(b, t, v, self.out_channels)


class FusedMSTCN(nn.Module):
    """MS-TCN on NCHW ``(B, C, T, V)`` -> ``(B, C, T', V)`` with every BN folded into its conv."""

    def __init__(self, m: MSTCN) -> None:
        super().__init__()
        b = m.branch_channels
        w, bias = _fold_conv_bn(m.proj[0], m.proj[1])
        for i in range(3):
            self.register_buffer(f"open{i}_w", _const(w[i * b : (i + 1) * b]))
            self.register_buffer(f"open{i}_b", _const(bias[i * b : (i + 1) * b]))
        self.temporal_args = []
        for i, seq in enumerate(m.temporal):
            tw, tb = _fold_conv_bn(seq[0], seq[1])
            self.register_buffer(f"temporal{i}_w", _const(tw))
            self.register_buffer(f"temporal{i}_b", _const(tb))
            self.temporal_args.append({"stride": seq[0].stride, "padding": seq[0].padding, "dilation": seq[0].dilation})
        self.pool = nn.MaxPool2d(m.pool.kernel_size, m.pool.stride, m.pool.padding)
        # BN after a max-pool cannot fold into a conv: a depthwise 1x1 conv keeps it in ORT's NCHWc
        # layout (a Mul + Add pair would force the Concat and everything after it out of NCHWc)
        scale, shift = bn_affine(m.pool_bn)
        self.register_buffer("pool_w", _const(scale[:, None, None, None]))
        self.register_buffer("pool_b", _const(shift))
        pw, pb = _fold_conv_bn(m.point[0], m.point[1])
        self.register_buffer("point_w", _const(pw))
        self.register_buffer("point_b", _const(pb))
        self.point_stride = m.point[0].stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for i in range(2):
            o = F.relu(F.conv2d(x, getattr(self, f"open{i}_w"), getattr(self, f"open{i}_b")))
            outs.append(F.conv2d(o, getattr(self, f"temporal{i}_w"), getattr(self, f"temporal{i}_b"),
                                 **self.temporal_args[i]))
        o = F.relu(F.conv2d(x, self.open2_w, self.open2_b))
        outs.append(F.conv2d(self.pool(o), self.pool_w, self.pool_b, groups=self.pool_w.shape[0]))
        outs.append(F.conv2d(x, self.point_w, self.point_b, stride=self.point_stride))
        return torch.cat(outs, dim=1)


class FusedBlock(nn.Module):
    """InfoGCN block channels-last: ``(B, T, V, C_in)`` [, joint weights ``(B, 1, V, 1)``] ->
    ``(B, T', V, C_out)``."""

    def __init__(self, blk: InfoGCNBlock) -> None:
        super().__init__()
        self.gcn = FusedSAGC(blk.gcn)
        self.tcn = FusedMSTCN(blk.tcn)
        if isinstance(blk.residual, nn.Identity):
            self.res_t, self.stride = None, 1
        else:
            rw, rb = _fold_conv_bn(blk.residual[0], blk.residual[1])
            self.register_buffer("res_t", _const(rw[:, :, 0, 0].t()))  # (C_in, C_out)
            self.register_buffer("res_b", _const(rb))
            self.stride = blk.residual[0].stride[0]

    def forward(self, x: torch.Tensor, joint_weight: torch.Tensor | None = None) -> torch.Tensor:
        y = self.gcn(x)
        if joint_weight is not None:
            y = y * joint_weight
        out = self.tcn(y.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # ORT: channels-last reorders
        if self.res_t is None:
            return F.relu(out + x)
        xs = x[:, :: self.stride] if self.stride > 1 else x
        b, t, v, c = xs.shape
        res = torch.addmm(self.res_b, xs.reshape(b * t * v, c), self.res_t).reshape(b, t, v, -1)
        return F.relu(out + res)


class FusedInfoGCNBranch(nn.Module):
    """``skeleton (N, C, T, V, M)`` -> ``embedding (N, D)`` [, ``logits (N, K)``], eval maths of a
    :class:`SkeletonBranch` with an InfoGCN encoder."""

    def __init__(self, branch: SkeletonBranch) -> None:
        super().__init__()
        enc = branch.encoder
        if not isinstance(enc, InfoGCNEncoder):
            raise ValueError(f"fused export supports the InfoGCN encoder only, got {type(enc).__name__}")
        cfg = branch.cfg
        self.bodies, self.n_pre, self.jid_mix = cfg.max_bodies, cfg.n_pre, float(cfg.jid_mix)
        self.jid_version = cfg.jid_version
        with torch.no_grad():
            self.stem = FusedStem(enc, cfg.max_bodies)
            self.blocks = nn.ModuleList(FusedBlock(b) for b in enc.blocks)
            self.jid = None
            if branch.jid is not None:
                fc1 = branch.jid.fc1
                c, v = enc.block_channels[cfg.n_pre - 1], branch.num_joints
                self.jid = nn.ModuleDict({"fc1": nn.Linear(c * v, fc1.out_features, dtype=fc1.weight.dtype),
                                          "fc2": _copy_linear(branch.jid.fc2)})
                # columns (c, v) -> (v, c): the channels-last pooled features flatten joint-major
                self.jid["fc1"].weight.copy_(fc1.weight.reshape(-1, c, v).permute(0, 2, 1).reshape(-1, c * v))
                self.jid["fc1"].bias.copy_(fc1.bias)
            head = branch.head
            self.fc, self.fc_mu = _copy_linear(head.fc), _copy_linear(head.fc_mu)
            self.classifier = _copy_linear(head.classifier) if head.classifier is not None else None
        self.requires_grad_(False)
        self.eval()

    def _joint_weights(self, h: torch.Tensor) -> torch.Tensor:
        """Block output ``(B, T, V, C)`` -> JID joint weights ``(B, 1, V, 1)``."""
        b, _, v, c = h.shape
        m = self.bodies
        pooled = h.mean(1).reshape(b // m, m, v * c).mean(1)  # (N, V*C), joint-major
        k_out = jid_mlp(pooled, self.jid["fc1"], self.jid["fc2"], self.jid_version)  # (N, V)
        w = k_out * v if self.jid_mix == 1.0 else (1.0 - self.jid_mix) + self.jid_mix * v * k_out
        return w[:, None, :].expand(b // m, m, v).reshape(b, 1, v, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        h = self.stem(x)
        jw = None
        for i, blk in enumerate(self.blocks):
            h = blk(h, jw)
            if self.jid is not None and i == self.n_pre - 1:
                jw = self._joint_weights(h)
        b, _, _, c = h.shape
        pooled = h.mean((1, 2)).reshape(b // self.bodies, self.bodies, c).mean(1)  # (N, C)
        emb = self.fc_mu(F.relu(self.fc(pooled)))
        if self.classifier is None:
            return emb
        return emb, self.classifier(emb)


def _copy_linear(lin: nn.Linear) -> nn.Linear:
    return copy.deepcopy(lin)


def fuse_for_export(branch: SkeletonBranch) -> FusedInfoGCNBranch:
    """Eval-mode, gradient-free fused copy of ``branch`` (which is left unchanged)."""
    was_training = branch.training
    branch.eval()
    try:
        return FusedInfoGCNBranch(branch)
    finally:
        branch.train(was_training)
