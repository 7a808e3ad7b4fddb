"""Windower: resampling irregular timestamps, stride, per-track buffers, gates; trim_to_motion."""

from __future__ import annotations

import numpy as np
import pytest

from crossglg.preprocess import PreprocessConfig
from crossglg.skeleton.mappings import from_utd_mhad
from edge.frames import SkeletonFrame, make_person
from edge.window import WindowConfig, Windower, motion_energy, trim_to_motion

FPS = 30.0
BASE = np.random.default_rng(1).normal(0, 0.3, (25, 3)).astype(np.float32)


def pose_at(t: float, speed: float = 0.5, phase: float = 0.0) -> np.ndarray:
    """A body translating along x at `speed` m/s: linear in t, so resampling must be exact."""
    j = BASE.copy()
    j[:, 0] += speed * t + phase
    return j


def frame(t: float, i: int, people=()) -> SkeletonFrame:
    return SkeletonFrame(timestamp_s=t, frame_index=i, people=tuple(people))


def run(win: Windower, times, make) -> list:
    outs = []
    for i, t in enumerate(times):
        outs.extend(win.push(frame(t, i, make(t))).outputs)
    return outs


def test_irregular_timestamps_resample_exactly_onto_the_grid() -> None:
    rng = np.random.default_rng(0)
    # 12-45 fps with jitter, plus a 0.3 s dropout (shorter than max_gap_s: interpolated, not reset)
    dts = rng.uniform(1 / 45, 1 / 12, 120)
    dts[50] = 0.3
    times = 5.0 + np.cumsum(dts)
    win = Windower(WindowConfig(frames=32, stride=8))
    outs = [o for o in run(win, times, lambda t: [make_person(3, pose_at(t))]) if o.clip is not None]
    assert len(outs) >= 5
    t0 = times[0]
    for o in outs:
        grid = o.t_frame - np.arange(31, -1, -1) / FPS
        assert np.allclose((grid - t0) * FPS, np.round((grid - t0) * FPS), atol=1e-6)  # on the grid
        expected = BASE[None, :, 0] + 0.5 * grid[:, None]
        assert o.clip.shape == (32, 1, 25, 3)
        np.testing.assert_allclose(o.clip[:, 0, :, 0], expected, atol=1e-4)
    assert [o.t_frame for o in outs] == sorted(o.t_frame for o in outs)


def test_stride_and_warm_up_at_a_regular_rate() -> None:
    win = Windower(WindowConfig(frames=16, stride=4))
    times = np.arange(60) / FPS
    outs = run(win, times, lambda t: [make_person(1, pose_at(t))])
    ticks = [round(o.t_frame * FPS) for o in outs]
    # warming_up every 4 ticks until the buffer is full at tick 15, then a window every 4 ticks
    assert ticks == [3, 7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47, 51, 55, 59]
    assert [o.reason for o in outs[:3]] == ["warming_up"] * 3
    assert all(o.ready for o in outs[3:])


def test_long_gap_resets_and_lost_tracks_are_reported() -> None:
    win = Windower(WindowConfig(frames=8, stride=4, max_gap_s=0.5, track_timeout_s=1.0))
    times = list(np.arange(20) / FPS) + list(0.9 + np.arange(12) / FPS)  # 0.27 s ... 0.9 s: a 0.27 s gap
    outs = run(win, times, lambda t: [make_person(1, pose_at(t))])
    assert all(o.reason != "warming_up" for o in outs[2:])  # 0.27 s < max_gap_s: no reset
    win2 = Windower(WindowConfig(frames=8, stride=4, max_gap_s=0.5, track_timeout_s=5.0))
    times2 = list(np.arange(20) / FPS) + list(2.0 + np.arange(12) / FPS)
    outs2 = run(win2, times2, lambda t: [make_person(1, pose_at(t))])
    after = [o for o in outs2 if o.t_frame >= 2.0]
    assert after[0].reason == "warming_up"  # 1.4 s gap > max_gap_s: buffer restarted
    lost = []
    for i, t in enumerate([3.0, 3.5, 4.2]):
        lost += win.push(frame(t, 100 + i, [make_person(2, pose_at(t))])).lost_tracks
    assert lost == [1] and win.track_ids == [2]


def test_ring_buffer_per_track() -> None:
    win = Windower(WindowConfig(frames=16, stride=8))
    times = np.arange(48) / FPS
    outs = run(win, times, lambda t: [make_person(1, pose_at(t, 0.5)), make_person(2, pose_at(t, -1.0, phase=3.0))])
    ready = [o for o in outs if o.ready]
    assert {o.track_id for o in ready} == {1, 2}
    for o in ready:
        grid = o.t_frame - np.arange(15, -1, -1) / FPS
        speed, phase = (0.5, 0.0) if o.track_id == 1 else (-1.0, 3.0)
        np.testing.assert_allclose(o.clip[:, 0, 0, 0], BASE[0, 0] + speed * grid + phase, atol=1e-4)


