"""The fast training path of the InfoGCN encoder computes the plain formulation's outputs, gradients
and BatchNorm statistics, and its backward makes no subnormal floats (the CPU slowdown it avoids)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from crossglg.model import ModelConfig, SkeletonBranch
from crossglg.model.infogcn import MSTCN, SAGC, batch_norm_concat
from crossglg.model.reference_infogcn import ReferenceInfoGCN, to_fast_state_dict

TINY = torch.finfo(torch.float32).tiny


@pytest.fixture(autouse=True)
def _keep_subnormals():
    """The package conftest flushes subnormals; these tests must see them to be able to fail."""
    torch.set_flush_denormal(False)


def _close(a: torch.Tensor, b: torch.Tensor, rel: float) -> None:
    """Equal up to ``rel`` of the larger tensor's scale (a floor of 1e-10 for gradients that are
    zero in exact arithmetic, e.g. a bias in front of a train-mode BatchNorm)."""
    torch.testing.assert_close(a.detach(), b.detach(), atol=rel * float(b.detach().abs().max()) + 1e-10, rtol=rel)


def _subnormals(t: torch.Tensor) -> int:
    a = t.detach().abs()
    return int(((a > 0) & (a < TINY)).sum())


def plain_sagc(g: SAGC, x: torch.Tensor) -> torch.Tensor:
    """SA-GC as the paper writes it: per-head plain softmax attention, per-head 1x1 conv, summed."""
    n, c, t, v = x.shape
    h, d = g.num_heads, g.head_dim
    qk = g.to_qk(g.ln(x.permute(0, 2, 3, 1)))
    q, k = qk[..., : h * d].reshape(n, t, v, h, d), qk[..., h * d :].reshape(n, t, v, h, d)
    attn = torch.softmax(torch.einsum("ntihd,ntjhd->nthij", q, k) * g.scale, dim=-1) * g.shared_topology
    out = 0
    for i in range(h):
        z = torch.einsum("ntij,nctj->ncti", attn[:, :, i], x)  # (N, C, T, V)
        w = g.head_weight[:, i * c : (i + 1) * c]
        out = out + F.conv2d(z, w[:, :, None, None], g.head_bias[i])
    return F.relu(g.bn(out) + g.down(x))


def plain_mstcn(m: MSTCN, x: torch.Tensor) -> torch.Tensor:
    """MS-TCN with each branch's BatchNorm module applied to its own output, then concatenated."""
    b = m.branch_channels
    p = m.proj(x)
    outs = [m.temporal[0](p[:, :b]), m.temporal[1](p[:, b : 2 * b]), m.pool_bn(m.pool(p[:, 2 * b :])), m.point(x)]
    return torch.cat(outs, dim=1)


