"""Pipeline runs that must end cleanly: a camera that dies mid-stream, stop() from another thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from runtime_helpers import collect, enroll_file, playlist, store_bytes, sync, utd

from edge.client import subscribe
from edge.errors import SourceLostError
from edge.pipeline import Pipeline, PipelineConfig
from edge.publisher import Publisher, PublisherConfig
from edge.runtime import open_model, open_support_store
from edge.skeleton_files import load_skeleton_file
from edge.sources import RecordingSource

pytestmark = pytest.mark.realdata


class DyingCamera(RecordingSource):
    """A recording that fails like a camera whose reads time out (edge.video.CameraReader's error)."""

    def _frames(self):
        for i, frame in enumerate(super()._frames()):
            if i == 40:
                raise SourceLostError("camera 0 delivered no frame within 3.0 s")
            yield frame


def test_dead_camera_ends_the_run_with_its_error(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    with open_model(tiny_onnx, threads=1) as engine, \
            Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="cam0")) as pub, \
            subscribe(pub.endpoint, topics=["crossglg.v1.hb."]) as sub:
        sync(pub, sub)
        store = open_support_store(tmp_path / "store", engine)
        enroll_file(store, engine, utd(data_dir, 23, 1), "walk")
        before = store_bytes(store.root)
        source = DyingCamera("camera0", load_skeleton_file(utd(data_dir, 23, 2)))
        t0 = time.monotonic()
        result = Pipeline(source, engine, store, pub, PipelineConfig(realtime=True)).run()
        assert time.monotonic() - t0 < 10
        assert result.reason == "error" and result.exit_code == 1
        assert result.error == "camera 0 delivered no frame within 3.0 s"
        assert result.stats["frames_in"] == 40
        pub.heartbeat()
        status = [m.payload["status"] for m in collect(sub, 0.3)][-1]
    assert status["state"] == "error" and "no frame" in status["error"]
    assert store_bytes(tmp_path / "store") == before


def test_stop_from_another_thread_ends_a_realtime_run(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    playlist([utd(data_dir, 23, s) for s in (2, 3, 4)], tmp_path / "long.npz")
    with open_model(tiny_onnx, threads=1) as engine, Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as pub:
        store = open_support_store(tmp_path / "store", engine)
        from edge.sources import Source

        pipe = Pipeline(Source.from_skeleton_file(tmp_path / "long.npz"), engine, store, pub,
                        PipelineConfig(realtime=True))  # fmt: skip
        threading.Timer(1.0, pipe.stop).start()
        t0 = time.monotonic()
        result = pipe.run()
    assert result.reason == "stopped" and result.exit_code == 0 and time.monotonic() - t0 < 8
    assert 0 < result.stats["frames_in"] < 200  # ~1 s of a ~15 s replay