def test_gates_no_person_low_visibility_idle() -> None:
    cfg = WindowConfig(frames=16, stride=4)
    times = np.arange(40) / FPS
    empty = run(Windower(cfg), times, lambda t: [])
    assert len(empty) == 10 and all(o.reason == "no_person" and o.track_id is None for o in empty)

    vis = np.ones(25, np.float32)
    vis[:10] = 0.1  # 40% of joints low-visibility > 30%
    low = run(Windower(cfg), times, lambda t: [make_person(1, pose_at(t), visibility=vis)])
    assert {o.reason for o in low if o.clip is not None} == {"low_visibility"}
    vis[:5] = 1.0  # 20%: tolerated
    ok = run(Windower(cfg), times, lambda t: [make_person(1, pose_at(t), visibility=vis)])
    assert all(o.ready for o in ok if o.clip is not None)

    rng = np.random.default_rng(2)
    still = run(Windower(cfg), times, lambda t: [make_person(1, BASE + rng.normal(0, 0.003, (25, 3)))])
    full = [o for o in still if o.clip is not None]
    assert full and all(o.reason == "idle" and o.motion < cfg.idle_threshold_m for o in full)


def test_idle_gate_has_hysteresis() -> None:
    cfg = WindowConfig(frames=16, stride=4, idle_threshold_m=0.02, idle_exit_factor=1.5)

    def amp_at(t: float) -> float:  # still, then motion just above the threshold, then clearly above
        return 0.0 if t < 1.0 else (0.035 if t < 2.5 else 0.1)

    def pose(t: float) -> np.ndarray:
        j = BASE.copy()
        j[:, 0] += amp_at(t) * np.sin(2 * np.pi * 2.0 * t)  # std of a sine = amplitude / sqrt(2)
        return j

    outs = [o for o in run(Windower(cfg), np.arange(120) / FPS, lambda t: [make_person(1, pose(t))]) if o.clip is not None]
    mid = [o for o in outs if 2.0 <= o.t_frame < 2.5]  # energy ~0.025: above 0.02 but below 0.03
    late = [o for o in outs if o.t_frame >= 3.6]
    assert mid and all(0.02 < o.motion < 0.03 and o.reason == "idle" for o in mid)  # stays idle
    assert late and all(o.ready for o in late)
    fresh = Windower(cfg)  # the same motion without an idle history is active
    outs2 = [o for o in run(fresh, np.arange(120) / FPS, lambda t: [make_person(1, pose(t + 1.5))])
             if o.clip is not None and o.t_frame + 1.5 < 2.5]
    assert outs2 and all(o.ready for o in outs2)


def test_one_hand_waving_is_not_idle() -> None:
    def wave(t: float) -> np.ndarray:
        j = BASE.copy()
        j[[10, 11, 23, 24], 0] += 0.15 * np.sin(2 * np.pi * 1.5 * t)  # right wrist, hand, tip, thumb
        return j

    outs = run(Windower(WindowConfig(frames=32, stride=8)), np.arange(64) / FPS, lambda t: [make_person(1, wave(t))])
    full = [o for o in outs if o.clip is not None]
    assert full and all(o.ready for o in full)


def test_window_feeds_the_shared_preprocessing() -> None:
    outs = run(Windower(WindowConfig(frames=20, stride=5)), np.arange(30) / FPS, lambda t: [make_person(1, pose_at(t))])
    x = next(o for o in outs if o.ready).model_input(PreprocessConfig(frames=16))
    assert x.shape == (3, 16, 25, 1) and np.isfinite(x).all()


def _utd(data_dir, name: str) -> np.ndarray:
    from scipy.io import loadmat

    raw = np.asarray(loadmat(str(data_dir / "utd_mhad" / "Skeleton" / name))["d_skel"], np.float32)
    return from_utd_mhad(raw.transpose(2, 0, 1))  # (T, 25, 3)


@pytest.mark.realdata
def test_real_clip_gates_and_trim(data_dir) -> None:
    seq = _utd(data_dir, "a3_s1_t1_skeleton.mat")  # right hand wave
    t = seq.shape[0]
    cfg = WindowConfig(frames=32, stride=8)
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.uniform(0.8, 1.2, t) / FPS)  # jittered 30 fps
    outs = run(Windower(cfg), times, lambda tt: [make_person(1, seq[np.searchsorted(times, tt)])])
    assert any(o.ready for o in outs)  # a real wave passes the gates
    frozen = run(Windower(cfg), times, lambda tt: [make_person(1, seq[0])])
    assert all(o.reason == "idle" for o in frozen if o.clip is not None)
    assert motion_energy(seq) > 5 * cfg.idle_threshold_m

    # the real clip with 1 s of stillness before and after: trimming recovers the moving part
    padded = np.concatenate([np.repeat(seq[:1], 30, 0), seq, np.repeat(seq[-1:], 30, 0)])[:, None]
    trimmed, (a, b) = trim_to_motion(padded, FPS)
    assert 15 <= a <= 45 and 30 + t - 15 <= b <= 30 + t + 15
    assert trimmed.shape == (b - a, 1, 25, 3)
    with pytest.raises(ValueError, match="no motion"):
        trim_to_motion(np.repeat(seq[:1], 60, 0)[:, None], FPS)
