"""torch.distributed plumbing: init from torchrun's environment, samplers, all-reduce helpers.

``torchrun --nproc_per_node=N -m train.cli train ...`` (or ``--nnodes`` for several machines)
sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. Without them
the run is a single process. The backend is NCCL on CUDA and gloo on CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: global ``rank`` of ``world_size``, ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r}: expected an integer") from None


def init_distributed(device: str = "auto") -> DistInfo:
    """Initialise the process group when launched by torchrun; pick the device.

    ``device``: ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``.
    """
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", 0)
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available")
    if use_cuda:
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    return DistInfo(rank=rank, world_size=world, local_rank=local, device=dev)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over ranks (a copy is returned, on ``t``'s device); identity in one process."""
    out = t.clone()
    if dist.is_available() and dist.is_initialized():
        if dist.get_backend() == "nccl" and not out.is_cuda:  # NCCL reduces CUDA tensors only
            moved = out.cuda()
            dist.all_reduce(moved, op=dist.ReduceOp.SUM)
            return moved.to(t.device)
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor over ranks; identity in a single process."""
    if dist.is_available() and dist.is_initialized():
        return all_reduce_sum(t) / dist.get_world_size()
    return t.clone()


def wrap_model(model: torch.nn.Module, info: DistInfo, sync_bn: bool = True) -> torch.nn.Module:
    """Move to the device; under DDP wrap in ``DistributedDataParallel``.

    On CUDA BatchNorm becomes ``SyncBatchNorm`` (``sync_bn``) so statistics cover the global batch;
    torch has no CPU SyncBatchNorm, so on CPU (gloo) each rank normalises over its own share and the
    batch-level loss terms (BN statistics, MMD class means) are those of the rank's share.
    """
    model = model.to(info.device)
    if not info.enabled:
        return model
    if sync_bn and info.device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [info.device.index] if info.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def broadcast_object(obj: object, src: int = 0) -> object:
    """Send a picklable object from ``src`` to every rank (used for internal, trusted values only)."""
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]
