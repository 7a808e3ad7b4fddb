"""Open-set one-shot matching of window embeddings against enrolled actions.

Scores: per action, the max cosine over its exemplars (:func:`crossglg.oneshot.cosine_scores`).
With the model's embedding centre (base classes' mean embedding, ``ModelMeta.embedding_center``)
both sides are centred first, as training-time evaluation does: a trained encoder's raw embeddings
share a large common component (raw cosines of any two windows 0.97-0.9997), centred cosines
spread over [-1, 1], which is what the threshold and margin defaults are set for. The support set
keeps raw embeddings: centring happens here, at match time, so a store stays valid.
With base statistics (and >= 2 actions) the ranking comes from distribution calibration
(:class:`edge.calibration.DCClassifier` probabilities) instead; the absolute "is this a known action
at all" test always uses the cosine, because a closed-set classifier gives confident probabilities
to motions it has never seen.

With the model's score fusion (``MatcherConfig.fusion``, :mod:`crossglg.pose_features`) and the
pose features of the support's clips (``SupportSet.poses``), the similarity to an exemplar is
``weight * centred cosine + (1 - weight) * pose cosine`` instead: the learned embedding and the
resampled-pose features of the window (``scores(..., poses=...)``), both in cosine units, so the
threshold keeps its meaning (its value is calibrated on the fused score). Fusion ranks by the fused
cosine (DC is not used with it).

Open-set rejection -> ``"unknown"``: best cosine < ``threshold`` (reason ``below_threshold``) or
top-1 minus top-2 ranking score < ``margin`` (cosine) / ``dc_margin`` (DC) (reason ``low_margin``).
The rule itself is :func:`crossglg.open_set.decide`, the one the benchmark calibrates; its default
values are :data:`crossglg.open_set.DEFAULTS`, a model may carry calibrated ones
(``ModelMeta.open_set``, picked by :mod:`edge.open_set_values`). Temporal smoothing with hysteresis lives in :mod:`edge.smoothing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crossglg.oneshot import BaseStats, centered, l2_normalize
from crossglg.open_set import DEFAULTS, REASONS, decide
from crossglg.pose_features import Fusion, fuse

from .calibration import DCClassifier, DCConfig


@dataclass(frozen=True)
class SupportSet:
    """Enrolled actions: ``slugs``/``labels`` ``(K,)``, ``embeddings[k]`` ``(E_k, D)`` float32 and,
    for score fusion, ``poses[k]`` ``(E_k, P)`` pose features of the same exemplars (or None)."""

    slugs: tuple[str, ...]
    labels: tuple[str, ...]
    embeddings: tuple[np.ndarray, ...]
    poses: tuple[np.ndarray, ...] | None = None

    def __post_init__(self) -> None:
        if not len(self.slugs) == len(self.labels) == len(self.embeddings):
            raise ValueError("support set: slugs, labels and embeddings differ in length")
        if self.poses is not None and (len(self.poses) != len(self.embeddings) or any(
                p.ndim != 2 or p.shape[0] != e.shape[0] for p, e in zip(self.poses, self.embeddings, strict=True))):
            raise ValueError("support set: pose features need one row per exemplar embedding")
        dims = {e.shape[1] for e in self.embeddings if e.ndim == 2 and e.shape[0] > 0}
        if len(dims) > 1 or any(e.ndim != 2 or e.shape[0] == 0 for e in self.embeddings):
            raise ValueError("support set: every action needs >= 1 embedding row of one common dimension D")

    @property
    def dim(self) -> int | None:
        return self.embeddings[0].shape[1] if self.embeddings else None

    def __len__(self) -> int:
        return len(self.slugs)


@dataclass(frozen=True)
class MatcherConfig:
    """Open-set thresholds (cosine units, except ``dc_margin`` in probability units).

    Defaults are for centred cosine (a model with an embedding centre); an uncentred model's
    cosines all sit near 1, so its thresholds cannot separate known from unknown anyway.
    """

    threshold: float = DEFAULTS.threshold
    margin: float = DEFAULTS.margin
    dc_margin: float = DEFAULTS.dc_margin
    topk: int = 3
    use_center: bool = True  # centre cosines with the model's embedding centre when it has one
    use_dc: bool = True
    dc: DCConfig = field(default_factory=DCConfig)
    fusion: Fusion | None = None  # the model's score fusion (used when the support has pose features)


@dataclass(frozen=True)
class MatchResult:
    """One window's match.

    Attributes:
        state: ``"action"`` or ``"unknown"``.
        index: best action index (ranking), or -1 without support.
        slug / label: the accepted action (None when ``unknown``).
        score: ranking score of the best action (cosine, or DC probability).
        cosine: best action's max cosine (the fused cosine with fusion).
        margin: top-1 minus top-2 ranking score (None with a single action).
        reason: None, ``below_threshold``, ``low_margin`` or ``no_support``.
        scores / cosines: ``(K,)`` ranking scores and max cosines per action.
        topk: best candidates ``[(label, score), ...]``, best first.
        method: ``"cosine"``, ``"dc"`` or ``"fused"``.
    """

    state: str
    index: int
    slug: str | None
    label: str | None
    score: float
    cosine: float
    margin: float | None
    reason: str | None
    scores: np.ndarray
    cosines: np.ndarray
    topk: list[tuple[str, float]]
    method: str


class Matcher:
    """Stateless matcher for one support set (rebuild it when the support changes).

    ``center`` ``(D,)``: subtracted from support and window embeddings before the cosine (None: raw
    cosine). ``base_stats``: enables distribution calibration (raw embeddings, as the statistics are).
    """

    def __init__(self, support: SupportSet, config: MatcherConfig | None = None, base_stats: BaseStats | None = None,
                 center: np.ndarray | None = None) -> None:  # fmt: skip
        self.support = support
        self.config = cfg = config or MatcherConfig()
        self.center = None if center is None else np.asarray(center, dtype=np.float32)
        k = len(support)
        if k:
            self._emb = np.concatenate(support.embeddings).astype(np.float32)
            self._owner = np.concatenate([np.full(len(e), i) for i, e in enumerate(support.embeddings)])
            if self.center is not None and self.center.shape != (self._emb.shape[1],):
                raise ValueError(f"matcher: embedding centre has shape {self.center.shape}, "
                                 f"support embeddings have dimension {self._emb.shape[1]}")  # fmt: skip
            self._unit = l2_normalize(centered(self._emb, self.center))  # (S, D)
        self.fusion = cfg.fusion if cfg.fusion is not None and support.poses is not None else None
        if self.fusion is not None and k:
            self._pose = l2_normalize(np.concatenate(support.poses))  # (S, P)
        self.dc: DCClassifier | None = None
        if cfg.use_dc and base_stats is not None and k >= 2 and self.fusion is None:
            self.dc = DCClassifier(support, base_stats, cfg.dc)

    @property
    def method(self) -> str:
        return "fused" if self.fusion is not None else "dc" if self.dc is not None else "cosine"

    @property
    def wants_poses(self) -> bool:
        """Whether :meth:`scores` needs the windows' pose features."""
        return self.fusion is not None

    def scores(self, embeddings: np.ndarray, poses: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(ranking (N, K), cosines (N, K))`` for embeddings ``(N, D)`` (and, with fusion, the
        windows' pose features ``poses (N, P)``, :func:`crossglg.pose_features.pose_vector`)."""
        q = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        if q.shape[1] != self.support.dim:
            raise ValueError(f"matcher: embedding dimension {q.shape[1]} != support dimension {self.support.dim}")
        if not np.isfinite(q).all():
            raise ValueError("matcher: embedding contains NaN/inf (the model produced invalid output)")
        sim = l2_normalize(centered(q, self.center)) @ self._unit.T  # (N, S)
        if self.fusion is not None:
            if poses is None:
                raise ValueError("matcher: this model fuses scores with pose features; none were given for the windows")
            p = np.atleast_2d(np.asarray(poses, dtype=np.float32))
            if p.shape != (q.shape[0], self._pose.shape[1]) or not np.isfinite(p).all():
                raise ValueError(f"matcher: pose features must be finite ({q.shape[0]}, {self._pose.shape[1]}), "
                                 f"got {p.shape}")  # fmt: skip
            sim = fuse(sim, l2_normalize(p) @ self._pose.T, self.fusion.weight)
        cos = np.full((q.shape[0], len(self.support)), -np.inf, dtype=np.float32)
        for k in range(len(self.support)):
            cos[:, k] = sim[:, self._owner == k].max(axis=1)
        rank = self.dc.predict_proba(q) if self.dc is not None else cos
        return rank.astype(np.float64), cos.astype(np.float64)

    def decide(self, rank: np.ndarray, cos: np.ndarray, slack: float = 0.0) -> tuple[str, int, float | None, str | None]:
        """Open-set decision on one row of scores ``(K,)``: ``(state, best, margin, reason)``.

        ``slack`` > 0 loosens the thresholds (hysteresis for a label already being reported).
        """
        need_margin = self.config.dc_margin if self.dc is not None else self.config.margin
        summary, codes = decide(rank, cos, self.config.threshold, need_margin, slack)
        margin = float(summary.margin[0]) if rank.size > 1 else None
        reason = REASONS[int(codes[0])]
        return ("action" if reason is None else "unknown"), int(summary.best[0]), margin, reason

    def result(self, rank: np.ndarray, cos: np.ndarray, slack: float = 0.0) -> MatchResult:
        """Build a :class:`MatchResult` from one row of (possibly smoothed) scores."""
        state, best, margin, reason = self.decide(rank, cos, slack)
        order = np.argsort(-rank, kind="stable")[: self.config.topk]
        return MatchResult(
            state=state, index=best,
            slug=self.support.slugs[best] if state == "action" else None,
            label=self.support.labels[best] if state == "action" else None,
            score=float(rank[best]), cosine=float(cos[best]), margin=margin, reason=reason,
            scores=rank, cosines=cos, topk=[(self.support.labels[i], float(rank[i])) for i in order],
            method=self.method,
        )

    def match(self, embedding: np.ndarray) -> MatchResult:
        """Match one embedding ``(D,)``."""
        if not len(self.support):
            empty = np.zeros(0)
            return MatchResult("unknown", -1, None, None, 0.0, 0.0, None, "no_support", empty, empty, [], self.method)
        rank, cos = self.scores(embedding)
        return self.result(rank[0], cos[0])
