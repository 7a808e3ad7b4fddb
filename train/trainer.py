"""A whole training run: config -> data -> model -> epochs with checkpoints -> base statistics.

``run_training`` is what ``crossglg-train train`` calls (also under torchrun). Outputs in ``out``:
``config.yaml`` (resolved), ``last.pt`` (every epoch, for ``--resume``), ``final.pt`` (after the
last epoch, with base-class statistics), ``metrics.csv`` and ``curves.png``.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import torch

from crossglg.oneshot import base_statistics

from . import distributed as dist_util
from .checkpoint import FORMAT, load_checkpoint, rng_state, save_checkpoint, set_rng_state, stats_to_payload
from .config import TrainConfig, load_config, save_config, to_dict
from .data import train_loader
from .loop import train_one_epoch, unwrap
from .metrics import MetricsLog
from .prepare import (
    ProtocolData,
    build_model,
    embed,
    make_dataset,
    model_config,
    preprocess_config,
    text_guidance,
)
from .schedule import make_schedule


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _check_resume_config(out: Path, cfg: TrainConfig) -> None:
    saved = out / "config.yaml"
    if saved.is_file():
        old = load_config(saved)
        if to_dict(old) != to_dict(cfg):
            raise ValueError(f"--resume: {saved} differs from the requested config; use a new --out or the same config")


def checkpoint_payload(model, optimizer, cfg: TrainConfig, data: ProtocolData, epoch: int, step: int,  # noqa: ANN001
                       base_stats: dict | None) -> dict:
    core = unwrap(model)
    pcfg = preprocess_config(cfg)
    return {
        "format": FORMAT,
        "epoch": epoch,
        "global_step": step,
        "model": core.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": rng_state(),
        "config": to_dict(cfg),
        "model_config": core.cfg.to_dict(),
        "class_names": data.base_names,
        "novel_class_names": data.novel_names,
        "protocol": data.protocol.name,
        "layout": cfg.data.layout,
        "preprocess": pcfg.to_dict(),
        "preprocess_id": pcfg.id,
        "base_stats": base_stats,
    }


def compute_base_stats(model, data: ProtocolData, cfg: TrainConfig, device: torch.device,  # noqa: ANN001
                       progress: bool) -> dict:
    """Per-base-class mean/covariance of Tukey-transformed embeddings (test transform)."""
    ds = make_dataset(data.train, data.train_labels, cfg, train=False)
    feats, _ = embed(unwrap(model).inference_model(), ds, device, progress=progress)
    st = base_statistics(feats, data.train_labels, beta=cfg.eval.dc_beta)
    present = np.unique(data.train_labels)
    return stats_to_payload(st.means, st.covs, st.beta, [data.base_names[i] for i in present])


def run_training(
    cfg: TrainConfig,
    data: ProtocolData,
    out: str | Path,
    resume: bool = False,
    device: str = "auto",
    progress: bool = True,
) -> Path:
    """Train (single process or one torchrun rank) and return the path of ``final.pt``."""
    out = Path(out)
    info = dist_util.init_distributed(device)
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    main = info.is_main
    last = out / "last.pt"
    if main:
        out.mkdir(parents=True, exist_ok=True)
        if resume:
            _check_resume_config(out, cfg)
        elif last.exists():
            raise ValueError(f"{out} already holds a run (last.pt); pass --resume or choose another --out")
        save_config(cfg, out / "config.yaml")
    dist_util.barrier()
    seed_everything(cfg.seed)

    g2l, l2g = cfg.guidance
    text, k_gt = (None, None)
    if g2l or l2g:
        if main:
            text, k_gt = text_guidance(data.protocol, cfg)  # rank 0 fills the text cache first
        dist_util.barrier()
        if not main:
            text, k_gt = text_guidance(data.protocol, cfg)
    mcfg = model_config(cfg, len(data.protocol.base), int(text.shape[-1]) if text is not None else None)
    core = build_model(mcfg, cfg)
    core.set_text_guidance(text, k_gt)
    model = dist_util.wrap_model(core, info)
    o = cfg.optim
    optimizer = torch.optim.SGD(model.parameters(), lr=o.lr, momentum=o.momentum, nesterov=o.nesterov,
                                weight_decay=o.weight_decay)
    amp = cfg.amp and info.device.type == "cuda"
    scaler = torch.amp.GradScaler(info.device.type, enabled=amp)
    schedule = make_schedule(o)

    start_epoch, step = 0, 0
    if resume and last.is_file():
        ckpt = load_checkpoint(last, map_location=info.device)
        core.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        start_epoch, step = int(ckpt["epoch"]), int(ckpt.get("global_step", 0))
        set_rng_state(ckpt["rng"])
    metrics = MetricsLog(out / "metrics.csv")
    if main:
        metrics.truncate(start_epoch)

    # full names ("<dataset>: <class>"): a side swap only ever finds its counterpart in the same dataset
    ds = make_dataset(data.train, data.train_labels, cfg, train=True, class_names=data.base_names)
    loader, sampler = train_loader(ds, o.batch_size, info.rank, info.world_size, cfg.seed, cfg.data.num_workers)
    for epoch in range(start_epoch, o.epochs):
        sampler.set_epoch(epoch)
        ds.set_epoch(epoch)
        t0 = time.time()
        row = train_one_epoch(model, loader, optimizer, scaler, schedule, epoch, info.device, amp=amp,
                              show_progress=progress and main)
        step += len(loader)
        row = {"epoch": epoch, **row, "seconds": time.time() - t0}
        final = epoch == o.epochs - 1
        stats = compute_base_stats(model, data, cfg, info.device, progress and main) if final and main else None
        if main:
            save_checkpoint(last, checkpoint_payload(model, optimizer, cfg, data, epoch + 1, step, stats))
            metrics.append(row)
            metrics.plot(out / "curves.png")
            # one line per epoch, also in logs without progress bars
            print(f"{out.name} epoch {epoch + 1}/{o.epochs} loss {row.get('train_total', float('nan')):.4f} "
                  f"acc {row.get('train_acc', float('nan')):.3f} lr {row['lr']:.4g} {row['seconds']:.0f}s", flush=True)
        dist_util.barrier()
    final_path = out / "final.pt"
    if main and (not final_path.is_file() or start_epoch < o.epochs):
        ckpt = load_checkpoint(last)
        if ckpt.get("base_stats") is None:  # resumed after the last epoch's save but before stats
            ckpt["base_stats"] = compute_base_stats(model, data, cfg, info.device, progress)
            save_checkpoint(last, ckpt)
        save_checkpoint(final_path, ckpt)
    dist_util.barrier()
    dist_util.cleanup()
    return final_path
