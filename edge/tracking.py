"""Frame-to-frame identity for pose detectors that give none (MediaPipe).

Each frame's detections are matched to the live tracks by a Hungarian assignment
(:func:`scipy.optimize.linear_sum_assignment`) on the distance between each track's predicted
centre and each detection's centre (hip centre in image pixels). Pairs farther apart than the gate
stay unmatched: an unmatched detection starts a new track (fresh id, never reused), and a track
unmatched for more than ``max_missed`` frames is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

_BIG = 1e12  # cost for gated-out pairs (finite: linear_sum_assignment rejects inf-only rows)


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker settings.

    Attributes:
        gate: largest centre distance (same unit as the centres, e.g. pixels) for a match; it
            widens by ``gate_growth`` per missed frame, since a lost person keeps moving.
        max_missed: frames a track may go unmatched before it is dropped.
        velocity_smoothing: weight of the newest displacement in the velocity estimate used to
            predict where a track is in the next frame (0 = no motion model).
    """

    gate: float = 150.0
    max_missed: int = 15
    gate_growth: float = 0.25
    velocity_smoothing: float = 0.5

    def __post_init__(self) -> None:
        if self.gate <= 0:
            raise ValueError(f"tracker gate must be > 0, got {self.gate}")
        if self.max_missed < 0:
            raise ValueError(f"tracker max_missed must be >= 0, got {self.max_missed}")
        if not 0.0 <= self.velocity_smoothing <= 1.0:
            raise ValueError(f"tracker velocity_smoothing must be in [0, 1], got {self.velocity_smoothing}")


@dataclass
class _Track:
    track_id: int
    centre: np.ndarray  # (D,)
    velocity: np.ndarray  # (D,) per frame
    missed: int = 0
    age: int = 1

    def predicted(self) -> np.ndarray:
        return self.centre + self.velocity * (1 + self.missed)


@dataclass
class HungarianTracker:
    """Assigns stable integer ids to unlabelled detections, one :meth:`update` per frame."""

    config: TrackerConfig = field(default_factory=TrackerConfig)
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 0

    @property
    def active_ids(self) -> list[int]:
        return [t.track_id for t in self._tracks]

    def reset(self) -> None:
        self._tracks.clear()

    def update(self, centres: np.ndarray) -> list[int]:
        """Match this frame's detection centres ``(N, D)`` to tracks; return one id per detection.

        Detections whose centre is not finite get a new id each time (they cannot be matched).
        """
        pts = np.asarray(centres, dtype=np.float64).reshape(len(centres), -1) if len(centres) else np.zeros((0, 2))
        cfg = self.config
        ids = [-1] * len(pts)
        finite = np.isfinite(pts).all(axis=1)
        matched_tracks: set[int] = set()
        if self._tracks and finite.any():
            det_idx = np.flatnonzero(finite)
            pred = np.stack([t.predicted() for t in self._tracks])  # (K, D)
            dist = np.linalg.norm(pred[:, None, :] - pts[None, det_idx, :], axis=-1)  # (K, N')
            gates = np.array([cfg.gate * (1.0 + cfg.gate_growth * t.missed) for t in self._tracks])
            cost = np.where(dist <= gates[:, None], dist, _BIG)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] >= _BIG:
                    continue
                track, d = self._tracks[r], int(det_idx[c])
                step = (pts[d] - track.centre) / (1 + track.missed)
                a = cfg.velocity_smoothing
                track.velocity = (1 - a) * track.velocity + a * step
                track.centre = pts[d].copy()
                track.missed = 0
                track.age += 1
                ids[d] = track.track_id
                matched_tracks.add(r)
        survivors = []
        for k, track in enumerate(self._tracks):
            if k not in matched_tracks:
                track.missed += 1
                if track.missed > cfg.max_missed:
                    continue
            survivors.append(track)
        self._tracks = survivors
        for d in range(len(pts)):
            if ids[d] >= 0:
                continue
            ids[d] = self._next_id
            self._next_id += 1
            if finite[d]:
                self._tracks.append(_Track(ids[d], pts[d].copy(), np.zeros(pts.shape[1])))
        return ids


def person_centre(image_xy: np.ndarray, visibility: np.ndarray | None = None, min_visibility: float = 0.3) -> np.ndarray:
    """Tracking centre ``(2,)`` of one person from NTU-25 image points ``(25, 2)``.

    The hip centre (NTU SpineBase, joint 0) when it is finite and visible enough; otherwise the
    mean of the visible finite points; NaN when there is none.
    """
    xy = np.asarray(image_xy, dtype=np.float64)
    vis = np.ones(len(xy)) if visibility is None else np.asarray(visibility, dtype=np.float64)
    if np.isfinite(xy[0]).all() and vis[0] >= min_visibility:
        return xy[0]
    ok = np.isfinite(xy).all(axis=1) & (vis >= min_visibility)
    if not ok.any():
        return np.full(2, np.nan)
    return xy[ok].mean(axis=0)
