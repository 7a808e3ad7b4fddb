"""Distribution calibration (DC) for the edge matcher, built on the shared maths in :mod:`crossglg.oneshot`.

When the model carries base-class statistics (Tukey-space means ``(B, D)`` and covariances
``(B, D, D)``, or variances ``(B, D)``), each support embedding borrows the statistics of its
``k = 2`` nearest base classes; ``samples = 750`` features are drawn from each calibrated Gaussian
and a multinomial logistic regression is fitted once per support set (deterministic seed). Per
window, classification is then one small matrix product.

Solver: :func:`crossglg.oneshot.fit_logistic` (L-BFGS), the same one training-time evaluation uses.
Fitting still costs seconds for many actions on a small CPU: build the matcher off the frame loop
and swap it in (cosine matching meanwhile).

Base statistics file (``.npz``, no pickle): the sidecar described in :mod:`crossglg.basestats`
(low-rank, full or diagonal covariances), or plain ``means (B, D)`` + ``covs (B, D, D)`` / ``vars
(B, D)``, optional ``beta`` (0-d, default 0.5). It is produced at training time next to the exported model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from crossglg.basestats import load_base_stats_file
from crossglg.oneshot import BaseStats, dc_training_set, fit_logistic, logistic_loss, tukey

if TYPE_CHECKING:  # matcher imports this module; the support set is only duck-typed here
    from .matcher import SupportSet


@dataclass(frozen=True)
class DCConfig:
    """Distribution-calibration settings (defaults from CrossGLG / Yang et al. 2021)."""

    k: int = 2
    alpha: float = 0.21
    samples: int = 750
    steps: int = 300
    seed: int = 0
    l2: float = 1e-3

    def __post_init__(self) -> None:
        if self.k < 1 or self.samples < 1 or self.steps < 1:
            raise ValueError(f"dc: k, samples and steps must be >= 1, got {self.k}, {self.samples}, {self.steps}")


def base_stats_from_arrays(means: np.ndarray, covs: np.ndarray, beta: float = 0.5) -> BaseStats:
    """Build :class:`~crossglg.oneshot.BaseStats` from ``means (B, D)`` and ``covs (B, D, D)`` or diagonal ``(B, D)``."""
    m = np.asarray(means, dtype=np.float32)
    c = np.asarray(covs, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"base statistics: means must be (B, D), got {m.shape}")
    if c.shape == m.shape:  # diagonal: expand so the shared code (which adds alpha everywhere) applies
        c = np.einsum("bd,de->bde", c, np.eye(m.shape[1], dtype=np.float32))
    if not (np.isfinite(m).all() and np.isfinite(c).all()):
        raise ValueError("base statistics: means/covariances must be finite")
    return BaseStats(means=m, covs=c, beta=float(beta))


def load_base_stats(path: str | os.PathLike) -> BaseStats:
    """Read a base statistics ``.npz`` with ``allow_pickle=False``: a sidecar of any format
    (:func:`crossglg.basestats.load_base_stats_file`: low-rank, full float32/float64 or diagonal) or
    a plain archive of ``means`` + ``covs``/``vars``. ValueError naming the file and field."""
    return load_base_stats_file(path)


class DCClassifier:
    """Logistic regression on calibrated samples of a support set; :meth:`predict_proba` per window."""

    def __init__(self, support: SupportSet, stats: BaseStats, config: DCConfig | None = None) -> None:
        cfg = self.config = config or DCConfig()
        if len(support.slugs) < 2:
            raise ValueError("distribution calibration needs at least 2 actions (a classifier of one class is moot)")
        if stats.means.shape[1] != support.dim:
            raise ValueError(f"base statistics have dimension {stats.means.shape[1]}, embeddings {support.dim}")
        self.beta = stats.beta
        feats = np.concatenate(support.embeddings)  # (S, D), every exemplar of every action
        index = np.concatenate([np.full(len(e), k) for k, e in enumerate(support.embeddings)])
        x, y = dc_training_set(feats, index, stats, cfg.k, cfg.alpha, cfg.samples, np.random.default_rng(cfg.seed))
        self.fit = fit_logistic(x, y, len(support.slugs), steps=cfg.steps, l2=cfg.l2)
        self._mu, self._sd, self._w, self._b = self.fit
        self.train_loss = logistic_loss(x, y, self.fit)  # mean cross-entropy on its own data

    def predict_proba(self, queries: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, K)`` for embeddings ``(N, D)`` (order = the support's actions)."""
        q = np.atleast_2d(np.asarray(queries, dtype=np.float64))
        logits = ((tukey(q, self.beta) - self._mu) / self._sd) @ self._w + self._b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)
