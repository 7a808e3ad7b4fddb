"""The JSON Schema files shipped in edge/schemas: valid 2020-12 schemas, in step with edge.protocol,
met by every message of a real replay (UTD-MHAD through the tiny ONNX model, real sockets) and by
the control channel's replies, and strict enough to reject broken payloads."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest
from runtime_helpers import collect, enroll_file, playlist, sync, utd
from schema_check import schema_errors, validator

import edge
from edge import protocol
from edge.client import subscribe
from edge.control import ControlClient, ControlConfig, ControlServer
from edge.matcher import MatcherConfig
from edge.pipeline import Pipeline, PipelineConfig
from edge.publisher import Publisher, PublisherConfig
from edge.runtime import open_model, open_support_store
from edge.schemas import MESSAGE_KINDS, SCHEMA_KINDS, load_schema, schema_dir, schema_path
from edge.sources import Source

ANY = "tcp://127.0.0.1:*"


def test_schema_files_ship_in_the_package_and_are_valid_2020_12() -> None:
    assert schema_dir() == Path(edge.__file__).parent / "schemas"
    assert sorted(p.stem for p in schema_dir().glob("*.json")) == sorted(SCHEMA_KINDS)
    for kind in SCHEMA_KINDS:
        schema = load_schema(kind)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"urn:crossglg:v1:{kind}"
        validator(kind)  # check_schema raises on an invalid schema
    with pytest.raises(ValueError, match="no JSON schema for 'video'"):
        schema_path("video")


def test_schemas_agree_with_edge_protocol() -> None:
    """The enums and limits in the files are the ones edge.protocol enforces (one contract)."""
    envelopes = [load_schema(k)["$defs"]["envelope"] for k in MESSAGE_KINDS]
    assert all(e == envelopes[0] for e in envelopes)  # the common part is copied, never edited in one place
    env = envelopes[0]["properties"]
    assert env["schema"]["const"] == protocol.SCHEMA and env["schema_version"]["const"] == protocol.SCHEMA_VERSION
    assert env["kind"]["enum"] == list(protocol.KINDS) and env["source"]["pattern"] == protocol.SOURCE_RE.pattern
    for kind in MESSAGE_KINDS:
        assert load_schema(kind)["properties"]["kind"]["const"] == kind
        if kind != "pose":
            assert load_schema(kind)["$defs"]["tracked_state"]["properties"]["state"]["enum"] == list(protocol.STATES)
    label = load_schema("label")["properties"]
    assert label["reason"]["enum"] == [*protocol.REASONS, None]
    event = load_schema("event")
    assert event["properties"]["event"]["enum"] == list(protocol.EVENT_TYPES)
    assert event["$defs"]["enroll"]["properties"]["phase"]["enum"] == list(protocol.ENROLL_PHASES)
    pose = load_schema("pose")["properties"]
    assert pose["space"]["enum"] == list(protocol.POSE_SPACES)
    assert pose["tracks"]["items"]["properties"]["xy"]["minItems"] == protocol.NUM_JOINTS


@pytest.mark.realdata
def test_every_message_of_a_real_replay_meets_its_schema(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    """Enroll two UTD-MHAD actions, replay other subjects' trials (with an enrollment from the live
    stream on the way): labels, state-change and enroll events, heartbeats and poses all validate."""
    replay = tmp_path / "replay.npz"
    playlist([utd(data_dir, 23, 2), utd(data_dir, 27, 2), utd(data_dir, 23, 3)], replay)
    with open_model(tiny_onnx, threads=1) as engine:
        store = open_support_store(tmp_path / "store", engine)
        enroll_file(store, engine, utd(data_dir, 23, 1), "walk")
        enroll_file(store, engine, utd(data_dir, 27, 1), "squat")
        # an untrained model: open-set rejection off, so actions (and state changes) do happen
        cfg = PipelineConfig(lossless=True, matcher=MatcherConfig(threshold=0.0, margin=0.0))
        with Publisher(PublisherConfig(endpoint=ANY, source="utd")) as pub, \
                subscribe(pub.endpoint, topics=[protocol.TOPIC_PREFIX], strict=True) as sub:
            sync(pub, sub)
            pipe = Pipeline(Source.from_skeleton_file(replay), engine, store, pub, cfg)
            pipe.start_enroll("walk again", countdown_s=0.5, max_seconds=2.0)
            result = pipe.run()
            msgs = collect(sub)
    assert result.reason == "source_end" and sub.missed == 0, result
    kinds = Counter(m.kind for m in msgs)
    events = Counter(m.payload["event"] for m in msgs if m.kind == "event")
    assert set(kinds) == set(MESSAGE_KINDS) and kinds["label"] >= 10, kinds
    assert events["enroll"] >= 3 and events["start"] >= 1, events  # both halves of the event schema
    states = Counter(m.payload["state"] for m in msgs if m.kind == "label")
    assert states["action"] and states["none"] + states["no_person"], states
    for m in msgs:
        assert schema_errors(m.topic, m.payload) == [], (m.topic, m.payload)


def _one_of_each(msgs: list) -> dict[str, dict]:
    """The first payload per kind, the enroll event kept apart as ``enroll``."""
    out: dict[str, dict] = {}
    for m in msgs:
        key = "enroll" if m.payload.get("event") == "enroll" else m.kind
        out.setdefault(key, m.payload)
    return out


def test_the_schemas_reject_broken_payloads() -> None:
    """Real published payloads, each broken in one way: the schema names the field, and so does
    edge.protocol (the runtime's own check) wherever it checks that field."""
    with Publisher(PublisherConfig(endpoint=ANY, source="cam0")) as pub, \
            subscribe(pub.endpoint, topics=[protocol.TOPIC_PREFIX]) as sub:
        sync(pub, sub)
        pub.publish_label(track_id=1, state="action", label="wave", score=0.8, margin=0.2, topk=[("wave", 0.8)],
                          t_frame=1.0, latency_ms={"model": 3.0}, extra={"motion": 0.1, "cosine": 0.8})
        pub.publish_event(track_id=1, event="start", state="action", label="wave", score=0.8, t_frame=1.0)
        pub.publish_enroll(job="j1", phase="recording", label="clap", t_frame=1.0, seconds_left=2.0)
        pub.publish_pose(t_frame=1.0, tracks=[(1, [[0.5, 0.5]] * 25, [1.0] * 25)], space="image", image_size=(640, 480))
        pub.heartbeat()
        good = _one_of_each(collect(sub, 0.3))
    assert sorted(good) == ["enroll", "event", "hb", "label", "pose"]
    topics = {k: protocol.topic_for("event" if k == "enroll" else k, "cam0") for k in good}
    for k, p in good.items():
        assert schema_errors(topics[k], p) == []

    def broken(key: str, path: tuple, value: object = KeyError) -> dict:
        p = copy.deepcopy(good[key])
        *outer, last = path
        node = p
        for part in outer:
            node = node[part]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
        return p

    cases = [  # (message, path, broken value or KeyError to delete, where the schema error points)
        ("label", ("state",), "dancing", "$.state"),
        ("label", ("label",), None, "$.label"),  # state is action: a label is required
        ("label", ("latency_ms",), KeyError, "$"),
        ("label", ("latency_ms", "model"), "fast", "$.latency_ms.model"),
        ("label", ("seq",), -1, "$.seq"),
        ("label", ("score",), True, "$.score"),  # a bool is not a number
        ("label", ("schema_version",), 2, "$.schema_version"),
        ("label", ("topk", 0, "score"), None, "$.topk[0].score"),
        ("label", ("reason",), "tired", "$.reason"),
        ("label", ("motion",), "lots", "$.motion"),
        ("event", ("previous", "state"), "asleep", "$.previous.state"),
        ("event", ("event",), "begin", "$.event"),
        ("enroll", ("phase",), "waiting", "$.phase"),
        ("enroll", ("label",), "", "$.label"),
        ("hb", ("stats", "sent"), 1.5, "$.stats.sent"),
        ("hb", ("tracks",), [{"track_id": 1, "state": "action", "label": None, "score": None, "t_frame": 0.0}],
         "$.tracks[0].label"),
        ("pose", ("tracks", 0, "xy"), [[0.5, 0.5]] * 24, "$.tracks[0].xy"),
        ("pose", ("tracks", 0, "visibility", 3), 1.5, "$.tracks[0].visibility[3]"),
        ("pose", ("image_size",), [640], "$.image_size"),
        ("pose", ("source",), "../x", "$.source"),
    ]
    for key, path, value, where in cases:
        errors = schema_errors(topics[key], broken(key, path, value))
        assert errors and any(e.startswith(where + ":") or e.startswith(where + "[") for e in errors), (
            key, path, errors)
    # the runtime's own validator refuses the same breakages of fields it knows
    for key, path, value, _ in cases:
        if path[0] in ("motion", "reason", "source") or (key, path[0]) == ("hb", "stats"):
            continue  # the topic carries the source; motion is an extra the runtime adds
        with pytest.raises(protocol.ProtocolError):
            protocol.validate_payload(topics[key], broken(key, path, value))


@pytest.mark.realdata
def test_control_requests_and_replies_meet_their_schemas(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    with open_model(tiny_onnx, threads=1) as engine:
        store = open_support_store(tmp_path / "store", engine)
        enroll_file(store, engine, utd(data_dir, 23, 1), "walk")
        enroll_file(store, engine, utd(data_dir, 27, 1), "squat")
        with Publisher(PublisherConfig(endpoint=ANY)) as pub:
            pipe = Pipeline(Source.from_skeleton_file(utd(data_dir, 23, 2)), engine, store, pub, PipelineConfig())
            with ControlServer(pipe, ControlConfig(endpoint=ANY)) as server, \
                    ControlClient(server.endpoint, 3.0) as ctl:
                server.start()
                requests = [("ping", {}), ("status", {}), ("list", {}), ("rename", {"label": "walk", "new_label": "march"}),
                            ("remove", {"label": "squat", "by": "label"}), ("enroll", {"label": "clap"}),
                            ("remove", {"label": "nothing"}), ("explode", {}), ("rename", {"label": "march"})]
                replies = []
                for op, fields in requests:
                    request = {"v": 1, "op": op, **fields}  # what ControlClient.request sends
                    valid = op != "explode" and not (op == "rename" and "new_label" not in fields)
                    assert (schema_errors("control-request", request) == []) == valid, request
                    replies.append(ctl.request(op, **fields))
    assert [r["ok"] for r in replies] == [True] * 6 + [False] * 3, replies
    for reply in replies:
        assert schema_errors("control-reply", reply) == [], reply
    assert replies[1]["actions"] and replies[4]["slug"] == "squat"
    assert schema_errors("control-reply", {"ok": False}) and schema_errors("control-reply", {"ok": True, "op": "list"})
    assert schema_errors("control-request", {"v": 2, "op": "ping"})
    assert schema_errors("control-request", json.loads('{"v": 1, "op": "enroll", "label": "   "}'))
