"""Real ZeroMQ sockets on 127.0.0.1 (random ports): schema, sequence numbers, slow subscribers, CURVE."""

from __future__ import annotations

import os
import stat

import pytest
import zmq
from runtime_helpers import sync

from edge import protocol
from edge.client import subscribe
from edge.keys import generate_keypair, load_keypair
from edge.publisher import Publisher, PublisherConfig
from edge.server_socket import is_local_endpoint

ANY_PORT = "tcp://127.0.0.1:*"


def _label(pub: Publisher, i: int, track_id: int = 1, pad: int = 0) -> bool:
    return pub.publish_label(
        track_id=track_id, state="action", label="wave", score=0.9, margin=0.3,
        topk=[("wave", 0.9), ("clap", 0.6)], t_frame=i / 30.0, latency_ms={"model": 19.5, "total": 25.0},
        extra={"pad": "x" * pad} if pad else None,
    )


def test_bind_defaults_to_loopback_and_port_zero_resolves() -> None:
    assert PublisherConfig().endpoint == "tcp://127.0.0.1:5556"
    with Publisher(PublisherConfig(endpoint=ANY_PORT)) as pub:
        assert pub.endpoint.startswith("tcp://127.0.0.1:") and not pub.endpoint.endswith(":*")
    assert is_local_endpoint("ipc:///tmp/x") and not is_local_endpoint("tcp://0.0.0.0:5556")


def test_non_loopback_without_curve_needs_insecure() -> None:
    with pytest.raises(ValueError, match="insecure"):
        Publisher(PublisherConfig(endpoint="tcp://0.0.0.0:*"))
    with pytest.warns(UserWarning, match="CURVE is off"), Publisher(PublisherConfig(endpoint="tcp://0.0.0.0:*", insecure=True)):
        pass


def test_schema_and_gapless_seq_for_fast_subscriber() -> None:
    n = 300  # below SNDHWM/RCVHWM: nothing may be dropped
    cfg = PublisherConfig(endpoint=ANY_PORT, source="cam0", model_id="m-1", backend="onnxruntime")
    with Publisher(cfg) as pub, subscribe(pub.endpoint, topics=["crossglg.v1."], timeout=2.0, strict=True) as sub:
        sync(pub, sub)
        for i in range(n):
            assert _label(pub, i)
        pub.publish_event(track_id=1, event="start", state="action", label="wave", score=0.9, t_frame=1.0)
        got = []
        for msg in sub:
            got.append(msg)
            if msg.kind == "event":
                break
    labels = [m for m in got if m.kind == "label"]
    assert len(labels) == n
    seqs = [m.seq for m in labels]
    assert seqs == list(range(seqs[0], seqs[0] + n))  # per-topic, no gaps
    assert seqs[0] == 0  # label topic starts at 0 even though heartbeats went first
    p = labels[0].payload
    assert (p["schema"], p["schema_version"], p["source"], p["model_id"], p["backend"]) == (
        "crossglg.v1", 1, "cam0", "m-1", "onnxruntime")
    assert p["topk"][0] == {"label": "wave", "score": 0.9} and p["latency_ms"]["model"] == 19.5
    assert labels[0].topic == "crossglg.v1.label.cam0" and got[-1].topic == "crossglg.v1.event.cam0"
    assert sub.missed == 0 and sub.invalid == 0
    assert pub.stats["dropped"] == 0


def test_stalled_subscriber_never_blocks_and_loss_is_visible() -> None:
    total = 20_000
    ctx = zmq.Context.instance()
    with Publisher(PublisherConfig(endpoint=ANY_PORT, sndhwm=100)) as pub:
        stalled = ctx.socket(zmq.SUB)
        stalled.setsockopt(zmq.RCVHWM, 10)
        stalled.setsockopt(zmq.LINGER, 0)
        stalled.setsockopt(zmq.SUBSCRIBE, b"")
        stalled.connect(pub.endpoint)
        with subscribe(pub.endpoint, rcvhwm=10) as watcher:  # same settings, read only at the end
            sync(pub, watcher)
            # ~2 KB each: 40 MB in total, far beyond what HWMs plus kernel socket buffers can hold
            completed = sum(1 for i in range(total) if _label(pub, i, pad=2000) or True)
            assert completed == total  # every send returned (NOBLOCK): nothing blocked or raised
            assert pub.stats["sent"] + pub.stats["dropped"] >= total
            # read what the bounded queues kept (until 0.5 s of silence)
            labels = [m for m in iter(lambda: watcher.recv(timeout=0.5), None) if m.kind == "label"]
            assert 0 < len(labels) < total / 2  # the stalled subscriber's queue is bounded
            # the next message that gets through reveals the loss as a seq gap, counted exactly
            _label(pub, total)
            late = watcher.recv(timeout=2.0)
            assert late is not None and late.seq == total
            assert watcher.missed == total - len(labels)
        stalled.close(linger=0)


