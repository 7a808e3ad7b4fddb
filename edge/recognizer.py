"""The inference half of the pipeline, single-threaded: windows -> preprocess -> embed -> match -> publish.

:class:`Recognizer` takes frames that already carry people (from a source) and, per track:
pushes them into the :class:`~edge.window.Windower`; classifies ready windows in one batched
``engine.embed`` call ``(N, 3, T, 25, M)`` -> ``(N, D)``; matches them against the support set
(:class:`~edge.matcher.Matcher`, open-set rejection; with the model's score fusion also on each
window's pose features); smooths per track
(:class:`~edge.smoothing.Smoother`); and publishes one ``label`` per window (classified or gated)
and an ``event`` per smoothed state change. :mod:`edge.pipeline` runs it on its own thread.

One bad window never stops it: a window whose joints give a non-finite model input or embedding
(absurd coordinates) is never embedded or matched; it is published gated as ``low_visibility``
(its joints are unusable) and counted in ``stats.invalid_windows``; no NaN/inf reaches JSON.

Matching uses the model's embedding ``center`` (centred cosine) from the first window. With
``base_stats`` (>= 2 actions) a distribution-calibration matcher is fitted, which takes seconds for
many actions: with ``dc_background`` on a worker thread while the cosine matcher serves, swapped in
on the inference thread at the next batch; otherwise at once (offline replay: deterministic).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from crossglg.oneshot import BaseStats
from crossglg.pose_features import pose_vector
from crossglg.preprocess import PreprocessConfig

from .engines import EngineBase
from .frames import SkeletonFrame
from .matcher import Matcher, MatcherConfig, MatchResult, SupportSet
from .publisher import Publisher
from .smoothing import Smoother, SmoothingConfig, StateEvent, TrackState
from .window import WindowConfig, Windower, WindowOutput

EMPTY_SUPPORT = SupportSet((), (), ())
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimedFrame:
    """A frame as it entered the pipeline: ``t_in`` (monotonic s) when the source handed it over,
    ``pose_ms`` what producing it cost the source (decode + pose; 0 for skeleton replay)."""

    frame: SkeletonFrame
    t_in: float
    pose_ms: float = 0.0


@dataclass
class RecognizerStats:
    frames: int = 0
    windows: int = 0  # window outputs (classified + gated)
    embedded: int = 0  # windows that went through the model
    skipped: int = 0  # stale windows superseded by a newer one of the same track (live mode)
    invalid_windows: int = 0  # windows whose joints gave no finite model input/embedding/label (gated)
    labels: int = 0
    events: int = 0
    last_latency_ms: dict[str, float] = field(default_factory=dict)


class Recognizer:
    """Windows, model, matcher, smoother and publisher for one source (use from one thread)."""

    def __init__(
        self,
        engine: EngineBase,
        preprocess: PreprocessConfig,
        publisher: Publisher,
        support: SupportSet = EMPTY_SUPPORT,
        window: WindowConfig | None = None,
        matcher: MatcherConfig | None = None,
        smoothing: SmoothingConfig | None = None,
        batch_max: int = 16,
        center: np.ndarray | None = None,
        base_stats: BaseStats | None = None,
        dc_background: bool = True,
    ) -> None:
        self.engine = engine
        self.base_stats = base_stats
        self.dc_background = dc_background
        self._generation = 0
        self._dc_ready: tuple[int, Matcher] | None = None  # set by the worker, taken by the inference thread
        self.preprocess = preprocess
        self.publisher = publisher
        self.windower = Windower(window or WindowConfig())
        self.matcher_config = matcher or MatcherConfig()
        self.center = center if self.matcher_config.use_center else None
        self.smoothing_config = smoothing or SmoothingConfig()
        self.batch_max = max(1, batch_max)
        self.stats = RecognizerStats()
        self.set_support(support)

    def set_support(self, support: SupportSet) -> None:
        """Swap the enrolled actions (after enroll/remove/rename). Smoothing restarts from scratch."""
        self._generation += 1
        self._dc_ready = None
        self.matcher = Matcher(support, self.matcher_config, center=self.center)
        wants_dc = (self.base_stats is not None and self.matcher_config.use_dc and len(support) >= 2
                    and self.matcher.fusion is None)  # fusion ranks by the fused cosine, never DC
        if wants_dc and not self.dc_background:
            self._build_dc(support, self._generation)
            self._take_dc(new_smoother=True)
        self.smoother = Smoother(self.matcher, self.smoothing_config)
        if wants_dc and self.dc_background:
            gen = self._generation
            threading.Thread(target=self._build_dc, args=(support, gen), name="crossglg-dc", daemon=True).start()

    def _build_dc(self, support: SupportSet, generation: int) -> None:
        """Worker: fit distribution calibration for ``support`` (seconds), then hand it over."""
        try:
            dc = Matcher(support, self.matcher_config, self.base_stats, self.center)
        except (ValueError, np.linalg.LinAlgError) as exc:  # keep cosine matching; say why once
            log.warning("distribution calibration unavailable, matching by cosine: %s", exc)
            return
        if generation == self._generation:
            self._dc_ready = (generation, dc)

    def _take_dc(self, new_smoother: bool = False) -> None:
        """Inference thread: switch to a finished DC matcher of the current support set."""
        ready = self._dc_ready
        if ready is not None and ready[0] == self._generation:
            self._dc_ready = None
            self.matcher = ready[1]
            if not new_smoother:
                self.smoother.set_matcher(ready[1])

    def snapshot(self) -> list[TrackState]:
        return self.smoother.snapshot()

    def process(self, items: Sequence[TimedFrame], keep_all: bool = True) -> None:
        """Push frames (time order) and handle every window they complete.

        ``keep_all=False`` (live sources): when a backlog gives one track several windows, only
        the newest is classified; older ones are stale and counted in ``stats.skipped``.
        """
        due: list[tuple[WindowOutput, TimedFrame]] = []
        for item in items:
            self.stats.frames += 1
            res = self.windower.push(item.frame)
            for tid in res.lost_tracks:
                self._emit(self.smoother.drop(tid, item.frame.timestamp_s))
                self.publisher.forget_track(tid)
            due.extend((out, item) for out in res.outputs)
        if not keep_all and len(due) > 1:
            newest = {out.track_id: i for i, (out, _) in enumerate(due)}
            kept = [d for i, d in enumerate(due) if newest[d[0].track_id] == i]
            self.stats.skipped += len(due) - len(kept)
            due = kept
        self.stats.windows += len(due)
        for start in range(0, len(due), self.batch_max):
            self._handle(due[start : start + self.batch_max])

    def _model_inputs(self, due: list[tuple[WindowOutput, TimedFrame]], ready: list[int]
                      ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:  # fmt: skip
        """Preprocessed windows ``(3, T, 25, M)`` by index and, when the matcher fuses scores, their
        pose features ``(P,)``; a window whose joints give no finite input or features (absurd
        coordinates, e.g. a clip scaled by 1e30) is left out: it never reaches the model."""
        inputs: dict[int, np.ndarray] = {}
        poses: dict[int, np.ndarray] = {}
        fusion = self.matcher.fusion
        for i in ready:
            out = due[i][0]
            with np.errstate(all="ignore"):
                x = out.model_input(self.preprocess)
                try:
                    p = None if fusion is None else pose_vector(out.clip, fusion.frames)
                except ValueError:
                    p = np.full(1, np.nan, np.float32)
            if np.isfinite(x).all() and (p is None or np.isfinite(p).all()):
                inputs[i] = x
                if p is not None:
                    poses[i] = p
            else:
                self.stats.invalid_windows += 1
        return inputs, poses

    def _handle(self, due: list[tuple[WindowOutput, TimedFrame]]) -> None:
        self._take_dc()
        t0 = time.monotonic()
        ready = [i for i, (out, _) in enumerate(due) if out.ready and len(self.matcher.support)]
        results: dict[int, MatchResult] = {}
        timing: dict[str, float] = {}
        inputs, poses = self._model_inputs(due, ready)
        if inputs:
            rows = list(inputs)
            batch = np.stack([inputs[i] for i in rows]).astype(np.float32)
            t1 = time.monotonic()
            emb = self.engine.embed(batch)  # (N, D)
            t2 = time.monotonic()
            finite = np.isfinite(emb).all(axis=1)
            self.stats.invalid_windows += int((~finite).sum())
            rows, emb = [i for i, ok in zip(rows, finite, strict=True) if ok], emb[finite]
            if rows:
                rank, cos = self.matcher.scores(emb, np.stack([poses[i] for i in rows]) if poses else None)
                for row, i in enumerate(rows):
                    results[i] = self.matcher.result(rank[row], cos[row])
            t3 = time.monotonic()
            self.stats.embedded += len(inputs)
            timing = {"preprocess": (t1 - t0) * 1e3, "model": (t2 - t1) * 1e3, "match": (t3 - t2) * 1e3}
        for i, (out, item) in enumerate(due):
            try:
                self._conclude(out, item, results.get(i), i in ready, timing if i in results else {})
            except (ValueError, TypeError, FloatingPointError) as exc:  # one bad window never stops the runtime
                self.stats.invalid_windows += 1
                log.warning("window of track %s at %.2f s not published: %s", out.track_id, out.t_frame, exc)

    def _conclude(self, out: WindowOutput, item: TimedFrame, res: MatchResult | None, wanted_model: bool,
                  timing: dict[str, float]) -> None:  # fmt: skip
        """Smooth and publish one window: matched (``res``), unusable (``wanted_model`` but no result:
        gated as ``low_visibility``), nothing enrolled, or gated by the windower."""
        if res is not None:
            state, event = self.smoother.update(out.track_id, out.t_frame, result=res)
        elif wanted_model:  # its joints gave no finite model input or embedding
            state, event = self.smoother.update(out.track_id, out.t_frame, gate="low_visibility")
        elif out.ready:  # nothing enrolled: the matcher says so (state unknown, no_support)
            res = self.matcher.match(np.zeros(1, np.float32))
            state, event = self.smoother.update(out.track_id, out.t_frame, result=res)
        else:
            state, event = self.smoother.update(out.track_id, out.t_frame, gate=out.reason)
        self._publish_label(out, item, state, res, timing)
        self._emit(event)

    def _publish_label(self, out: WindowOutput, item: TimedFrame, state: TrackState, res: MatchResult | None,
                       timing: dict[str, float]) -> None:  # fmt: skip
        reason = state.reason if state.state != "action" else None
        if state.state in ("none", "no_person") and reason is None:
            reason = out.reason
        lat = {"pose": item.pose_ms, **timing}
        lat["total"] = item.pose_ms + (time.monotonic() - item.t_in) * 1e3
        self.stats.last_latency_ms = lat
        self.publisher.publish_label(
            track_id=out.track_id, state=state.state, label=state.label, score=state.score,
            margin=None if res is None else res.margin, topk=[] if res is None else res.topk,
            t_frame=out.t_frame, latency_ms=lat, reason=reason,
            extra=_extra(out, res),
        )
        self.stats.labels += 1

    def _emit(self, event: StateEvent | None) -> None:
        if event is None:
            return
        cur, prev = event.current, event.previous
        self.publisher.publish_event(
            track_id=event.track_id, event=event.event, state=cur.state, label=cur.label, score=cur.score,
            t_frame=cur.t_frame, previous=(prev.state, prev.label),
        )
        self.stats.events += 1


def _finite(x: float) -> float | None:
    """4-decimal value for JSON, None when not finite (JSON has no NaN/inf)."""
    return round(float(x), 4) if np.isfinite(x) else None


def _extra(out: WindowOutput, res: MatchResult | None) -> dict[str, float | None]:
    """The label's ``motion`` (left out unless finite: it is a number when present) and ``cosine``."""
    extra = {"cosine": None if res is None or res.index < 0 else _finite(res.cosine)}
    motion = _finite(out.motion)
    return extra if motion is None else {"motion": motion, **extra}
