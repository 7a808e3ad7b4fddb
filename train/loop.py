"""One training epoch: forward, CrossGLG losses, backward, SGD step; AMP on CUDA only.

Under DDP the model is wrapped in ``DistributedDataParallel`` (gradients averaged over ranks);
the loss terms are computed by the unwrapped model's ``losses`` from the wrapped forward's output.
Logged values are averaged over iterations and ranks. A tqdm bar is shown on rank 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import torch
from torch import nn
from tqdm import tqdm

from .distributed import all_reduce_sum
from .schedule import StepSchedule, set_lr


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (or the model itself)."""
    return model.module if hasattr(model, "module") else model


def _float_output(out):  # noqa: ANN001, ANN202 - CrossGLGOutput in and out
    """Cast an AMP forward's tensors to fp32 so the losses are computed in full precision."""
    fields = {f.name: getattr(out, f.name) for f in dataclasses.fields(out)}
    return dataclasses.replace(out, **{k: v.float() for k, v in fields.items() if torch.is_tensor(v)})


def train_step(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    amp: bool,
) -> dict[str, torch.Tensor]:
    """One SGD step on a batch ``x (N, C, T, V, M)``, ``y (N,)``; returns detached loss terms + acc."""
    device_type = x.device.type
    with torch.autocast(device_type=device_type, dtype=torch.float16, enabled=amp):
        out = model(x, y)
    out = _float_output(out) if amp else out
    terms = unwrap(model).losses(out, y)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(terms["total"]).backward()
    scaler.step(optimizer)
    scaler.update()
    logged = {k: v.detach() for k, v in terms.items()}
    logged["acc"] = (out.logits.detach().argmax(1) == y).float().mean()
    return logged


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    schedule: StepSchedule,
    epoch: int,
    device: torch.device,
    amp: bool = False,
    show_progress: bool = True,
) -> dict[str, float]:
    """Train ``epoch`` (0-based); the lr follows ``schedule`` per iteration. Returns mean metrics."""
    model.train()
    iters = len(loader)  # type: ignore[arg-type]
    sums: dict[str, torch.Tensor] = {}
    count = torch.zeros((), dtype=torch.float64)
    bar = tqdm(loader, total=iters, desc=f"epoch {epoch + 1}", disable=not show_progress, leave=False,
               dynamic_ncols=True)
    for it, (x, y, _idx) in enumerate(bar):
        lr = schedule.lr(epoch + it / max(iters, 1))
        set_lr(optimizer, lr)
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        logged = train_step(model, x, y, optimizer, scaler, amp)
        for k, v in logged.items():
            sums[k] = sums.get(k, torch.zeros((), dtype=torch.float64)) + v.double().cpu() * y.shape[0]
        count += y.shape[0]
        if show_progress:
            bar.set_postfix(loss=f"{float(logged['total']):.3f}", acc=f"{float(logged['acc']):.2f}", lr=f"{lr:.4f}")
    bar.close()
    keys = sorted(sums)
    packed = torch.stack([sums[k] for k in keys] + [count]) if keys else count.reshape(1)
    packed = all_reduce_sum(packed)
    total = float(packed[-1])
    metrics = {f"train_{k}": float(packed[i]) / max(total, 1.0) for i, k in enumerate(keys)}
    metrics["lr"] = schedule.lr(epoch + 1 - 1e-9)
    metrics["samples"] = total
    return metrics
