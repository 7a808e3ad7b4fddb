"""Temporal smoothing with hysteresis, per track, and state-change events.

Per track: an exponential moving average (EMA) of the per-action ranking scores and cosines; the
open-set decision (:meth:`edge.matcher.Matcher.decide`) runs on the smoothed scores. Hysteresis:

- a new label must qualify under the strict thresholds for ``enter_windows`` windows in a row
  (meanwhile the state is ``unknown`` with reason ``confirming``);
- the label being reported stays while it is still the best candidate and its smoothed cosine is
  at least ``threshold - hysteresis`` (or while it still qualifies strictly);
- a gate (idle, low visibility, no person) ends a reported action only after ``gate_windows``
  gated windows in a row, so a one-window dropout does not flicker the label; gates also reset
  the EMA, so a new action starts from fresh scores.

Every change of ``(state, slug)`` yields a :class:`StateEvent`: ``start`` (into ``action``),
``end`` (out of ``action``) or ``change`` (anything else). Use::

    sm = Smoother(matcher)
    state, event = sm.update(track_id, t_frame, result=matcher.match(embedding))   # a classified window
    state, event = sm.update(track_id, t_frame, gate="idle")                       # a gated window
    event = sm.drop(track_id, t_frame)                                             # track lost
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .matcher import Matcher, MatchResult

GATE_STATES = {"no_person": "no_person", "low_visibility": "none", "idle": "none", "warming_up": "none"}


@dataclass(frozen=True)
class SmoothingConfig:
    """EMA weight of the newest window, hysteresis (cosine units), and window counts."""

    alpha: float = 0.5
    hysteresis: float = 0.05
    enter_windows: int = 2
    gate_windows: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ValueError(f"smoothing.alpha must be in (0, 1], got {self.alpha}")
        if self.hysteresis < 0 or self.enter_windows < 1 or self.gate_windows < 1:
            raise ValueError("smoothing: hysteresis >= 0 and enter_windows, gate_windows >= 1 required")


@dataclass(frozen=True)
class TrackState:
    """The reported (smoothed) state of one track. ``track_id`` None = the empty scene."""

    track_id: int | None
    state: str  # action / none / unknown / no_person
    slug: str | None = None
    label: str | None = None
    score: float | None = None
    margin: float | None = None
    reason: str | None = None
    t_frame: float = 0.0
    topk: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class StateEvent:
    """A change of a track's reported state (what :meth:`Publisher.publish_event` sends)."""

    track_id: int | None
    event: str  # start / end / change
    current: TrackState
    previous: TrackState


class _Track:
    def __init__(self, track_id: int | None) -> None:
        self.state = TrackState(track_id, "none")
        self.rank: np.ndarray | None = None
        self.cos: np.ndarray | None = None
        self.pending: int = -1  # candidate action index waiting to enter
        self.pending_n = 0
        self.gated = 0


def _event(prev: TrackState, cur: TrackState) -> StateEvent | None:
    if (prev.state, prev.slug) == (cur.state, cur.slug):
        return None
    if cur.state == "action" and prev.state != "action":
        kind = "start"
    elif prev.state == "action" and cur.state != "action":
        kind = "end"
    else:
        kind = "change"
    return StateEvent(cur.track_id, kind, cur, prev)


