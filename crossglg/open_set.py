"""The open-set decision rule (numpy only), shared by the edge matcher and the benchmark.

Given per-action scores for a batch of queries, ``rank (N, K)`` (the ranking score: DC probability
when distribution calibration serves, else the cosine) and ``cos (N, K)`` (max centred cosine per
action), a query is

- ``below_threshold`` when the cosine of the best-ranked action is below ``threshold`` (the
  absolute "is this a known action at all" test: always a cosine, because a closed-set
  classifier gives confident probabilities to motions it never saw);
- else ``low_margin`` when top-1 minus top-2 ranking score is below the required margin
  (``margin`` for cosine ranking, ``dc_margin`` for DC probabilities; no margin test with K = 1);
- else accepted as the best-ranked action.

:func:`summarize_scores` reduces the scores to what the rule looks at (best action, its cosine,
the ranking margin); :func:`reject_codes` applies the thresholds. :func:`decide` is both. The
benchmark's calibration summarises once and sweeps thresholds over :func:`reject_codes`, so the
thresholds it picks are exactly the ones the edge applies.

Calibrated values travel in the ONNX metadata key ``crossglg.open_set`` (:data:`OPEN_SET_KEY`), a
JSON object ``{"threshold", "margin", "dc_margin", "target_far", "source", "ranking"?}``
(:func:`encode_open_set` / :func:`decode_open_set`). ``ranking`` (:data:`RANKINGS`) is the ranking
method the benchmark chose for this model: the one of centred cosine, DC and the cosine fused with
pose features (``"fused"``, :mod:`crossglg.pose_features`) with the best mean over its protocols; absent (older files) means the edge's built-in behaviour (DC whenever
base statistics are present). The weights' fingerprint does not cover metadata, so adding it keeps
support stores and base-statistics sidecars valid.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .model_meta import meta_json

OPEN_SET_KEY = "open_set"
ACCEPT, BELOW_THRESHOLD, LOW_MARGIN = 0, 1, 2
RANKINGS = ("cosine", "dc", "fused")
RANKING_NAMES = {"cosine": "centred cosine", "dc": "distribution calibration",
                 "fused": "centred cosine fused with pose features"}  # for messages and tables
REASONS: dict[int, str | None] = {ACCEPT: None, BELOW_THRESHOLD: "below_threshold", LOW_MARGIN: "low_margin"}


@dataclass(frozen=True)
class OpenSetParams:
    """Open-set thresholds: ``threshold`` and ``margin`` in cosine units, ``dc_margin`` in
    probability units. The defaults are the built-in ones (set for centred cosine by hand)."""

    threshold: float = 0.5
    margin: float = 0.05
    dc_margin: float = 0.2

    def __post_init__(self) -> None:
        checks = (("threshold", self.threshold, -1.0, 1.0), ("margin", self.margin, 0.0, 2.0),
                  ("dc_margin", self.dc_margin, 0.0, 1.0))  # fmt: skip
        for name, value, lo, hi in checks:
            if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
                raise ValueError(f"open set: {name} must be a number in [{lo:g}, {hi:g}], got {value!r}")

    def required_margin(self, method: str) -> float:
        """The margin the ranking must clear: ``dc_margin`` for ``"dc"``, ``margin`` for ``"cosine"``
        and ``"fused"`` (both cosine units)."""
        if method not in RANKINGS:
            raise ValueError(f"open set: method must be one of {', '.join(map(repr, RANKINGS))}, got {method!r}")
        return self.dc_margin if method == "dc" else self.margin


DEFAULTS = OpenSetParams()


@dataclass(frozen=True)
class ScoreSummary:
    """What the rule looks at, per query: ``best (N,)`` best-ranked action, ``cosine (N,)`` its
    cosine, ``margin (N,)`` top-1 minus top-2 ranking score (NaN when K = 1)."""

    best: np.ndarray
    cosine: np.ndarray
    margin: np.ndarray


def summarize_scores(rank: np.ndarray, cos: np.ndarray) -> ScoreSummary:
    """Reduce ``rank (N, K)`` and ``cos (N, K)`` (or one row ``(K,)``) to a :class:`ScoreSummary`.

    Ties go to the lower action index (a stable sort of the ranking)."""
    r = np.atleast_2d(np.asarray(rank, dtype=np.float64))
    c = np.atleast_2d(np.asarray(cos, dtype=np.float64))
    if r.shape != c.shape or r.shape[1] == 0:
        raise ValueError(f"open set: rank {r.shape} and cosine {c.shape} scores must be one (N, K) shape, K >= 1")
    rows = np.arange(r.shape[0])
    best = np.argmax(r, axis=1)
    if r.shape[1] > 1:
        rest = r.copy()
        rest[rows, best] = -np.inf
        margin = r[rows, best] - rest.max(axis=1)
    else:
        margin = np.full(r.shape[0], np.nan)
    return ScoreSummary(best, c[rows, best], margin)


def reject_codes(cosine: np.ndarray, margin: np.ndarray, threshold: float, need_margin: float,
                 slack: float = 0.0) -> np.ndarray:  # fmt: skip
    """Decision codes ``(N,)`` int8 (:data:`ACCEPT`, :data:`BELOW_THRESHOLD`, :data:`LOW_MARGIN`) for
    the best action's ``cosine (N,)`` and the ranking ``margin (N,)`` (NaN: no margin test).

    ``slack`` > 0 loosens both tests (hysteresis for a label already being reported). Arrays of any
    broadcastable shape work, e.g. ``cosine[None]`` against thresholds ``(G, 1)`` for a sweep."""
    cosine, margin = np.asarray(cosine), np.asarray(margin)
    below = cosine < np.asarray(threshold) - slack
    low = ~np.isnan(margin) & (margin < np.asarray(need_margin) - slack)
    return np.where(below, BELOW_THRESHOLD, np.where(low, LOW_MARGIN, ACCEPT)).astype(np.int8)


def decide(rank: np.ndarray, cos: np.ndarray, threshold: float, need_margin: float,
           slack: float = 0.0) -> tuple[ScoreSummary, np.ndarray]:  # fmt: skip
    """The rule on scores ``(N, K)``: ``(summary, codes (N,))``."""
    s = summarize_scores(rank, cos)
    return s, reject_codes(s.cosine, s.margin, threshold, need_margin, slack)


@dataclass(frozen=True)
class StoredOpenSet:
    """Calibrated values read from a model's metadata: the thresholds, how they were chosen and the
    ranking method (one of :data:`RANKINGS`; None: not stored, the edge's built-in choice)."""

    params: OpenSetParams
    target_far: float | None
    source: str
    ranking: str | None = None


def encode_open_set(params: OpenSetParams, target_far: float, source: str, ranking: str | None = None) -> str:
    """The metadata value of :data:`OPEN_SET_KEY`: compact JSON (``ranking`` None: not stored)."""
    if ranking is not None and ranking not in RANKINGS:
        raise ValueError(f"open set: ranking must be one of {', '.join(map(repr, RANKINGS))}, got {ranking!r}")
    obj = {"threshold": round(float(params.threshold), 4), "margin": round(float(params.margin), 4),
           "dc_margin": round(float(params.dc_margin), 4), "target_far": float(target_far), "source": str(source)}
    if ranking is not None:
        obj["ranking"] = ranking
    return json.dumps(obj, sort_keys=True)


def decode_open_set(meta: Mapping[str, str], where: str = "model metadata") -> StoredOpenSet | None:
    """The :data:`OPEN_SET_KEY` entry of ``meta`` (None when absent); ``ValueError`` naming ``where``
    and the field when it is not a JSON object of numbers in range."""
    obj = meta_json(meta, OPEN_SET_KEY, where)
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: {OPEN_SET_KEY} must be a JSON object with threshold, margin and dc_margin")
    values = {}
    for name, default in (("threshold", None), ("margin", DEFAULTS.margin), ("dc_margin", DEFAULTS.dc_margin)):
        value = obj.get(name, default)
        if value is None:
            raise ValueError(f"{where}: {OPEN_SET_KEY} has no {name}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{where}: {OPEN_SET_KEY}.{name} must be a finite number, got {value!r}")
        values[name] = float(value)
    far = obj.get("target_far")
    if far is not None and (isinstance(far, bool) or not isinstance(far, int | float) or not 0 <= far <= 1):
        raise ValueError(f"{where}: {OPEN_SET_KEY}.target_far must be a number in [0, 1], got {far!r}")
    ranking = obj.get("ranking")
    if ranking is not None and ranking not in RANKINGS:
        raise ValueError(f"{where}: {OPEN_SET_KEY}.ranking must be one of {', '.join(map(repr, RANKINGS))}, "
                         f"got {ranking!r}")  # fmt: skip
    try:
        params = OpenSetParams(**values)
    except ValueError as exc:
        raise ValueError(f"{where}: {OPEN_SET_KEY}: {str(exc).removeprefix('open set: ')}") from None
    return StoredOpenSet(params, None if far is None else float(far), str(obj.get("source", ""))[:300], ranking)
