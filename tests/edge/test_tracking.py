"""Hungarian frame-to-frame association (edge/tracking.py) on generated tracks."""

from __future__ import annotations

import numpy as np
import pytest

from edge.tracking import HungarianTracker, TrackerConfig, person_centre


def _crossing_ids(smoothing: float) -> list[list[int]]:
    """A walks right, B walks left, 8 px apart vertically, crossing between two frames."""
    tracker = HungarianTracker(TrackerConfig(gate=60.0, max_missed=3, velocity_smoothing=smoothing))
    out = []
    for t in range(40):
        a = [100.0 + 10 * t, 300.0]
        b = [505.0 - 10 * t, 308.0]
        order = [1, 0] if t % 2 else [0, 1]  # detection order carries no identity
        ids = tracker.update(np.array([a, b])[order])
        out.append([ids[order.index(0)], ids[order.index(1)]])
    return out


def test_two_people_crossing_keep_their_ids():
    assert all(pair == [0, 1] for pair in _crossing_ids(0.5))
    # the motion model is what makes this work: previous positions alone swap them at the crossing
    assert any(pair == [1, 0] for pair in _crossing_ids(0.0))


def test_gate_new_ids_and_dropping():
    tracker = HungarianTracker(TrackerConfig(gate=50.0, max_missed=2, velocity_smoothing=0.0))
    assert tracker.update(np.array([[0.0, 0.0]])) == [0]
    # a jump beyond the gate is somebody else: new id, and the old track is kept (missed once)
    assert tracker.update(np.array([[200.0, 0.0]])) == [1]
    assert sorted(tracker.active_ids) == [0, 1]
    # the first person reappears within the grown gate after missing frames
    assert tracker.update(np.array([[10.0, 0.0], [205.0, 0.0]])) == [0, 1]
    for _ in range(3):  # nobody for max_missed + 1 frames: every track is dropped
        assert tracker.update(np.zeros((0, 2))) == []
    assert tracker.active_ids == []
    # ids are never reused
    assert tracker.update(np.array([[10.0, 0.0]])) == [2]


def test_more_detections_than_tracks_and_nan_centres():
    tracker = HungarianTracker(TrackerConfig(gate=30.0))
    assert tracker.update(np.array([[0.0, 0.0]])) == [0]
    ids = tracker.update(np.array([[100.0, 100.0], [np.nan, np.nan], [2.0, 1.0]]))
    assert ids[2] == 0 and ids[0] not in (0, ids[1]) and ids[1] not in (0, ids[0])
    assert sorted(tracker.active_ids) == [0, ids[0]]  # an unplaceable detection starts no track


def test_config_validation():
    with pytest.raises(ValueError, match="gate"):
        TrackerConfig(gate=0.0)
    with pytest.raises(ValueError, match="max_missed"):
        TrackerConfig(max_missed=-1)


def test_person_centre_falls_back_from_hidden_hips():
    xy = np.tile(np.array([[10.0, 20.0]]), (25, 1))
    xy[0] = [50.0, 60.0]
    vis = np.ones(25)
    assert person_centre(xy, vis).tolist() == [50.0, 60.0]
    vis[0] = 0.0
    assert person_centre(xy, vis).tolist() == pytest.approx([10.0, 20.0])
    assert np.isnan(person_centre(xy, np.zeros(25))).all()