def test_heartbeat_rate_and_snapshot() -> None:
    with Publisher(PublisherConfig(endpoint=ANY_PORT, heartbeat_s=1.0)) as pub:
        t0 = pub._next_hb
        beats = sum(pub.tick(t0 + k / 30.0) for k in range(30 * 10))  # 10 s of frames at 30 fps
        assert beats == 10
        # after a 90 s stall: one beat, not a burst of the 90 missed ones
        assert [pub.tick(t0 + 100.0 + d) for d in (0.0, 0.01, 0.5, 0.99, 1.0)] == [True, False, False, False, True]
    with Publisher(PublisherConfig(endpoint=ANY_PORT, heartbeat_s=0.1)) as pub, subscribe(
        pub.endpoint, topics=["crossglg.v1.hb."], timeout=2.0
    ) as sub:
        sync(pub, sub)
        _label(pub, 0, track_id=7)
        pub.set_status(fps=29.5)
        pub.start_heartbeat()
        hbs = [m for _, m in zip(range(5), sub, strict=False)]
    assert len(hbs) == 5 and [m.kind for m in hbs] == ["hb"] * 5
    snap = hbs[-1].payload
    assert snap["tracks"][0]["track_id"] == 7 and snap["tracks"][0]["label"] == "wave"
    assert snap["status"]["fps"] == 29.5 and snap["interval_s"] == 0.1
    assert [m.seq for m in hbs] == list(range(hbs[0].seq, hbs[0].seq + 5))


def test_curve_roundtrip(tmp_path) -> None:
    pub_key, sec_key = generate_keypair(tmp_path, "server")
    assert stat.S_IMODE(os.stat(sec_key).st_mode) == 0o600
    public, secret = load_keypair(sec_key)
    assert secret and load_keypair(pub_key) == (public, None)
    with pytest.raises(FileExistsError):
        generate_keypair(tmp_path, "server")
    cfg = PublisherConfig(endpoint=ANY_PORT, curve_secret_key=str(sec_key))
    with Publisher(cfg) as pub, subscribe(pub.endpoint, server_public_key=pub_key) as good, subscribe(
        pub.endpoint
    ) as plain:
        sync(pub, good)
        for i in range(20):
            _label(pub, i)
        got = [m for m in iter(lambda: good.recv(timeout=1.0), None) if m.kind == "label"]
        assert [m.seq for m in got] == list(range(20))  # encrypted, complete, in order
        assert plain.recv(timeout=0.3) is None  # no key: the CURVE handshake never completes


def test_protocol_validation_rejects_bad_payloads() -> None:
    topic = protocol.topic_for("label", "cam0")
    with Publisher(PublisherConfig(endpoint=ANY_PORT, source="cam0")) as pub:
        with pytest.raises(protocol.ProtocolError, match="'state'"):
            pub.publish_label(track_id=1, state="dancing", t_frame=0.0)
        with pytest.raises(protocol.ProtocolError, match="label"):
            pub.publish_label(track_id=1, state="action", label=None, t_frame=0.0)
    good = {
        "schema": "crossglg.v1", "schema_version": 1, "kind": "label", "source": "cam0", "session": "x", "seq": 0,
        "t_pub": 1.0, "model_id": "", "backend": "", "track_id": None, "state": "no_person", "label": None,
        "score": None, "margin": None, "reason": "no_person", "topk": [], "t_frame": 0.0, "latency_ms": {},
    }
    protocol.validate_payload(topic, good)
    for field, value in [("seq", -1), ("seq", True), ("schema_version", 2), ("source", "cam1"), ("score", "high")]:
        with pytest.raises(protocol.ProtocolError, match=field):
            protocol.validate_payload(topic, {**good, field: value})
    with pytest.raises(protocol.ProtocolError, match="missing field 'latency_ms'"):
        protocol.validate_payload(topic, {k: v for k, v in good.items() if k != "latency_ms"})
    with pytest.raises(protocol.ProtocolError):
        protocol.decode([b"crossglg.v1.label.cam0", b"{not json"])
    with pytest.raises(ValueError, match="source name"):
        protocol.topic_for("label", "../x")
    msg = protocol.decode(protocol.encode(topic, good))
    assert msg.kind == "label" and msg.source == "cam0"


def test_curve_allowed_clients_only(tmp_path) -> None:
    _, server_secret = generate_keypair(tmp_path / "server", "server")
    allowed_pub, allowed_secret = generate_keypair(tmp_path / "clients", "ui")
    _, stranger_secret = generate_keypair(tmp_path / "others", "stranger")
    cfg = PublisherConfig(endpoint=ANY_PORT, curve_secret_key=str(server_secret),
                          curve_allowed_clients=str(tmp_path / "clients"))
    server_public = tmp_path / "server" / "server.key"
    with Publisher(cfg) as pub, subscribe(
        pub.endpoint, server_public_key=server_public, client_secret_key=allowed_secret
    ) as ok, subscribe(pub.endpoint, server_public_key=server_public, client_secret_key=stranger_secret) as other:
        sync(pub, ok)
        _label(pub, 0)
        assert ok.recv(timeout=2.0) is not None
        assert other.recv(timeout=0.3) is None  # knows the server key, but is not on the list
    assert allowed_pub.exists()
