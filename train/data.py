"""Torch datasets over raw skeleton sequences, with InfoGCN augmentation and a seeded sampler.

Augmentation randomness is drawn from ``np.random.default_rng([seed, epoch, index])``: it does not
depend on worker processes, DDP ranks or on where a run was resumed, so an interrupted and resumed
run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from crossglg.preprocess import PreprocessConfig
from crossglg.skeleton.layouts import NTU25, Layout

from .augment import augment_train, transform_test
from .config import AugmentConfig

Loader = Callable[[int], np.ndarray]  # index -> raw sequence (T, M, V, 3)


class SkeletonDataset(Dataset):
    """Items ``(x (3, T, V, M) float32 tensor, label int, index int)``.

    Args:
        load: returns the raw sequence ``(T, M, V, 3)`` of item ``i`` (the caller caches).
        labels: class index per item ``(N,)``.
        pcfg / acfg: preprocessing and augmentation configs.
        train: random augmentation (else the deterministic test transform).
        seed: base seed of the augmentation randomness.
        mirror_map: class after a left/right mirror ``(K,)`` (-1: never mirrored), for ``acfg.mirror``.
    """

    def __init__(
        self,
        load: Loader,
        labels: Sequence[int],
        pcfg: PreprocessConfig,
        acfg: AugmentConfig,
        train: bool,
        seed: int = 0,
        layout: Layout = NTU25,
        mirror_map: np.ndarray | None = None,
    ) -> None:
        self.load, self.labels = load, np.asarray(labels, dtype=np.int64)
        self.mirror_map = mirror_map
        self.pcfg, self.acfg, self.train, self.seed, self.layout = pcfg, acfg, train, seed, layout
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return int(self.labels.size)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        seq = self.load(i)
        label = int(self.labels[i])
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            x, label = augment_train(seq, self.pcfg, self.acfg, rng, self.layout, label, self.mirror_map)
        else:
            x = transform_test(seq, self.pcfg, self.acfg, self.layout)
        return torch.from_numpy(x), label, i


def train_loader(
    ds: SkeletonDataset, batch_size: int, rank: int, world: int, seed: int, num_workers: int = 0
) -> tuple[DataLoader, DistributedSampler]:
    """Shuffled loader of this rank's share; ``batch_size`` is the GLOBAL batch (split over ranks).

    A ``DistributedSampler`` is used in single-process runs too (``num_replicas=1``) so the sample
    order is a function of (seed, epoch) only. The last incomplete batch is dropped (BatchNorm).
    """
    if batch_size % world:
        raise ValueError(f"optim.batch_size {batch_size} must be divisible by the world size {world}")
    sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True)
    per_rank = batch_size // world
    loader = DataLoader(
        ds,
        batch_size=per_rank,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=len(ds) // world >= per_rank,
        persistent_workers=False,
    )
    return loader, sampler


def eval_loader(ds: SkeletonDataset, batch_size: int = 64, num_workers: int = 0) -> DataLoader:
    """Ordered, complete loader for embedding."""
    return DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers)
