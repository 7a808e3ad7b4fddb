"""The edge runtime: a source thread and an inference thread joined by a bounded queue.

    pipe = Pipeline(source, engine, store, publisher, PipelineConfig(max_seconds=60))
    result = pipe.run()            # blocks; or pipe.start() ... pipe.stop(); pipe.wait()

- Source thread: pulls :class:`~edge.frames.SkeletonFrame` objects from the source (camera or
  video through MediaPipe, or skeleton replay), feeds an active enrollment, publishes the live
  skeletons on the ``pose`` topic (throttled), and puts frames on the queue. Live sources drop
  the oldest queued frame when the queue is full (counted in ``dropped``); ``lossless`` sources
  (file replay) wait instead, so every recorded frame is classified.
- Inference thread: drains the queue into a :class:`~edge.recognizer.Recognizer` (windows ->
  preprocess -> batched embed -> match -> smooth -> publish), finishes enrollments (trim, embed,
  store) and swaps the support set after any change.

So pose and inference never wait for each other. The run ends on source end, ``max_seconds``,
:meth:`Pipeline.stop` (Ctrl-C / SIGTERM in the CLI) or an error (e.g. a camera that stops
delivering: :class:`~edge.errors.SourceError`), always without hanging: every wait is bounded.
The control channel (:mod:`edge.control`) calls :meth:`status`, :meth:`actions`,
:meth:`start_enroll`, :meth:`remove_action` and :meth:`rename_action` from its own thread.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engines import EngineBase
from .enrollment import EnrollProgress, EnrollRecorder, store_demonstration
from .errors import EXIT_RUNTIME, EdgeError, exit_code_of
from .exemplar_crops import CropCache, CropConfig
from .frames import SkeletonFrame
from .matcher import MatcherConfig, SupportSet
from .publisher import Publisher
from .queueing import FrameQueue, RateMeter
from .recognizer import Recognizer, TimedFrame
from .runtime import matching_aids, preprocess_config_for
from .smoothing import SmoothingConfig
from .sources import Source
from .store import SupportStore
from .window import WindowConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineConfig:
    """Threading and pacing. ``lossless``: block the source instead of dropping (file replay);
    ``realtime``: pace a recorded source at its own frame rate (like a live camera)."""

    queue_size: int = 32
    lossless: bool = False
    realtime: bool = False
    max_seconds: float | None = None
    pose_hz: float = 10.0
    batch_max: int = 16
    status_s: float = 0.5
    window: WindowConfig = field(default_factory=WindowConfig)
    matcher: MatcherConfig = field(default_factory=MatcherConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    crops: CropConfig = field(default_factory=CropConfig)  # window-length crops of each demonstration

    def __post_init__(self) -> None:
        if self.queue_size < 1:
            raise ValueError(f"pipeline.queue_size must be >= 1, got {self.queue_size}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"--max-seconds must be > 0, got {self.max_seconds}")
        if self.pose_hz < 0:
            raise ValueError(f"pipeline.pose_hz must be >= 0, got {self.pose_hz}")


@dataclass(frozen=True)
class RunResult:
    """How a run ended: ``reason`` in source_end / max_seconds / stopped / error; ``error_code``
    the exit code of the error (:mod:`edge.errors`: 2 for a source that cannot be used, 1 otherwise)."""

    reason: str
    error: str | None
    stats: dict[str, Any]
    error_code: int = EXIT_RUNTIME

    @property
    def exit_code(self) -> int:
        return self.error_code if self.reason == "error" else 0


class Pipeline:
    """One source, one model, one support store, one publisher (see the module doc)."""

    def __init__(self, source: Source, engine: EngineBase, store: SupportStore, publisher: Publisher,
                 config: PipelineConfig | None = None) -> None:  # fmt: skip
        self.source, self.engine, self.store, self.publisher = source, engine, store, publisher
        self.config = cfg = config or PipelineConfig()
        self.preprocess = preprocess_config_for(engine.meta)
        self._store_lock = threading.RLock()
        self.aids = matching_aids(engine)  # centred cosine; DC when the model's base statistics ship with it
        fusion = cfg.matcher.fusion
        self._crops = CropCache(engine, self.preprocess, cfg.window.frames / cfg.window.fps, cfg.crops,
                                None if fusion is None else fusion.frames) if cfg.crops.enabled else None
        # live: fit DC off the frame loop (cosine meanwhile); file replay: at once, so runs are repeatable
        self.recognizer = Recognizer(engine, self.preprocess, publisher, self._support(), cfg.window, cfg.matcher,
                                     cfg.smoothing, cfg.batch_max, center=self.aids.center,
                                     base_stats=self.aids.base_stats, dc_background=not cfg.lossless)  # fmt: skip
        self.queue = FrameQueue(cfg.queue_size, cfg.lossless)
        self._stop = threading.Event()
        self._done = threading.Event()
        self._support_dirty = False
        self._enroll: tuple[str, EnrollRecorder] | None = None  # guarded by _enroll_lock
        self._enroll_ready: tuple[str, EnrollRecorder] | None = None
        self._enroll_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._error: str | None = None
        self._error_code = EXIT_RUNTIME
        self._reason: str | None = None
        self._t_start = 0.0
        self.state = "idle"
        self._src_rate, self._proc_rate = RateMeter(), RateMeter()
        self.frames_in = 0
        self.last_frame: SkeletonFrame | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def _support(self) -> SupportSet:
        """The store's support set, with pose features when the matcher fuses scores and the
        demonstrations' window-length crops (:mod:`edge.exemplar_crops`) unless they are off."""
        fusion = self.config.matcher.fusion
        support = self.store.support(pose_frames=None if fusion is None else fusion.frames)
        return support if self._crops is None else self._crops.extend(self.store, support)

    def start(self) -> None:
        """Start both threads and the heartbeat; returns at once."""
        self._t_start = time.monotonic()
        self.state = "running"
        self._update_status()
        self.publisher.start_heartbeat()
        for name, target in (("crossglg-source", self._source_loop), ("crossglg-infer", self._infer_loop)):
            t = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self, reason: str = "stopped") -> None:
        """Ask both threads to finish (safe from any thread or a signal handler)."""
        if self._reason is None:
            self._reason = reason
        self._stop.set()

    def _fail(self, message: str, code: int = EXIT_RUNTIME) -> None:
        if self._error is None:
            self._error, self._error_code = message, code
        self.stop("error")

    def wait(self, timeout: float | None = None) -> RunResult | None:
        """Wait for the run to end (``max_seconds`` is enforced here); None if ``timeout`` passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        limit = self.config.max_seconds
        while not self._done.is_set():
            now = time.monotonic()
            if limit is not None and now - self._t_start >= limit:
                self.stop("max_seconds")
            if deadline is not None and now >= deadline:
                return None
            self._done.wait(0.05)
        for t in self._threads:
            t.join(timeout=5.0)
        self.state = "error" if self._reason == "error" else "stopped"
        self._update_status()
        return RunResult(self._reason or "source_end", self._error, self.stats(), self._error_code)

    def run(self) -> RunResult:
        self.start()
        try:
            return self.wait()  # type: ignore[return-value]
        except KeyboardInterrupt:
            self.stop("stopped")
            return self.wait()  # type: ignore[return-value]

    # ---- threads -------------------------------------------------------------------------------

    def _source_loop(self) -> None:
        cfg = self.config
        pose_every = 1.0 / cfg.pose_hz if cfg.pose_hz > 0 else None
        next_pose = 0.0
        pace0: tuple[float, float] | None = None
        try:
            with self.source:
                it = iter(self.source)
                while not self._stop.is_set():
                    t0 = time.monotonic()
                    frame = next(it, None)
                    if frame is None:
                        break
                    now = time.monotonic()
                    pose_ms = (now - t0) * 1e3  # decode + pose (0-ish for skeleton replay)
                    if cfg.realtime:
                        pace0 = pace0 or (now, frame.timestamp_s)
                        delay = pace0[0] + (frame.timestamp_s - pace0[1]) - now
                        if delay > 0 and self._stop.wait(delay):
                            break
                        now = time.monotonic()
                    self.frames_in += 1
                    self.last_frame = frame
                    self._src_rate.mark(now)
                    self._feed_enroll(frame)
                    if pose_every is not None and now >= next_pose:
                        next_pose = now + pose_every
                        self._publish_pose(frame)
                    self.queue.put(TimedFrame(frame, now, pose_ms), self._stop)
        except EdgeError as exc:
            self._fail(str(exc), exit_code_of(exc))
        except Exception as exc:  # a bug or a library failure: report it, never hang
            log.debug("source thread failed", exc_info=True)
            self._fail(f"source {self.source.name} failed: {type(exc).__name__}: {exc}")
        finally:
            with self._enroll_lock:
                if self._enroll is not None:  # the source ended mid-enrollment: use what was recorded
                    job, rec = self._enroll
                    self._report(job, rec.stop())
                    self._enroll, self._enroll_ready = None, (job, rec)
            self.queue.close()

    def _infer_loop(self) -> None:
        keep_all = self.config.lossless
        last_status = 0.0
        try:
            while True:
                if self._support_dirty:
                    with self._store_lock:
                        self._support_dirty = False
                        self.recognizer.set_support(self._support())
                items = self.queue.get_all(timeout=0.1)
                if items is None:
                    break
                if items:
                    self.recognizer.process(items, keep_all=keep_all)
                    now = time.monotonic()
                    for _ in items:
                        self._proc_rate.mark(now)
                self._finish_enroll()
                if self._stop.is_set() and (not keep_all or not items):
                    break  # live: stop at once; lossless: after the last queued frame
                if time.monotonic() - last_status >= self.config.status_s:
                    last_status = time.monotonic()
                    self._update_status()
            self._finish_enroll()
        except Exception as exc:
            log.debug("inference thread failed", exc_info=True)
            self._fail(f"inference failed: {type(exc).__name__}: {exc}")
        finally:
            if self._reason is None:
                self._reason = "source_end"
            self._stop.set()
            self.state = "error" if self._reason == "error" else "stopped"
            self._update_status()  # heartbeats (still running in UI mode) now say why it ended
            self._done.set()

    # ---- pose topic ----------------------------------------------------------------------------

    def _publish_pose(self, frame: SkeletonFrame) -> None:
        size = frame.image_size
        image = size is not None and all(p.image_xy is not None for p in frame.people)
        tracks = []
        for p in frame.people:
            xy = p.image_xy / np.array(size, dtype=np.float32) if image else p.joints[:, :2]  # type: ignore[operator]
            xy = np.where(p.visibility[:, None] > 0, xy, np.nan)
            tracks.append((p.track_id, xy, p.visibility))
        self.publisher.publish_pose(t_frame=frame.timestamp_s, tracks=tracks, space="image" if image else "camera",
                                    image_size=size if image else None)  # fmt: skip

    # ---- enrollment ----------------------------------------------------------------------------

    def start_enroll(self, label: str, countdown_s: float = 3.0, max_seconds: float = 4.0) -> str:
        """Begin recording a demonstration from the live stream; returns the job id at once."""
        rec = EnrollRecorder(label, countdown_s, max_seconds)  # validates its arguments (and the label)
        with self._store_lock:
            self.store.check_writable()  # said now (StoreWriteError), not after the person performed
        with self._enroll_lock:
            if self._enroll is not None or self._enroll_ready is not None:
                raise ValueError(f"an enrollment is already running ({(self._enroll or self._enroll_ready)[0]})")  # type: ignore[index]
            if self._done.is_set() or self.queue.closed:
                raise ValueError("the source has ended: nothing to record")
            job = secrets.token_hex(4)
            self._enroll = (job, rec)
        return job

    def _feed_enroll(self, frame: SkeletonFrame) -> None:
        with self._enroll_lock:
            if self._enroll is None:
                return
            job, rec = self._enroll
            self._report(job, rec.feed(frame), frame.timestamp_s)
            if rec.finished:
                self._enroll, self._enroll_ready = None, (job, rec)

    def _report(self, job: str, progress: list[EnrollProgress], t_frame: float | None = None) -> None:
        t = t_frame if t_frame is not None else (self.last_frame.timestamp_s if self.last_frame else 0.0)
        for p in progress:
            self.publisher.publish_enroll(job=job, phase=p.phase, label=p.label, t_frame=t,
                                          seconds_left=p.seconds_left, message=p.message, track_id=p.track_id)  # fmt: skip

    def _finish_enroll(self) -> None:
        with self._enroll_lock:
            ready, self._enroll_ready = self._enroll_ready, None
        if ready is None:
            return
        job, rec = ready
        t = self.last_frame.timestamp_s if self.last_frame else 0.0
        try:
            clip, fps, span = rec.result()
            with self._store_lock:
                slug, created = store_demonstration(self.store, self.engine, self.preprocess, rec.label, clip, fps,
                                                    source=f"{self.source.name} (live)")  # fmt: skip
                self._support_dirty = True
        except (ValueError, OSError) as exc:
            self.publisher.publish_enroll(job=job, phase="failed", label=rec.label, t_frame=t, message=str(exc),
                                          track_id=rec.track_id)  # fmt: skip
            return
        what = "new action" if created else "one more exemplar"
        self.publisher.publish_enroll(job=job, phase="done", label=rec.label, t_frame=t, track_id=rec.track_id,
                                      message=f"{what} {slug!r}: {clip.shape[0]} frames ({clip.shape[0] / fps:.1f} s)")  # fmt: skip

    # ---- support store (control channel) -------------------------------------------------------

    def actions(self) -> list[dict[str, Any]]:
        with self._store_lock:
            return [{"label": a.label, "slug": a.slug, "exemplars": len(a.exemplars), "created": a.created}
                    for a in self.store.actions]  # fmt: skip

    def remove_action(self, label: str, by: str = "any") -> str:
        with self._store_lock:
            slug = self.store.find(label, by)
            self.store.remove_action(slug)
            self._support_dirty = True
        return slug

    def rename_action(self, label: str, new_label: str, by: str = "any") -> str:
        with self._store_lock:
            slug = self.store.find(label, by)
            if any(a.label == new_label.strip() and a.slug != slug for a in self.store.actions):
                raise ValueError(f"another action is already called {new_label!r}")
            self.store.rename_action(slug, new_label)
            self._support_dirty = True
        return slug

    # ---- status --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        r = self.recognizer.stats
        now = time.monotonic()
        return {
            "frames_in": self.frames_in, "frames_processed": r.frames, "dropped": self.queue.dropped,
            "windows": r.windows, "embedded": r.embedded, "skipped_windows": r.skipped,
            "invalid_windows": r.invalid_windows, "labels": r.labels,
            "events": r.events, "fps_source": round(self._src_rate.rate(now), 2),
            "fps_pipeline": round(self._proc_rate.rate(now), 2), "queue": len(self.queue),
            "uptime_s": round(now - self._t_start, 3) if self._t_start else 0.0,
        }

    def status(self) -> dict[str, Any]:
        """What the control channel's ``status`` op and the heartbeat report."""
        with self._enroll_lock:
            job = self._enroll or self._enroll_ready
            enrolling = None if job is None else {"job": job[0], "label": job[1].label, "phase": job[1].phase}
        return {
            "state": "enrolling" if enrolling and self.state == "running" else self.state,
            "source": self.source.name, "model_id": self.engine.meta.model_id, "backend": self.engine.backend,
            "actions": self.actions(), "enrolling": enrolling, "error": self._error, **self.stats(),
        }

    def _update_status(self) -> None:
        s = self.status()
        s["actions"] = len(s["actions"])
        self.publisher.set_status(**s)
