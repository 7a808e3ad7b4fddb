"""Sources behind one interface: skeleton replay, video/camera errors, camera stalls, Kinect Azure."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest

from edge.errors import ModelNotFoundError, SourceError
from edge.frames import SkeletonFrame
from edge.kinect_azure import (
    INSTALL_HINT,
    K4ABT_JOINTS,
    NTU_FROM_K4ABT,
    k4abt_to_ntu,
    k4abt_visibility_to_ntu,
)
from edge.skeleton_files import read_ntu_skeleton
from edge.sources import KinectAzureSource as SourceKinect
from edge.sources import Source
from edge.video import CameraReader

SAMPLE = "ntu_sample/S001C001P001R001A001.skeleton"


# -- recorded skeletons ------------------------------------------------------------------------
@pytest.mark.realdata
def test_ntu_skeleton_replay(data_dir):
    path = data_dir / SAMPLE
    raw = path.read_text().split("\n")
    with Source.from_skeleton_file(path) as src:
        assert src.fps == 30.0 and src.name == "S001C001P001R001A001"
        frames = list(src)
    assert len(frames) == int(raw[0]) == 103
    assert all(isinstance(f, SkeletonFrame) for f in frames)
    assert [f.frame_index for f in frames] == list(range(103))
    assert np.allclose([f.timestamp_s for f in frames], np.arange(103) / 30.0)
    assert all(len(f.people) == 1 and f.people[0].track_id == 0 for f in frames)
    person = frames[0].people[0]
    # line 4 is the first joint of frame 0: x y z depthX depthY colorX colorY ...
    first = [float(v) for v in raw[4].split()]
    assert person.joints[0] == pytest.approx(first[0:3])
    assert person.image_xy[0] == pytest.approx(first[5:7])
    assert frames[0].image_size == (1920, 1080)
    assert person.joints.dtype == np.float32 and person.visibility.min() >= 0.0


def test_numpy_replay_and_missing_bodies(tmp_path):
    seq = np.random.default_rng(0).normal(size=(5, 2, 25, 3)).astype(np.float32)
    seq[2, 1] = np.nan  # second body absent in frame 2
    np.savez(tmp_path / "clip.npz", joints=seq, fps=np.float32(15.0))
    with Source.from_skeleton_file(tmp_path / "clip.npz") as src:
        frames = list(src)
    assert src.fps == 15.0
    assert [len(f.people) for f in frames] == [2, 2, 1, 2, 2]
    assert [p.track_id for p in frames[3].people] == [0, 1]
    assert frames[4].people[1].joints == pytest.approx(seq[4, 1])
    assert frames[1].timestamp_s == pytest.approx(1 / 15.0)
    np.save(tmp_path / "single.npy", seq[:, 0])
    assert len(list(Source.from_skeleton_file(tmp_path / "single.npy"))) == 5


def test_skeleton_file_errors(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        Source.from_skeleton_file(tmp_path / "nope.skeleton")
    np.save(tmp_path / "bad.npy", np.zeros((4, 20, 3)))
    with pytest.raises(SourceError, match=r"\(T, M, 25, 3\)"):
        Source.from_skeleton_file(tmp_path / "bad.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SourceError, match="cannot read"):
        Source.from_skeleton_file(tmp_path / "obj.npy")  # never unpickled
    broken = tmp_path / "broken.skeleton"
    broken.write_text("2\n1\n72057594037931101 0 1 1 1 1 0 0.1 0.1 2\n25\n0.1 0.2 oops\n")
    with pytest.raises(SourceError, match=r"broken.skeleton"):
        read_ntu_skeleton(broken)
    (tmp_path / "clip.xyz").write_text("1 2 3\n")
    with pytest.raises(SourceError, match="unsupported skeleton format '.xyz'"):
        Source.from_skeleton_file(tmp_path / "clip.xyz")


@pytest.mark.realdata
@pytest.mark.parametrize(
    "relpath",
    ["utd_mhad/Skeleton/a10_s1_t1_skeleton.mat", "nw_ucla/all_sqe/a01_s01_e00_v01.json", "gtu3d/1/movement1.txt",
     "irds/CSVData/215_18_0_1_1_stand.csv"],
)  # fmt: skip
def test_dataset_files_replay(data_dir, relpath):
    """Every training format replays through the same source (readers from crossglg.datasets)."""
    with Source.from_skeleton_file(data_dir / relpath) as src:
        frames = list(src)
    assert src.fps == 30.0 and len(frames) > 5
    people = [p for f in frames for p in f.people]
    assert len(people) >= 0.9 * len(frames)
    joints = np.stack([p.joints for p in people])
    assert joints.shape[1:] == (25, 3) and np.isfinite(joints).mean() > 0.9
    # metres, y up: the head (NTU joint 3) is above the spine base (joint 0) in most frames
    assert np.nanmean(joints[:, 3, 1] > joints[:, 0, 1]) > 0.9


# -- image sources -----------------------------------------------------------------------------
def test_video_and_camera_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("CROSSGLG_POSE_MODEL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    with pytest.raises(SourceError, match="not found"):
        Source.from_video(tmp_path / "missing.avi", pose_model=tmp_path / "m.task")
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(ModelNotFoundError, match="models fetch"):
        Source.from_video(junk)  # no model anywhere: says how to get one
    model = tmp_path / "m.task"
    model.write_bytes(b"x")
    with pytest.raises(SourceError, match="junk.avi"), Source.from_video(junk, pose_model=model) as src:
        next(iter(src))
    with pytest.raises(SourceError, match="cannot open camera 99"):
        next(iter(CameraReader(99, open_timeout_s=10.0)))


@pytest.mark.realdata
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_stalled_camera_times_out_instead_of_hanging(data_dir, tmp_path, monkeypatch):
    """A stream that delivers some frames and then stops: iteration raises within the timeout."""
    # small probe so OpenCV's FFmpeg backend starts decoding before the pipe is exhausted
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "probesize;32768|analyzeduration;0")
    fifo = tmp_path / "camera"
    os.mkfifo(fifo)
    data = (data_dir / "ntu_sample" / "two_person_hugging.avi").read_bytes()
    fds: list[int] = []

    def stalled_device() -> None:
        fd = os.open(fifo, os.O_WRONLY)
        fds.append(fd)
        os.write(fd, data[: len(data) // 2])  # then never writes again, never closes

    writer = threading.Thread(target=stalled_device, daemon=True)
    writer.start()
    reader = CameraReader(str(fifo), read_timeout_s=1.0, open_timeout_s=10.0)
    frames = 0
    try:
        with pytest.raises(SourceError, match="delivered no frame within 1.0 s"):
            for _stamp, _bgr in reader:
                frames += 1
        assert frames > 0
        thread = reader._thread
        reader.close()
    finally:
        writer.join(5)
        for fd in fds:
            os.close(fd)  # EOF lets the stuck reader thread finish
    thread.join(10)
    assert not thread.is_alive()


@pytest.mark.realdata
def test_two_people_get_two_stable_tracks(data_dir, pose_model_path):
    video = data_dir / "ntu_sample" / "two_person_hugging.avi"
    ids, xs = [], []
    with Source.from_video(video, mirror=True, pose_model=pose_model_path, max_people=2) as src:
        for frame in src:
            ids.append(tuple(p.track_id for p in frame.people))
            xs.append({p.track_id: float(p.joints[0, 0]) for p in frame.people})
            assert len(frame.people) <= 2
    both = [i for i in ids if len(i) == 2]
    assert len(ids) == 72
    assert len(both) >= 0.8 * len(ids)
    pair = max(set(both), key=both.count)
    assert both.count(pair) >= 0.8 * len(ids)  # the same two ids over most frames
    # the two people walk towards each other to hug: their root x distance shrinks
    a, b = pair
    gaps = [abs(x[a] - x[b]) for x in xs if a in x and b in x]
    assert np.mean(gaps[-10:]) < 0.7 * np.mean(gaps[:10])


# -- Azure Kinect ------------------------------------------------------------------------------
def test_k4abt_mapping_on_generated_skeleton():
    rng = np.random.default_rng(0)
    pos = rng.uniform(-800, 800, size=(4, 32, 3)).astype(np.float32)
    pos[..., 2] += 2500.0
    ntu = k4abt_to_ntu(pos)
    assert ntu.shape == (4, 25, 3) and ntu.dtype == np.float32
    names = dict(zip(["SpineBase", "SpineMid", "Neck", "Head", "ShoulderLeft", "HandTipRight", "SpineShoulder",
                      "FootRight"], [0, 1, 2, 3, 4, 23, 20, 19], strict=True))  # fmt: skip
    expect = {"SpineBase": "PELVIS", "SpineMid": "SPINE_NAVEL", "Neck": "NECK", "Head": "HEAD",
              "ShoulderLeft": "SHOULDER_LEFT", "HandTipRight": "HANDTIP_RIGHT", "SpineShoulder": "SPINE_CHEST",
              "FootRight": "FOOT_RIGHT"}  # fmt: skip
    for ntu_name, k_name in expect.items():
        k = K4ABT_JOINTS.index(k_name)
        j = names[ntu_name]
        # mm -> m; x right/y down -> x left/y up; z unchanged
        assert ntu[:, j] == pytest.approx(pos[:, k] * np.array([-1e-3, -1e-3, 1e-3]), rel=1e-6)
    # a proper rotation: no side is mirrored (left stays left after the axis change)
    assert len(set(NTU_FROM_K4ABT)) == 25
    lefts = [i for i, n in enumerate(NTU_FROM_K4ABT) if n.endswith("_LEFT")]
    assert lefts == [4, 5, 6, 7, 12, 13, 14, 15, 21, 22]
    conf = np.array([0, 1, 2, 3] * 8)
    vis = k4abt_visibility_to_ntu(conf)
    assert vis[0] == 0.0 and vis[1] == 0.5 and vis.max() == 1.0
    with pytest.raises(ValueError, match="32, 3"):
        k4abt_to_ntu(np.zeros((25, 3)))


def test_kinect_source_frames_from_generated_bodies():
    rng = np.random.default_rng(1)

    def bodies():
        for _ in range(3):
            yield [(7, rng.normal(size=(32, 3)) * 100, np.full(32, 2)), (3, rng.normal(size=(32, 3)) * 100, np.ones(32))]

    with SourceKinect(0, 30.0, bodies=bodies) as src:
        frames = list(src)
    assert len(frames) == 3 and src.name == "kinect_azure0"
    assert [p.track_id for p in frames[0].people] == [3, 7]
    assert frames[0].people[0].visibility.max() == 0.5 and frames[0].people[1].visibility.min() == 1.0
    assert frames[1].timestamp_s >= frames[0].timestamp_s


def test_kinect_missing_package_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "pykinect_azure", None)  # import fails as if not installed
    with pytest.raises(SourceError) as info:
        Source.from_kinect_azure()
    assert str(info.value) == INSTALL_HINT and "pip install pykinect_azure" in INSTALL_HINT


def test_frames_contract_rejects_wrong_shapes():
    from edge.frames import PersonPose

    with pytest.raises(ValueError, match="joints"):
        PersonPose(0, np.zeros((20, 3), np.float32), np.zeros(25, np.float32))
