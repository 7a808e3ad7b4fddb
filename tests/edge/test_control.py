"""The control channel over real ZeroMQ REQ/REP sockets, against a real Pipeline (tiny ONNX model,
real UTD-MHAD recordings, real publisher): ops, validation, timeouts, live enrollment."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import zmq
from runtime_helpers import collect, enroll_file, playlist, sync, utd
from shared_helpers import free_port

from edge.client import subscribe
from edge.control import ControlClient, ControlConfig, ControlError, ControlServer, ControlTimeout
from edge.pipeline import Pipeline, PipelineConfig
from edge.publisher import Publisher, PublisherConfig
from edge.runtime import open_model, open_support_store
from edge.sources import Source

ANY = "tcp://127.0.0.1:*"
pytestmark = pytest.mark.realdata


@pytest.fixture
def engine(tiny_onnx: Path):
    with open_model(tiny_onnx, threads=1) as e:
        yield e


def test_ops_status_list_rename_remove_and_errors(tmp_path: Path, data_dir: Path, engine) -> None:
    store = open_support_store(tmp_path / "store", engine)
    enroll_file(store, engine, utd(data_dir, 23, 1), "walk")
    enroll_file(store, engine, utd(data_dir, 27, 1), "squat")
    source = Source.from_skeleton_file(utd(data_dir, 23, 2))
    with Publisher(PublisherConfig(endpoint=ANY)) as pub:
        pipe = Pipeline(source, engine, store, pub, PipelineConfig())
        with ControlServer(pipe, ControlConfig(endpoint=ANY)) as server, ControlClient(server.endpoint, 3.0) as ctl:
            server.start()
            assert server.endpoint.startswith("tcp://127.0.0.1:")
            assert ctl.ping()
            st = ctl.status()
            assert st["ok"] and st["backend"] == "onnxruntime" and st["model_id"] == engine.meta.model_id
            assert {a["label"]: a["exemplars"] for a in st["actions"]} == {"walk": 1, "squat": 1}
            assert {"state", "fps_source", "fps_pipeline", "dropped"} <= set(st)
            assert [a["label"] for a in ctl.list()] == ["walk", "squat"]

            assert ctl.rename("squat", "deep squat")["slug"] == "squat"
            assert [a["label"] for a in ctl.list()] == ["walk", "deep squat"]
            with pytest.raises(ControlError, match="already called"):
                ctl.rename("walk", "deep squat")
            assert ctl.remove("walk")["slug"] == "walk"
            assert [a["label"] for a in ctl.list()] == ["deep squat"]
            assert [a.label for a in open_support_store(tmp_path / "store", engine).actions] == ["deep squat"]

            bad = [
                ({"op": "ping"}, "'v'"), ({"v": 2, "op": "ping"}, "'v'"), ({"v": 1, "op": "explode"}, "'op'"),
                ({"v": 1, "op": "remove"}, "'label'"), ({"v": 1, "op": "remove", "label": "nope"}, "no enrolled"),
                ({"v": 1, "op": "enroll", "label": "x", "countdown_s": "soon"}, "countdown_s"),
                ({"v": 1, "op": "enroll", "label": "x", "max_seconds": 0.1}, "max_seconds"),
            ]
            for req, why in bad:
                reply = _raw(server.endpoint, json.dumps(req).encode())
                assert reply["ok"] is False and why in reply["error"], (req, reply)
            assert ctl.request("remove", label="nope")["ok"] is False  # the client returns ok: false as is
            assert ctl.request("remove", label="deep squat", by="file")["ok"] is False

            # "squat" is now the slug of "deep squat" and the label of a new action: refused, then by field
            enroll_file(pipe.store, engine, utd(data_dir, 27, 2), "squat")
            assert [(a.label, a.slug) for a in pipe.store.actions] == [("deep squat", "squat"), ("squat", "squat-2")]
            with pytest.raises(ControlError, match="names two actions"):
                ctl.remove("squat")
            assert len(pipe.store.actions) == 2
            assert ctl.remove("squat", by="label")["slug"] == "squat-2"
            assert [(a.label, a.slug) for a in pipe.store.actions] == [("deep squat", "squat")]
            assert _raw(server.endpoint, b"\xff not json")["ok"] is False


def _raw(endpoint: str, body: bytes) -> dict:
    s = zmq.Context.instance().socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    try:
        s.send(body)
        assert s.poll(3000)
        return json.loads(s.recv())
    finally:
        s.close()


def test_client_times_out_and_recovers_when_the_runtime_appears(tmp_path: Path, data_dir: Path, engine) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    client = ControlClient(endpoint, timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(ControlTimeout):
        client.status()
    assert time.monotonic() - t0 < 2.0 and client.timeouts == 1
    assert client.ping() is False  # never raises
    store = open_support_store(tmp_path / "store", engine)
    with Publisher(PublisherConfig(endpoint=ANY)) as pub:
        pipe = Pipeline(Source.from_skeleton_file(utd(data_dir, 23, 2)), engine, store, pub)
        with ControlServer(pipe, ControlConfig(endpoint=endpoint)) as server:
            server.start()
            assert client.ping() is True  # the same client: its REQ socket was recreated
            assert client.list() == []
    client.close()


def test_non_loopback_control_needs_curve_or_insecure(tmp_path: Path, data_dir: Path, engine) -> None:
    store = open_support_store(tmp_path / "store", engine)
    with Publisher(PublisherConfig(endpoint=ANY)) as pub:
        pipe = Pipeline(Source.from_skeleton_file(utd(data_dir, 23, 2)), engine, store, pub)
        with pytest.raises(ValueError, match="CURVE"):
            ControlServer(pipe, ControlConfig(endpoint="tcp://0.0.0.0:*"))


def test_enroll_from_the_live_stream_publishes_progress_and_recognises(tmp_path: Path, data_dir: Path, engine) -> None:
    """A realtime replay stands in for the camera: enroll over the control channel, watch the
    enroll events, then the new action is in the store and in status."""
    replay = tmp_path / "live.npz"
    playlist([utd(data_dir, 27, 2)], replay)
    store = open_support_store(tmp_path / "store", engine)
    enroll_file(store, engine, utd(data_dir, 23, 1), "walk")
    cfg = PipelineConfig(realtime=True, max_seconds=20)
    with Publisher(PublisherConfig(endpoint=ANY, source="live")) as pub, \
            subscribe(pub.endpoint, topics=["crossglg.v1.event.", "crossglg.v1.pose.", "crossglg.v1.hb."]) as sub:
        sync(pub, sub)
        pipe = Pipeline(Source.from_skeleton_file(replay), engine, store, pub, cfg)
        with ControlServer(pipe, ControlConfig(endpoint=ANY)) as server, ControlClient(server.endpoint, 3.0) as ctl:
            server.start()
            pipe.start()
            reply = ctl.enroll("squat", countdown_s=0.5, max_seconds=3.5)
            assert reply["ok"] and reply["job"]
            with pytest.raises(ControlError, match="already running"):
                ctl.enroll("other")
            result = pipe.wait(timeout=30)
            assert result is not None and result.reason == "source_end", result
            msgs = collect(sub)
            actions = ctl.list()
        enroll = [m.payload for m in msgs if m.kind == "event" and m.payload["event"] == "enroll"]
        phases = [p["phase"] for p in enroll]
        assert phases[0] == "countdown" and phases[-1] == "done", phases
        assert phases.index("recording") < phases.index("processing") < phases.index("done")
        assert all(p["job"] == reply["job"] and p["label"] == "squat" for p in enroll)
        assert {a["label"]: a["exemplars"] for a in actions} == {"walk": 1, "squat": 1}
        poses = [m.payload for m in msgs if m.kind == "pose"]
        assert poses and poses[0]["space"] == "camera" and len(poses[0]["tracks"][0]["xy"]) == 25
        # throttled: at most ~10 per second of replay
        span = poses[-1]["t_frame"] - poses[0]["t_frame"]
        assert len(poses) <= 10 * span + 2


def test_enroll_fails_cleanly_when_nobody_moves(tmp_path: Path, data_dir: Path, engine) -> None:
    import numpy as np

    from edge.skeleton_files import load_skeleton_file

    still = np.repeat(load_skeleton_file(utd(data_dir, 23, 2)).joints[:1], 150, axis=0)  # 5 s, frozen pose
    np.savez(tmp_path / "still.npz", joints=still, fps=np.float64(30.0))
    store = open_support_store(tmp_path / "store", engine)
    with Publisher(PublisherConfig(endpoint=ANY)) as pub, subscribe(pub.endpoint, topics=["crossglg.v1.event.", "crossglg.v1.hb."]) as sub:
        sync(pub, sub)
        pipe = Pipeline(Source.from_skeleton_file(tmp_path / "still.npz"), engine, store, pub,
                        PipelineConfig(realtime=True, max_seconds=20))
        pipe.start()
        pipe.start_enroll("statue", countdown_s=0.2, max_seconds=2.0)
        assert pipe.wait(timeout=30) is not None
        enroll = [m.payload for m in collect(sub) if m.payload.get("event") == "enroll"]
    assert enroll[-1]["phase"] == "failed" and "no motion" in enroll[-1]["message"]
    assert store.actions == []


def test_curve_control_channel_needs_the_server_key(tmp_path: Path, data_dir: Path, engine) -> None:
    from edge.keys import generate_keypair

    public, secret = generate_keypair(tmp_path / "keys", "server")
    store = open_support_store(tmp_path / "store", engine)
    with Publisher(PublisherConfig(endpoint=ANY)) as pub:
        pipe = Pipeline(Source.from_skeleton_file(utd(data_dir, 23, 2)), engine, store, pub)
        cfg = ControlConfig(endpoint="tcp://0.0.0.0:*", curve_secret_key=str(secret))  # beyond loopback: CURVE
        with ControlServer(pipe, cfg) as server:
            server.start()
            port = server.endpoint.rsplit(":", 1)[1]
            with ControlClient(f"tcp://127.0.0.1:{port}", 3.0, server_public_key=public) as ctl:
                assert ctl.ping() and ctl.list() == []
            with ControlClient(f"tcp://127.0.0.1:{port}", 0.5) as plain:  # no key: no handshake, no reply
                assert plain.ping() is False
