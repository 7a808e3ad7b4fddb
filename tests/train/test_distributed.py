"""DDP on CPU: 2 processes, gloo backend, the real CrossGLG model at T=16.

Checks: after several SGD steps every rank holds identical weights; the DDP loss (mean over
ranks) and the DDP weights equal a single-process run on the same global batch, computed as
DDP defines it on CPU (each rank's share forms its own BatchNorm / MMD batch; torch has no CPU
SyncBatchNorm), within float tolerance.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from shared_helpers import free_port

from crossglg.model.config import ModelConfig
from crossglg.model.dual_branch import CrossGLGModel
from train.distributed import DistInfo, wrap_model
from train.loop import train_step

STEPS = 3
WORLD = 2
GLOBAL_BATCH = 8


def _model() -> CrossGLGModel:
    torch.manual_seed(0)
    cfg = ModelConfig(num_classes=4, frames=16, text_dim=8, interaction_dim=16, interaction_heads=2,
                      interaction_layers=1)
    m = CrossGLGModel(cfg)
    g = torch.Generator().manual_seed(1)
    k_gt = torch.rand(4, 25, generator=g)
    m.set_text_guidance(torch.randn(4, 25, 8, generator=g), k_gt / k_gt.sum(1, keepdim=True))
    return m


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(2)
    return [(torch.randn(GLOBAL_BATCH, 3, 16, 25, 1, generator=g), torch.arange(GLOBAL_BATCH) % 4)
            for _ in range(STEPS)]


def _optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        model = wrap_model(_model(), DistInfo(rank=rank, world_size=WORLD))
        opt = _optimizer(model)
        scaler = torch.amp.GradScaler("cpu", enabled=False)
        per = GLOBAL_BATCH // WORLD
        losses = []
        for step, (x, y) in enumerate(_batches()):
            torch.manual_seed(1000 * step + rank)  # the z-sampling / dropout noise of this shard
            terms = train_step(model, x[rank * per:(rank + 1) * per], y[rank * per:(rank + 1) * per], opt,
                               scaler, amp=False)
            t = terms["total"].clone()
            dist.all_reduce(t)
            losses.append(float(t) / WORLD)
        state = {k: v.detach().clone() for k, v in model.module.named_parameters()}
        torch.save({"losses": torch.tensor(losses), "params": state}, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _single_process() -> tuple[list[float], dict[str, torch.Tensor]]:
    """The same global batches in one process: the mean of the two shards' losses per step."""
    torch.set_num_threads(1)
    model = _model()
    model.train()
    opt = _optimizer(model)
    per = GLOBAL_BATCH // WORLD
    losses = []
    for step, (x, y) in enumerate(_batches()):
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for r in range(WORLD):
            torch.manual_seed(1000 * step + r)
            xs, ys = x[r * per:(r + 1) * per], y[r * per:(r + 1) * per]
            loss = model.losses(model(xs, ys), ys)["total"] / WORLD
            loss.backward()
            total += float(loss.detach())
        opt.step()
        losses.append(total)
    return losses, {k: v.detach() for k, v in model.named_parameters()}


def test_ddp_gloo_two_processes_match_single_process(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in r0["params"]:
        assert torch.equal(r0["params"][k], r1["params"][k]), f"ranks differ in {k}"
    losses, params = _single_process()
    torch.testing.assert_close(r0["losses"], torch.tensor(losses), rtol=1e-4, atol=1e-5)
    start = _model()
    moved = 0
    for k, v in params.items():
        torch.testing.assert_close(r0["params"][k], v, rtol=1e-4, atol=1e-5)
        moved += int(not torch.equal(v, dict(start.named_parameters())[k]))
    assert moved > 10  # the steps really changed the weights
