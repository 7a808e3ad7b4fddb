"""LiveState (what the UI knows) fed with schema-checked messages: sessions, tracks, bars, enrollment, poses."""

from __future__ import annotations

from ui_helpers import WAVE_POSE, label_fields, message

from edge.ui.state import LiveState, parse_pose_tracks


def _label(seq: int, track_id, state, label, score, topk, session="s1", **kw):
    return message("label", seq, session=session, **label_fields(track_id, state, label, score, topk, 30.0, **kw))


def test_primary_track_prefers_the_best_action_and_bars_keep_their_order() -> None:
    st = LiveState()
    st.ingest(_label(0, 1, "unknown", None, 0.3, [("clap", 0.3), ("wave", 0.2)]), now=0.0)
    st.ingest(_label(1, 2, "action", "wave", 0.7, [("wave", 0.7), ("clap", 0.4)]), now=0.1)
    st.ingest(_label(2, 3, "action", "clap", 0.9, [("clap", 0.9), ("wave", 0.1)]), now=0.2)
    assert st.primary().track_id == 3
    assert st.bar_scores() == [("clap", 0.9), ("wave", 0.1)]  # first-seen order, primary's scores
    st.set_enrolled(["wave", "clap", "kick"])  # the runtime's list wins once known
    assert st.bar_scores() == [("wave", 0.1), ("clap", 0.9), ("kick", None)]


def test_nobody_in_view_clears_people_and_tracks_expire() -> None:
    st = LiveState(track_ttl=1.0)
    st.ingest(_label(0, 1, "action", "wave", 0.7, [("wave", 0.7)]), now=0.0)
    st.ingest(_label(1, None, "no_person", None, None, [], reason="no_person"), now=0.5)
    assert list(st.tracks) == [("cam0", None)]
    st.ingest(_label(2, 4, "none", None, None, [], reason="idle"), now=0.6)
    assert list(st.tracks) == [("cam0", 4)]
    assert not st.expire(now=1.5) and st.expire(now=1.7) and st.primary() is None


def test_new_session_resets_and_counts_a_restart() -> None:
    st = LiveState()
    st.ingest(_label(0, 1, "action", "wave", 0.7, [("wave", 0.7)], session="old"), now=0.0)
    assert st.latency_ms
    restarted = st.ingest(_label(0, 2, "none", None, None, [], session="new", reason="warming_up"), now=1.0)
    assert restarted and st.restarts == 1
    assert ("cam0", 1) not in st.tracks and st.seen_labels == []
    assert "runtime restarted" in st.events[-1].text


def test_heartbeat_snapshot_only_until_labels_flow() -> None:
    st = LiveState()
    hb = dict(interval_s=1.0, uptime_s=1.0, stats={"sent": 1, "dropped": 0},
              tracks=[{"track_id": 7, "state": "action", "label": "wave", "score": 0.8, "t_frame": 1.0}],
              status={"fps_pipeline": 24.5, "state": "running"})
    st.ingest(message("hb", 0, session="s1", **hb), now=0.0)
    assert st.primary().label == "wave" and list(st.fps) == [24.5]  # a late joiner sees the snapshot
    st.ingest(_label(0, None, "no_person", None, None, [], reason="no_person"), now=0.1)
    st.ingest(message("hb", 1, session="s1", **hb), now=1.0)  # the snapshot still lists track 7: labels are fresher
    assert list(st.tracks) == [("cam0", None)]


def test_enrollment_events_one_history_line_per_phase() -> None:
    st = LiveState()

    def enroll(seq, phase, left=None, message_=""):
        st.ingest(message("event", seq, event="enroll", job="j1", phase=phase, label="kick", seconds_left=left,
                          message=message_, track_id=1, t_frame=1.0), now=float(seq))

    for i, left in enumerate((3.0, 2.0, 1.0)):
        enroll(i, "countdown", left)
    assert st.enrollment.seconds_left == 1.0 and st.enrollment.job == "j1"
    enroll(3, "recording", 4.0)
    enroll(4, "done")
    assert [e.text for e in st.events] == ["kick \u2192 countdown", "kick \u2192 recording", "kick \u2192 done"]
    assert st.enrolled == ["kick"]


def test_pose_tracks_image_and_camera_space() -> None:
    vis = [1.0] * 25
    vis[3] = 0.2  # a barely visible head is not drawn
    xy = [list(p) for p in WAVE_POSE]
    xy[5] = None
    img = message("pose", 0, t_frame=1.0, space="image", image_size=[640, 480],
                  tracks=[{"track_id": 2, "xy": xy, "visibility": vis}]).payload
    [(tid, pts, aspect)] = parse_pose_tracks(img)
    assert tid == 2 and aspect == 640 / 480 and pts[3] is None and pts[5] is None and pts[0] == WAVE_POSE[0]
    cam = message("pose", 1, t_frame=1.0, space="camera", image_size=None,
                  tracks=[{"track_id": 2, "xy": [[0.1, 1.5]] * 25, "visibility": [1.0] * 25}]).payload
    [(_, pts, aspect)] = parse_pose_tracks(cam)
    assert aspect == 1.0 and pts[0] == (0.1, -1.5)  # camera y is up, drawing y is down