def _grads(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: p.grad.clone() for k, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("cin,cout", [(16, 16), (16, 24)])
def test_sagc_training_path_equals_plain_formulation(cin: int, cout: int) -> None:
    fast = SAGC(cin, cout, 25).double().train()
    with torch.no_grad():
        fast.bn.weight.fill_(0.7)  # O(1) so the gradients reach every parameter visibly
        fast.shared_topology.add_(0.05 * torch.randn_like(fast.shared_topology))
    plain = copy.deepcopy(fast)
    x = torch.randn(2, cin, 6, 25, dtype=torch.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    r = torch.randn(2, cout, 6, 25, dtype=torch.float64)
    y_fast, y_plain = fast(x), plain_sagc(plain, x2)
    _close(y_fast, y_plain, 1e-9)
    (y_fast * r).sum().backward()
    (y_plain * r).sum().backward()
    _close(x.grad, x2.grad, 1e-9)
    gf, gp = _grads(fast), _grads(plain)
    assert gf.keys() == gp.keys() and "to_qk.weight" in gf and "head_weight" in gf
    for k in gf:
        _close(gf[k], gp[k], 1e-8)
    for k, buf in fast.state_dict().items():  # BN running statistics
        _close(buf.double(), plain.state_dict()[k].double(), 1e-12)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_mstcn_grouped_batch_norm_equals_separate_branches(momentum: float | None) -> None:
    fast = MSTCN(16, 16, stride=2).double().train()
    for mod in fast.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum = momentum
    plain = copy.deepcopy(fast)
    r = torch.randn(2, 16, 4, 25, dtype=torch.float64)
    for _ in range(2):  # two steps: running statistics and num_batches_tracked accumulate alike
        x = torch.randn(2, 16, 8, 25, dtype=torch.float64)
        y_fast, y_plain = fast(x), plain_mstcn(plain, x)
        _close(y_fast, y_plain, 1e-10)
        (y_fast * r).sum().backward()
        (y_plain * r).sum().backward()
    gf, gp = _grads(fast), _grads(plain)
    assert gf.keys() == gp.keys()
    for k in gf:
        _close(gf[k], gp[k], 1e-9)
    sf, sp = fast.state_dict(), plain.state_dict()
    assert sf.keys() == sp.keys()
    for k in sf:
        _close(sf[k].double(), sp[k].double(), 1e-12)
    assert int(sf["pool_bn.num_batches_tracked"]) == 2


def test_batch_norm_concat_matches_per_group_batch_norms() -> None:
    bns = [nn.BatchNorm2d(c).double().train() for c in (3, 5, 2)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_()
    twins = copy.deepcopy(bns)
    x = torch.randn(4, 10, 7, 3, dtype=torch.float64, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    r = torch.randn(4, 10, 7, 3, dtype=torch.float64)
    y = batch_norm_concat(x, bns)
    y2 = torch.cat([bn(part) for bn, part in zip(twins, x2.split([3, 5, 2], dim=1), strict=True)], dim=1)
    _close(y, y2, 1e-12)
    (y * r).sum().backward()
    (y2 * r).sum().backward()
    _close(x.grad, x2.grad, 1e-10)
    for bn, twin in zip(bns, twins, strict=True):
        for k, val in bn.state_dict().items():
            _close(val.double(), twin.state_dict()[k].double(), 1e-12)
        _close(bn.weight.grad, twin.weight.grad, 1e-10)
        _close(bn.bias.grad, twin.bias.grad, 1e-10)


def test_mstcn_uses_each_module_for_non_plain_batch_norms() -> None:
    """A BatchNorm subclass (e.g. SyncBatchNorm after conversion) is called itself, not grouped away."""
    calls = []

    class CountingBN(nn.BatchNorm2d):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(self.num_features)
            return super().forward(x)

    m = MSTCN(8, 8).train()
    ref = copy.deepcopy(m)
    counting = CountingBN(2)
    counting.load_state_dict(m.pool_bn.state_dict())
    m.pool_bn = counting
    x = torch.randn(2, 8, 6, 25)
    torch.testing.assert_close(m(x), ref(x), atol=1e-6, rtol=1e-6)
    assert calls == [2]


def test_training_encoder_equals_reference_outputs_gradients_statistics() -> None:
    """Whole encoder in train mode, float64: features, every weight gradient and every BN statistic."""
    ref = ReferenceInfoGCN(10, num_person=1).double().train()
    fast = SkeletonBranch(ModelConfig(num_classes=10, g2l=False)).double().train()
    fast.load_state_dict(to_fast_state_dict(ref), strict=True)
    x = torch.randn(2, 3, 8, 25, 1, dtype=torch.float64)
    final = fast.features(x).final
    h = ref.A_vector @ x.permute(0, 4, 2, 3, 1).reshape(16, 25, 3)  # the reference's forward to the head
    h = ref.to_joint_embedding(h) + ref.pos_embedding
    h = ref.data_bn(h.reshape(2, 1, 8, 25, 64).permute(0, 1, 3, 4, 2).reshape(2, -1, 8))
    h = h.reshape(2, 1, 25, 64, 8).permute(0, 1, 3, 4, 2).reshape(2, 64, 8, 25)
    for layer in ref.layers:
        h = layer(h)
    _close(final, h, 1e-6)  # the reference rounds its attention to float32
    r = torch.randn_like(h)
    (final * r).sum().backward()
    (h * r).sum().backward()
    grads_ref = copy.deepcopy(ref)
    for p, src in zip(grads_ref.parameters(), ref.parameters(), strict=True):
        p.data = src.grad if src.grad is not None else torch.zeros_like(src)
    expected = to_fast_state_dict(grads_ref)
    params = dict(fast.named_parameters())
    checked = 0
    for k, p in params.items():
        if k.startswith("encoder.") and p.grad is not None:
            _close(p.grad, expected[k], 1e-5)
            checked += 1
    assert checked >= 9 * 10  # every block's parameters took part
    stats = to_fast_state_dict(ref)
    for k, buf in fast.state_dict().items():
        if "running_" in k or "num_batches" in k:
            _close(buf.double(), stats[k].double(), 1e-6)


class _SubnormalCounter(TorchDispatchMode):
    """Counts subnormal values in the outputs of every aten op run under it (forward and backward)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                self.count += _subnormals(t)
        return out


def test_training_attention_makes_no_subnormals() -> None:
    """Peaked attention logits and the small gradients of a fresh model (SA-GC's BN weight is 1e-6):
    the plain softmax formulation computes with many subnormal floats (the x86 slow path), the
    training path with almost none (a few remain where ``g - sum(a * g)`` cancels in the softmax
    backward: harmless for speed; in the full model they went from millions per step to ~25)."""
    torch.manual_seed(3)
    fast = SAGC(16, 16, 25).train()
    plain = copy.deepcopy(fast)
    x = 4.0 * torch.randn(2, 16, 6, 25)
    r = 1e-7 * torch.randn(2, 16, 6, 25)
    with _SubnormalCounter() as plain_count:
        (plain_sagc(plain, x) * r).sum().backward()
    with _SubnormalCounter() as fast_count:
        (fast(x) * r).sum().backward()
    assert plain_count.count > 1000
    assert fast_count.count * 50 < plain_count.count
