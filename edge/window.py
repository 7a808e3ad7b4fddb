"""Sliding windows over tracked skeletons: resampling to the model's frame rate, stride, and gates.

:class:`Windower` consumes :class:`edge.frames.SkeletonFrame` objects with arbitrary (irregular,
jittery, dropped-frame) timestamps and keeps one ring buffer per track on a fixed time grid
``t0 + k / fps``. Each grid sample is linearly interpolated between the two observations around it.
Every ``stride`` grid ticks a track yields a :class:`WindowOutput`: either a raw clip
``(T, 1, 25, 3)`` ready for :func:`crossglg.preprocess.preprocess` (``reason is None``) or a gate
reason saying why the model should not run:

- ``"warming_up"``: the track's buffer is not full yet;
- ``"low_visibility"``: too many (frame, joint) samples of the window are missing or low-visibility;
- ``"idle"``: the person does not move (motion energy over the last ``idle_span_s`` below threshold);
- ``"no_person"`` (``track_id`` None): nobody has been in view for ``stride`` ticks (repeats every
  ``stride`` ticks while the scene stays empty).

A gap longer than ``max_gap_s`` in a track's observations resets its buffer (a jump is not
interpolated); a track unseen for ``track_timeout_s`` is dropped and reported in ``lost_tracks``.
:func:`trim_to_motion` cuts an enrollment recording down to the part where the person moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from crossglg.preprocess import PreprocessConfig, preprocess

from .frames import NUM_JOINTS, PersonPose, SkeletonFrame


@dataclass(frozen=True)
class WindowConfig:
    """Window and gate settings.

    Attributes:
        fps: grid rate the clips are resampled to (the model's training rate).
        frames: window length T in grid samples.
        stride: grid ticks between two outputs of one track.
        max_gap_s: a longer hole in a track's observations resets its buffer.
        track_timeout_s: a track unseen this long is forgotten.
        min_visibility: a joint sample counts as visible at or above this visibility.
        max_low_visibility: largest tolerated fraction of low-visibility joint samples in a window.
        idle_threshold_m: the motion energy (90th percentile over joints of each joint's temporal
            standard deviation, metres) below which the person counts as idle.
        idle_span_s: the motion energy is measured over the window's last ``idle_span_s`` seconds.
        idle_exit_factor: hysteresis: an idle track becomes active again only above
            ``idle_threshold_m * idle_exit_factor`` (jitter around the threshold does not flicker).
    """

    fps: float = 30.0
    frames: int = 64
    stride: int = 8
    max_gap_s: float = 0.5
    track_timeout_s: float = 2.0
    min_visibility: float = 0.5
    max_low_visibility: float = 0.3
    idle_threshold_m: float = 0.02
    idle_span_s: float = 1.0
    idle_exit_factor: float = 1.5

    def __post_init__(self) -> None:
        checks = [
            ("fps", self.fps > 0), ("frames", self.frames >= 2), ("stride", self.stride >= 1),
            ("max_gap_s", self.max_gap_s > 0), ("track_timeout_s", self.track_timeout_s > 0),
            ("min_visibility", 0 <= self.min_visibility <= 1), ("max_low_visibility", 0 <= self.max_low_visibility <= 1),
            ("idle_threshold_m", self.idle_threshold_m >= 0), ("idle_span_s", self.idle_span_s > 0),
            ("idle_exit_factor", self.idle_exit_factor >= 1),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"window.{name}: invalid value {getattr(self, name)!r}")


@dataclass(frozen=True)
class WindowOutput:
    """One decision point for one track (or for the empty scene).

    Attributes:
        track_id: the track, or None for ``no_person``.
        t_frame: grid time (source clock, seconds) of the window's last sample.
        reason: None when the clip should be classified, else a gate reason (see module doc).
        clip: raw ``(T, 1, 25, 3)`` float32 (NaN = missing) once the buffer is full, else None.
        visibility: ``(T, 25)`` float32 visibility of the clip's samples, or None.
        low_visibility: fraction of low-visibility joint samples in the window.
        motion: motion energy in metres (see :class:`WindowConfig`).
    """

    track_id: int | None
    t_frame: float
    reason: str | None
    clip: np.ndarray | None = None
    visibility: np.ndarray | None = None
    low_visibility: float = 0.0
    motion: float = 0.0

    @property
    def ready(self) -> bool:
        return self.reason is None

    def model_input(self, cfg: PreprocessConfig) -> np.ndarray:
        """The clip through the shared preprocessing: ``(3, cfg.frames, 25, cfg.max_bodies)``."""
        if self.clip is None:
            raise ValueError(f"window of track {self.track_id} has no clip (reason {self.reason!r})")
        return preprocess(self.clip, cfg)


@dataclass(frozen=True)
class PushResult:
    """What one :meth:`Windower.push` produced: window outputs and tracks that were forgotten."""

    outputs: list[WindowOutput] = field(default_factory=list)
    lost_tracks: list[int] = field(default_factory=list)


class _Track:
    """Ring buffer ``(T, 25, 3)`` + ``(T, 25)`` on the grid, and the last raw observation."""

    def __init__(self, frames: int) -> None:
        self.joints = np.full((frames, NUM_JOINTS, 3), np.nan, dtype=np.float32)
        self.vis = np.zeros((frames, NUM_JOINTS), dtype=np.float32)
        self.head = 0  # next write position
        self.count = 0  # valid samples (<= frames)
        self.since_emit = 0  # grid ticks since the last output
        self.idle = False  # last gate decision was idle (for hysteresis)
        self.next_tick = 0  # next grid tick index to fill
        self.last_t = -math.inf
        self.last_j: np.ndarray | None = None
        self.last_v: np.ndarray | None = None

    def reset(self) -> None:
        self.joints[:] = np.nan
        self.vis[:] = 0.0
        self.head = self.count = self.since_emit = 0
        self.idle = False
        self.last_j = self.last_v = None

    def append(self, j: np.ndarray, v: np.ndarray) -> bool:
        """Write one grid sample; True when this sample made the buffer full."""
        n = self.joints.shape[0]
        self.joints[self.head] = j
        self.vis[self.head] = v
        self.head = (self.head + 1) % n
        was_full = self.count == n
        self.count = min(self.count + 1, n)
        self.since_emit += 1
        return not was_full and self.count == n

    def ordered(self) -> tuple[np.ndarray, np.ndarray]:
        """Oldest-first copies ``(T, 25, 3)``, ``(T, 25)``."""
        idx = (np.arange(self.joints.shape[0]) + self.head) % self.joints.shape[0]
        return self.joints[idx], self.vis[idx]


def _lerp_nan(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """Linear interpolation that holds the finite side where only one side is finite."""
    out = (1.0 - w) * a + w * b
    a_ok, b_ok = np.isfinite(a), np.isfinite(b)
    out = np.where(a_ok & ~b_ok, a, out)
    return np.where(~a_ok & b_ok, b, out)


def motion_energy(joints: np.ndarray) -> float:
    """90th percentile over joints of each joint's temporal std (metres). joints ``(T, 25, 3)``.

    A percentile, not a mean: waving one hand moves ~5 of 25 joints and must not read as idle.
    """
    if joints.shape[0] < 2:
        return 0.0
    finite = np.isfinite(joints).all(axis=-1)  # (T, V)
    ok = finite.sum(axis=0) >= 2
    if not ok.any():
        return 0.0
    with np.errstate(invalid="ignore"):  # float64: any finite float32 coordinates give a finite energy
        std = np.sqrt(np.nansum(np.nanvar(joints[:, ok].astype(np.float64), axis=0), axis=-1))
    return float(np.percentile(std, 90))


class Windower:
    """Per-track ring buffers on a fixed time grid. Feed frames in time order with :meth:`push`."""

    def __init__(self, config: WindowConfig | None = None) -> None:
        self.config = config or WindowConfig()
        self._tracks: dict[int, _Track] = {}
        self._t0: float | None = None
        self._empty_ticks = 0  # grid ticks with nobody in view
        self._last_tick = -1  # highest grid tick reached by any frame
        self.ignored_frames = 0  # frames whose timestamp went backwards

    @property
    def track_ids(self) -> list[int]:
        return sorted(self._tracks)

    def _tick_time(self, k: int) -> float:
        return self._t0 + k / self.config.fps  # type: ignore[operator]

    def _ticks_up_to(self, t: float) -> int:
        """Largest grid tick index whose time is <= t (1e-9 s of slack for float noise)."""
        return math.floor((t - self._t0) * self.config.fps + 1e-6)  # type: ignore[operator]

    def push(self, frame: SkeletonFrame) -> PushResult:
        """Add one frame; return the outputs due at this frame (possibly none)."""
        t = float(frame.timestamp_s)
        if not math.isfinite(t):
            raise ValueError(f"frame {frame.frame_index}: timestamp_s must be finite, got {t}")
        if self._t0 is None:
            self._t0 = t
        top = self._ticks_up_to(t)
        result = PushResult()
        seen: set[int] = set()
        for person in frame.people:
            if person.track_id in seen:
                continue  # one observation per track and frame
            seen.add(person.track_id)
            out = self._observe(person, t)
            if out is not None:
                result.outputs.append(out)
        new_ticks = max(0, top - self._last_tick)
        self._last_tick = max(self._last_tick, top)
        if not frame.people:
            self._empty_ticks += new_ticks
            if self._empty_ticks >= self.config.stride:
                self._empty_ticks = 0
                result.outputs.append(WindowOutput(track_id=None, t_frame=self._tick_time(top), reason="no_person"))
        else:
            self._empty_ticks = 0
        for tid, tr in list(self._tracks.items()):
            if tid not in seen and t - tr.last_t > self.config.track_timeout_s:
                del self._tracks[tid]
                result.lost_tracks.append(tid)
        return result

    def _observe(self, person: PersonPose, t: float) -> WindowOutput | None:
        cfg = self.config
        tr = self._tracks.get(person.track_id)
        if tr is None:
            tr = self._tracks[person.track_id] = _Track(cfg.frames)
        if t <= tr.last_t:
            self.ignored_frames += 1
            return None
        j = np.asarray(person.joints, dtype=np.float32)
        j = np.where(np.isfinite(j), j, np.nan)  # inf from a device = a missing joint, never interpolated
        v = np.nan_to_num(np.asarray(person.visibility, dtype=np.float32), nan=0.0)
        v = np.where(np.isfinite(j).all(axis=-1), v, 0.0)
        if tr.last_j is None or t - tr.last_t > cfg.max_gap_s:
            tr.reset()
            tr.next_tick = max(0, math.ceil((t - self._t0) * cfg.fps - 1e-6))  # type: ignore[operator]
            tr.last_t, tr.last_j, tr.last_v = t - 1e-9, j, v  # so a sample exactly at t is taken
        emitted: WindowOutput | None = None
        k_top = self._ticks_up_to(t)
        while tr.next_tick <= k_top:
            g = self._tick_time(tr.next_tick)
            span = t - tr.last_t
            w = 1.0 if span <= 0 else min(1.0, max(0.0, (g - tr.last_t) / span))
            became_full = tr.append(_lerp_nan(tr.last_j, j, w), (1.0 - w) * tr.last_v + w * v)
            tr.next_tick += 1
            if tr.since_emit >= cfg.stride or became_full:
                # several ticks may pass in one frame (dropped frames): the latest due output wins
                tr.since_emit = 0
                emitted = self._evaluate(person.track_id, tr, g)
        tr.last_t, tr.last_j, tr.last_v = t, j, v
        return emitted

    def _evaluate(self, track_id: int, tr: _Track, t_frame: float) -> WindowOutput:
        cfg = self.config
        if tr.count < cfg.frames:
            return WindowOutput(track_id=track_id, t_frame=t_frame, reason="warming_up")
        joints, vis = tr.ordered()
        low = float((vis < cfg.min_visibility).mean())
        span = max(2, min(cfg.frames, round(cfg.idle_span_s * cfg.fps)))
        recent = np.where((vis[-span:] >= cfg.min_visibility)[..., None], joints[-span:], np.nan)
        energy = motion_energy(recent)
        reason = None
        tr.idle = energy < cfg.idle_threshold_m * (cfg.idle_exit_factor if tr.idle else 1.0)
        if low > cfg.max_low_visibility:
            reason = "low_visibility"
        elif tr.idle:
            reason = "idle"
        return WindowOutput(
            track_id=track_id, t_frame=t_frame, reason=reason, clip=joints[:, None].copy(),
            visibility=vis.copy(), low_visibility=low, motion=energy,
        )

    def reset(self) -> None:
        """Forget every track (e.g. when the source restarts)."""
        self._tracks.clear()
        self._t0 = None
        self._empty_ticks = 0
        self._last_tick = -1


def trim_to_motion(
    clip: np.ndarray, fps: float = 30.0, rel_threshold: float = 0.15, min_speed: float = 0.05, pad_s: float = 0.2
) -> tuple[np.ndarray, tuple[int, int]]:
    """Cut a recording ``(T, M, 25, 3)`` to the part where someone moves.

    Per-frame speed = 90th percentile over joints of the joint speed (m/s) of the most moving
    body, smoothed over ~0.2 s; the active part runs from the first to the last frame whose speed
    exceeds ``max(min_speed, rel_threshold * peak)``, padded by ``pad_s`` each side.
    Returns ``(trimmed clip, (start, stop))``. Raises ``ValueError`` when nothing moves.
    """
    arr = np.asarray(clip, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"trim_to_motion: expected (T, M, {NUM_JOINTS}, 3), got {arr.shape}")
    t = arr.shape[0]
    if t < 3:
        raise ValueError(f"trim_to_motion: recording too short ({t} frames)")
    step = np.linalg.norm(np.diff(arr, axis=0), axis=-1) * fps  # (T-1, M, V) m/s, NaN if missing
    with np.errstate(all="ignore"):
        per_body = np.nanpercentile(np.where(np.isfinite(step), step, np.nan), 90, axis=-1)  # (T-1, M)
    speed = np.nan_to_num(np.nanmax(np.where(np.isfinite(per_body), per_body, -np.inf), axis=1), neginf=0.0)
    k = max(1, round(0.2 * fps))
    smooth = np.convolve(speed, np.ones(k) / k, mode="same")
    peak = float(smooth.max()) if smooth.size else 0.0
    if peak < min_speed:
        raise ValueError(f"trim_to_motion: no motion found (peak speed {peak:.3f} m/s < {min_speed} m/s)")
    active = np.flatnonzero(smooth >= max(min_speed, rel_threshold * peak))
    pad = round(pad_s * fps)
    start = max(0, int(active[0]) - pad)
    stop = min(t, int(active[-1]) + 2 + pad)  # +1: diff index -> frame, +1: exclusive end
    return arr[start:stop].copy(), (start, stop)