class Smoother:
    """Smoothed states for every track of one source (rebuild with a new matcher on support changes)."""

    def __init__(self, matcher: Matcher, config: SmoothingConfig | None = None) -> None:
        self.matcher = matcher
        self.config = config or SmoothingConfig()
        self._tracks: dict[int | None, _Track] = {}

    def set_matcher(self, matcher: Matcher) -> None:
        """Switch to another matcher of the SAME support set (e.g. distribution calibration became
        ready): reported states stay, score averages restart (their units may differ)."""
        if matcher.support.slugs != self.matcher.support.slugs:
            raise ValueError("Smoother.set_matcher: the support set differs; build a new Smoother")
        self.matcher = matcher
        for tr in self._tracks.values():
            tr.rank = tr.cos = None
            tr.pending, tr.pending_n = -1, 0

    def snapshot(self) -> list[TrackState]:
        return [t.state for _, t in sorted(self._tracks.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))]

    def update(
        self, track_id: int | None, t_frame: float, *, result: MatchResult | None = None, gate: str | None = None
    ) -> tuple[TrackState, StateEvent | None]:
        """Feed one window: a match ``result`` or a ``gate`` reason. Returns (new state, event or None)."""
        if (result is None) == (gate is None):
            raise ValueError("Smoother.update: pass exactly one of result= or gate=")
        tr = self._tracks.setdefault(track_id, _Track(track_id))
        if track_id is not None and None in self._tracks and self._tracks[None].state.state == "no_person":
            # somebody is back: the empty-scene pseudo track has served its purpose
            del self._tracks[None]
        prev = tr.state
        new = self._gate(tr, gate, t_frame) if gate is not None else self._match(tr, result, t_frame)  # type: ignore[arg-type]
        tr.state = new
        return new, _event(prev, new)

    def _gate(self, tr: _Track, gate: str, t_frame: float) -> TrackState:
        if gate not in GATE_STATES:
            raise ValueError(f"unknown gate reason {gate!r}; expected one of {sorted(GATE_STATES)}")
        tr.gated += 1
        tr.rank = tr.cos = None
        tr.pending, tr.pending_n = -1, 0
        if tr.state.state == "action" and tr.gated < self.config.gate_windows:
            return replace(tr.state, t_frame=t_frame)  # hold the label through a short dropout
        return TrackState(tr.state.track_id, GATE_STATES[gate], reason=gate, t_frame=t_frame)

    def _match(self, tr: _Track, res: MatchResult, t_frame: float) -> TrackState:
        tr.gated = 0
        if res.index < 0:  # nothing enrolled
            return TrackState(tr.state.track_id, "unknown", reason=res.reason, t_frame=t_frame)
        a = self.config.alpha
        if tr.rank is None or tr.rank.shape != res.scores.shape:
            tr.rank, tr.cos = res.scores.copy(), res.cosines.copy()
        else:
            tr.rank = a * res.scores + (1 - a) * tr.rank
            tr.cos = a * res.cosines + (1 - a) * tr.cos
        strict = self.matcher.result(tr.rank, tr.cos)
        cur = tr.state
        slugs = self.matcher.support.slugs
        if cur.state == "action" and cur.slug in slugs:
            i = slugs.index(cur.slug)
            if strict.state == "action" and strict.index != i:
                if self._entered(tr, strict.index):
                    return self._as_state(tr, strict, t_frame)
                return self._as_state(tr, self.matcher.result(tr.rank, tr.cos, slack=self.config.hysteresis), t_frame,
                                      hold=i)
            loose = self.matcher.result(tr.rank, tr.cos, slack=self.config.hysteresis)
            if loose.state == "action" and loose.index == i:
                tr.pending, tr.pending_n = -1, 0
                return self._as_state(tr, loose, t_frame, hold=i)
            return self._as_state(tr, strict, t_frame)  # fell below the exit thresholds: unknown
        if strict.state == "action" and self._entered(tr, strict.index):
            return self._as_state(tr, strict, t_frame)
        if strict.state == "action":  # qualifies, but not for long enough yet
            return self._as_state(tr, replace(strict, state="unknown", slug=None, label=None, reason="confirming"), t_frame)
        return self._as_state(tr, strict, t_frame)

    def _entered(self, tr: _Track, index: int) -> bool:
        if tr.pending == index:
            tr.pending_n += 1
        else:
            tr.pending, tr.pending_n = index, 1
        if tr.pending_n >= self.config.enter_windows:
            tr.pending, tr.pending_n = -1, 0
            return True
        return False

    def _as_state(self, tr: _Track, r: MatchResult, t_frame: float, hold: int = -1) -> TrackState:
        sup = self.matcher.support
        if hold >= 0:
            # keep reporting the held label with its own smoothed score
            score, slug, label, state, why = float(tr.rank[hold]), sup.slugs[hold], sup.labels[hold], "action", None
        elif r.state == "action":
            score, slug, label, state, why = r.score, r.slug, r.label, "action", None
        else:
            score, slug, label, state, why = r.score, None, None, "unknown", r.reason
        return TrackState(tr.state.track_id, state, slug, label, score, r.margin, why, t_frame, tuple(r.topk))

    def drop(self, track_id: int, t_frame: float) -> StateEvent | None:
        """Forget a lost track; returns an event to ``no_person`` when it was in another state."""
        tr = self._tracks.pop(track_id, None)
        if tr is None:
            return None
        return _event(tr.state, TrackState(track_id, "no_person", reason="no_person", t_frame=t_frame))
