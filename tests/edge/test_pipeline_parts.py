"""Pipeline parts without a model: pose/enroll schema over real sockets, the frame queue, the
enrollment recorder on a real UTD-MHAD recording, preprocessing ids, the default store dir."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from runtime_helpers import collect, sync, utd

from crossglg.preprocess import PreprocessConfig
from edge import protocol
from edge.client import subscribe
from edge.enrollment import EnrollRecorder, resample_clip
from edge.frames import SkeletonFrame, make_person
from edge.publisher import Publisher, PublisherConfig
from edge.queueing import FrameQueue, RateMeter
from edge.recognizer import TimedFrame
from edge.runtime import default_store_dir, parse_preprocess_id
from edge.sources import Source


def _base(kind: str) -> tuple[str, dict]:
    topic = protocol.topic_for(kind, "cam0")
    return topic, {"schema": protocol.SCHEMA, "schema_version": 1, "kind": kind, "source": "cam0", "session": "s",
                   "seq": 0, "t_pub": 1.0, "model_id": "m", "backend": "onnxruntime"}  # fmt: skip


def test_pose_and_enroll_messages_round_trip_and_validate() -> None:
    xy = np.random.default_rng(0).uniform(0, 1, (25, 2))
    xy[3] = np.nan  # a missing joint travels as null
    vis = np.ones(25)
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="cam0")) as pub, \
            subscribe(pub.endpoint, strict=True) as sub:
        sync(pub, sub)
        assert pub.publish_pose(t_frame=1.5, tracks=[(4, xy, vis)], space="image", image_size=(640, 480))
        assert pub.publish_enroll(job="ab12", phase="countdown", label="wave", t_frame=1.5, seconds_left=3.0)
        msgs = [m for m in collect(sub, 0.3) if m.kind != "hb"]
    pose, enroll = msgs[0].payload, msgs[1].payload
    assert msgs[0].topic == "crossglg.v1.pose.cam0" and pose["tracks"][0]["track_id"] == 4
    assert pose["tracks"][0]["xy"][3] is None and pose["tracks"][0]["xy"][0] == pytest.approx(list(xy[0]), abs=1e-4)
    assert enroll["event"] == "enroll" and enroll["phase"] == "countdown" and enroll["seconds_left"] == 3.0

    topic, p = _base("pose")
    good = {**p, "t_frame": 0.0, "space": "camera", "image_size": None,
            "tracks": [{"track_id": 1, "xy": [[0.1, 0.2]] * 25, "visibility": [1.0] * 25}]}  # fmt: skip
    protocol.validate_payload(topic, good)
    for field, value in (("space", "pixels"), ("image_size", [640]),
                         ("tracks", [{"track_id": 1, "xy": [[0.1, 0.2]] * 24, "visibility": [1.0] * 25}]),
                         ("tracks", [{"track_id": 1, "xy": [[0.1, 0.2]] * 25, "visibility": [2.0] * 25}]),
                         ("tracks", [{"track_id": "a", "xy": [[0.1, 0.2]] * 25, "visibility": [1.0] * 25}])):  # fmt: skip
        with pytest.raises(protocol.ProtocolError, match=field):
            protocol.validate_payload(topic, {**good, field: value})
    topic, p = _base("event")
    ok = {**p, "event": "enroll", "job": "j", "phase": "done", "label": "wave", "seconds_left": None,
          "message": "", "track_id": None, "t_frame": 2.0}  # fmt: skip
    protocol.validate_payload(topic, ok)
    for field, value in (("phase", "waiting"), ("label", ""), ("job", None), ("seconds_left", "3")):
        with pytest.raises(protocol.ProtocolError, match=field):
            protocol.validate_payload(topic, {**ok, field: value})


def _frame(t: float, i: int = 0) -> TimedFrame:
    return TimedFrame(SkeletonFrame(t, i), t)


def test_frame_queue_drops_oldest_when_live_and_blocks_when_lossless() -> None:
    stop = threading.Event()
    q = FrameQueue(3, lossless=False)
    for i in range(5):
        q.put(_frame(i / 30, i), stop)
    assert q.dropped == 2 and [it.frame.frame_index for it in q.get_all(0.1)] == [2, 3, 4]
    q.close()
    assert q.get_all(0.1) is None

    lq = FrameQueue(2, lossless=True)
    lq.put(_frame(0.0), stop)
    lq.put(_frame(0.1), stop)
    done = threading.Event()
    threading.Thread(target=lambda: (lq.put(_frame(0.2, 2), stop), done.set()), daemon=True).start()
    assert not done.wait(0.3)  # full: the producer waits instead of dropping
    assert len(lq.get_all(0.1)) == 2 and done.wait(2.0) and lq.dropped == 0

    meter = RateMeter(span_s=2.0)
    for k in range(31):
        meter.mark(10.0 + k / 30)
    assert meter.rate(11.0) == pytest.approx(30.0, rel=0.01)


@pytest.mark.realdata
def test_enroll_recorder_countdown_recording_and_trim(data_dir: Path) -> None:
    path = utd(data_dir, 27, 1)  # squat, 30 fps
    with Source.from_skeleton_file(path) as src:
        frames = list(src)
    rec = EnrollRecorder("squat", countdown_s=0.5, max_seconds=60.0, whole_source=False)
    phases = []
    for f in frames:
        phases += [(p.phase, p.seconds_left) for p in rec.feed(f)]
    phases += [(p.phase, p.seconds_left) for p in rec.stop()]
    assert phases[0] == ("countdown", 1.0) and ("recording", 60.0) in phases and phases[-1][0] == "processing"
    clip, fps, (start, stop) = rec.result()
    assert fps == 30.0 and clip.shape[1:] == (1, 25, 3) and 8 <= clip.shape[0] <= len(frames) - 15
    assert stop - start == clip.shape[0]

    limited = EnrollRecorder("squat", countdown_s=0.0, max_seconds=1.0)
    for f in frames:
        limited.feed(f)
        if limited.finished:
            break
    assert limited.finished and limited.phase == "processing"
    with pytest.raises(ValueError, match="nobody"):
        empty = EnrollRecorder("ghost", 0.0, 1.0)
        for i in range(40):
            empty.feed(SkeletonFrame(i / 30, i))
        empty.result()


def test_resample_clip_to_grid_and_main_person() -> None:
    stamps = np.array([0.0, 0.05, 0.09, 0.2])  # irregular, like a loaded camera
    joints = np.stack([np.full((25, 3), t) for t in stamps]).astype(np.float32)
    joints[1, 5] = np.nan
    clip = resample_clip(joints, stamps)
    assert clip.shape == (7, 1, 25, 3)  # 0 .. 0.2 s on the 30 fps grid
    assert np.allclose(clip[:, 0, 0, 0], np.arange(7) / 30, atol=1e-6)
    assert np.isfinite(clip).all()
    people = (make_person(3, np.zeros((25, 3)), np.full(25, 0.4)), make_person(7, np.zeros((25, 3)), np.ones(25)))
    from edge.enrollment import main_person

    assert main_person(people).track_id == 7 and main_person(people, prefer=3).track_id == 3


def test_preprocess_id_round_trip_and_store_dir(monkeypatch, tmp_path: Path) -> None:
    cfg = PreprocessConfig(frames=48, center="per_frame", align=False)
    assert parse_preprocess_id(cfg.id) == cfg
    for bad in ("crossglg-pp/9;frames=64", cfg.id.replace("frames", "franes"), cfg.id.replace("False", "maybe")):
        with pytest.raises(ValueError):
            parse_preprocess_id(bad)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_store_dir() == tmp_path / "crossglg" / "support"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_store_dir() == Path.home() / ".local" / "share" / "crossglg" / "support"
