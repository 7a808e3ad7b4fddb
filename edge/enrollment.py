"""Recording one demonstration of a new action from a live frame stream, and storing it.

:class:`EnrollRecorder` is fed every :class:`~edge.frames.SkeletonFrame` of a source (camera,
video or skeleton replay) and runs on the source clock (frame timestamps), so a paced camera and
a file replayed as fast as possible behave alike::

    rec = EnrollRecorder("wave", countdown_s=3, max_seconds=4)
    for frame in source:
        for progress in rec.feed(frame):       # phase changes and countdown ticks
            show(progress)
        if rec.finished:
            break
    clip, fps = rec.result()                   # (T, 1, 25, 3) on a 30 fps grid, trimmed to motion

Phases: ``countdown`` -> ``recording`` -> ``processing`` (then the caller embeds and stores it:
:func:`store_demonstration`) -> ``done`` / ``failed``. The recorded person is the *main track*:
the person in view with the most visible joints when recording starts; if that track is lost,
the best visible person takes over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossglg.preprocess import PreprocessConfig

from .engines import EngineBase
from .frames import NUM_JOINTS, PersonPose, SkeletonFrame
from .runtime import embed_clip, preprocess_config_for
from .store import SupportStore, check_label
from .window import trim_to_motion

PHASES = ("countdown", "recording", "processing", "done", "failed")
GRID_FPS = 30.0  # the windower's grid rate: exemplars live on the same clock as live windows
# The shortest demonstration, on the 30 fps grid whatever the source's rate (8 frames = 0.27 s):
# trim_to_motion smooths joint speed over 0.2 s (6 grid frames) to find where the movement starts
# and ends, so a shorter recording holds no movement it can find. Short real actions (a clap,
# 0.7-1.5 s at a 15 fps camera = 10-22 source frames) are well above it.
MIN_FRAMES = 8
MIN_SECONDS = MIN_FRAMES / GRID_FPS
_WHY_MIN = (f"a demonstration needs at least {MIN_SECONDS:.2f} s ({MIN_FRAMES} frames on the {GRID_FPS:g} fps grid): "
            "the start and end of the movement are found from joint speed smoothed over 0.2 s")  # fmt: skip


@dataclass(frozen=True)
class EnrollProgress:
    """A progress report: ``phase`` in :data:`PHASES`, seconds left in it (countdown/recording)."""

    label: str
    phase: str
    seconds_left: float | None = None
    message: str = ""
    track_id: int | None = None


def main_person(people: tuple[PersonPose, ...], prefer: int | None = None) -> PersonPose | None:
    """``prefer`` if present, else the person with the most visible joints (ties: lowest id)."""
    if not people:
        return None
    for p in people:
        if p.track_id == prefer:
            return p
    return max(people, key=lambda p: (float(np.sum(p.visibility)), -p.track_id))


def resample_clip(joints: np.ndarray, stamps: np.ndarray, fps: float = GRID_FPS) -> np.ndarray:
    """Irregularly timed joints ``(N, 25, 3)`` at ``stamps`` ``(N,)`` -> ``(T, 1, 25, 3)`` on a grid.

    Linear interpolation per coordinate over the finite samples; a joint never seen stays NaN.
    """
    stamps = np.asarray(stamps, dtype=np.float64)
    if len(stamps) < 2 or not np.all(np.diff(stamps) > 0):
        raise ValueError("enrollment: need >= 2 frames with increasing timestamps")
    grid = stamps[0] + np.arange(int(math.floor((stamps[-1] - stamps[0]) * fps + 1e-6)) + 1) / fps
    flat = joints.reshape(len(stamps), -1).astype(np.float64)
    out = np.full((len(grid), flat.shape[1]), np.nan)
    for k in range(flat.shape[1]):
        ok = np.isfinite(flat[:, k])
        if ok.sum() >= 2:
            out[:, k] = np.interp(grid, stamps[ok], flat[ok, k])
        elif ok.any():
            out[:, k] = flat[ok, k][0]
    return out.reshape(len(grid), 1, NUM_JOINTS, 3).astype(np.float32)


class EnrollRecorder:
    """Countdown, then record the main track for ``max_seconds`` (source clock). Not thread-safe:
    feed it from one thread; read :attr:`finished` / :meth:`result` from that thread too."""

    def __init__(self, label: str, countdown_s: float = 3.0, max_seconds: float = 4.0, whole_source: bool = False):
        label = check_label(label)  # before anything is recorded: the store would refuse it afterwards
        if not 0 <= countdown_s <= 60:
            raise ValueError(f"enroll: countdown_s must be in [0, 60], got {countdown_s}")
        if not 0.5 <= max_seconds <= 60:
            raise ValueError(f"enroll: max_seconds must be in [0.5, 60], got {max_seconds}")
        self.label = label
        self.countdown_s = float(countdown_s)
        self.max_seconds = float(max_seconds)
        self.whole_source = whole_source  # files: record everything, no time limit
        self.phase = "countdown"
        self._t_start: float | None = None
        self._t_rec: float | None = None
        self._last_tick: int | None = None
        self._track: int | None = None
        self._joints: list[np.ndarray] = []
        self._stamps: list[float] = []

    @property
    def finished(self) -> bool:
        """Recording is over (the clip is ready for :meth:`result`)."""
        return self.phase not in ("countdown", "recording")

    @property
    def track_id(self) -> int | None:
        return self._track

    def feed(self, frame: SkeletonFrame) -> list[EnrollProgress]:
        """Consume one frame; returns progress reports due at this frame (possibly none)."""
        t = float(frame.timestamp_s)
        out: list[EnrollProgress] = []
        if self._t_start is None:
            self._t_start = t
        if self.phase == "countdown":
            left = self.countdown_s - (t - self._t_start)
            if left > 0:
                tick = math.ceil(left)
                if tick != self._last_tick:  # one report per whole second
                    self._last_tick = tick
                    out.append(EnrollProgress(self.label, "countdown", float(tick)))
                return out
            self.phase = "recording"
            self._t_rec = t
            self._last_tick = None if self.whole_source else math.ceil(self.max_seconds)
            out.append(EnrollProgress(self.label, "recording", None if self.whole_source else self.max_seconds))
        if self.phase == "recording":
            elapsed = t - self._t_rec  # type: ignore[operator]
            if not self.whole_source and elapsed > self.max_seconds:
                self.phase = "processing"
                out.append(EnrollProgress(self.label, "processing", 0.0, track_id=self._track))
                return out
            person = main_person(frame.people, self._track)
            if person is not None:
                self._track = person.track_id
                seen = (person.visibility[:, None] > 0) & np.isfinite(person.joints)  # inf: missing, as in windows
                self._joints.append(np.where(seen, person.joints, np.nan))
                self._stamps.append(t)
            if not self.whole_source:
                tick = math.ceil(max(0.0, self.max_seconds - elapsed))
                if tick != self._last_tick:
                    self._last_tick = tick
                    out.append(EnrollProgress(self.label, "recording", float(tick), track_id=self._track))
        return out

    def stop(self) -> list[EnrollProgress]:
        """End the recording now (source ended or the caller gives up)."""
        if self.phase in ("countdown", "recording"):
            self.phase = "processing"
            return [EnrollProgress(self.label, "processing", 0.0, track_id=self._track)]
        return []

    def result(self) -> tuple[np.ndarray, float, tuple[int, int]]:
        """``(clip (T, 1, 25, 3) on the 30 fps grid trimmed to motion, fps, (start, stop) of the trim)``.

        Raises ValueError with a reason a user understands (nobody seen, too short, no motion).
        """
        n = len(self._stamps)
        if n < 2:
            raise ValueError(f"enroll {self.label!r}: nobody was recorded ({n} frame(s) with a person)")
        seconds = self._stamps[-1] - self._stamps[0]
        clip = resample_clip(np.stack(self._joints), np.array(self._stamps), GRID_FPS)
        if clip.shape[0] < MIN_FRAMES:
            raise ValueError(f"enroll {self.label!r}: the recording with a person lasts {seconds:.2f} s ({n} frames); "
                             f"{_WHY_MIN}")  # fmt: skip
        trimmed, span = trim_to_motion(clip, GRID_FPS)
        if trimmed.shape[0] < MIN_FRAMES:
            raise ValueError(f"enroll {self.label!r}: the movement found lasts {trimmed.shape[0] / GRID_FPS:.2f} s "
                             f"({trimmed.shape[0]} frames on the grid); {_WHY_MIN}. Record it again, moving throughout")  # fmt: skip
        return trimmed, GRID_FPS, span


def store_demonstration(
    store: SupportStore, engine: EngineBase, cfg: PreprocessConfig, label: str, clip: np.ndarray,
    fps: float, source: str,
) -> tuple[str, bool]:
    """Embed a trimmed clip and store it: a new action, or one more exemplar of an action with the
    same label. Returns ``(slug, created)``."""
    emb = embed_clip(engine, cfg, clip)
    for a in store.actions:
        if a.label == label.strip():
            store.add_exemplar(a.slug, clip, emb, fps=fps, source=source)
            return a.slug, False
    return store.add_action(label, clip, emb, fps=fps, source=source), True


def enroll_recording(store: SupportStore, engine: EngineBase, path: str | Path, label: str) -> str:
    """Enroll a whole recorded skeleton file as one demonstration, exactly as `crossglg-edge enroll
    --skeleton FILE` does (every frame, trimmed to the motion); returns the action's slug."""
    from .sources import Source  # sources import this module's neighbours: keep it lazy

    rec = EnrollRecorder(label, 0.0, 4.0, whole_source=True)
    with Source.from_skeleton_file(path) as src:
        for frame in src:
            rec.feed(frame)
    rec.stop()
    clip, fps, _ = rec.result()
    slug, _ = store_demonstration(store, engine, preprocess_config_for(engine.meta), label, clip, fps, str(path))
    return slug
