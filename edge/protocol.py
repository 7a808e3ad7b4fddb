"""The ZeroMQ message schema shared by the publisher, the client, the TUI and third-party apps.

Wire format: a two-part ZeroMQ message ``[topic, payload]``; both parts UTF-8, the payload a JSON
object. Topics (``<source>`` names the camera/stream, ``[A-Za-z0-9_-]{1,64}``):

- ``crossglg.v1.label.<source>``: one per classified window (or gate decision) per track.
- ``crossglg.v1.event.<source>``: a track's smoothed state changed (start / end / change).
- ``crossglg.v1.hb.<source>``: heartbeat, 1 Hz, with a snapshot of every track for late joiners.
- ``crossglg.v1.pose.<source>``: the live skeletons (throttled, <= 10 Hz) for skeleton views.

Enrollment progress travels on the event topic as ``event: "enroll"`` (see :data:`ENROLL_PHASES`).

Sequence numbers are **per topic** and start at 0 for each publisher ``session`` (a random id
drawn at start-up): a subscriber of one topic can detect loss as a gap in ``seq`` and a restart as
a new ``session``. ``docs/protocol.md`` is the human-readable copy of this module; keep both in step.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

SCHEMA = "crossglg.v1"
SCHEMA_VERSION = 1
TOPIC_PREFIX = SCHEMA + "."
KINDS = ("label", "event", "hb", "pose")
STATES = ("action", "none", "unknown", "no_person")
REASONS = ("low_visibility", "idle", "warming_up", "below_threshold", "low_margin", "no_person", "no_support", "confirming")
EVENT_TYPES = ("start", "end", "change", "enroll")
ENROLL_PHASES = ("countdown", "recording", "processing", "done", "failed")
POSE_SPACES = ("image", "camera")
NUM_JOINTS = 25
SOURCE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_PAYLOAD_BYTES = 64 * 1024

_NUM = (int, float)


class ProtocolError(ValueError):
    """A message does not follow the schema; the text names the topic and field."""


@dataclass(frozen=True)
class Message:
    """A decoded, validated message: ``kind`` in :data:`KINDS`, ``payload`` the JSON object."""

    topic: str
    kind: str
    source: str
    payload: dict[str, Any]

    @property
    def seq(self) -> int:
        return int(self.payload["seq"])

    def to_json_line(self) -> str:
        """One JSON line ``{"topic": ..., "payload": {...}}`` (what ``crossglg-edge listen`` prints)."""
        return json.dumps({"topic": self.topic, "payload": self.payload}, ensure_ascii=False, separators=(",", ":"))


def topic_for(kind: str, source: str) -> str:
    """``crossglg.v1.<kind>.<source>``; raises ``ValueError`` on an unknown kind or unsafe source."""
    if kind not in KINDS:
        raise ValueError(f"topic kind must be one of {KINDS}, got {kind!r}")
    if not SOURCE_RE.match(source):
        raise ValueError(f"source name must match {SOURCE_RE.pattern} (used in topics), got {source!r}")
    return f"{TOPIC_PREFIX}{kind}.{source}"


def parse_topic(topic: str) -> tuple[str, str]:
    """``crossglg.v1.<kind>.<source>`` -> ``(kind, source)``; raises :class:`ProtocolError`."""
    if not topic.startswith(TOPIC_PREFIX):
        raise ProtocolError(f"topic {topic!r}: expected prefix {TOPIC_PREFIX!r}")
    rest = topic[len(TOPIC_PREFIX) :]
    kind, _, source = rest.partition(".")
    if kind not in KINDS:
        raise ProtocolError(f"topic {topic!r}: kind {kind!r} is not one of {KINDS}")
    if not SOURCE_RE.match(source):
        raise ProtocolError(f"topic {topic!r}: source {source!r} does not match {SOURCE_RE.pattern}")
    return kind, source


def encode(topic: str, payload: dict[str, Any]) -> list[bytes]:
    """Multipart frames ``[topic, json]``. NaN/inf are not JSON: they are refused here (ValueError).

    A payload over :data:`MAX_PAYLOAD_BYTES` raises :class:`ProtocolError`: :func:`decode` refuses
    it, so sending it would lose it at every subscriber without a word.
    """
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(body) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"topic {topic!r}: payload of {len(body)} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte "
                            "limit subscribers accept")  # fmt: skip
    return [topic.encode("utf-8"), body]


def decode(frames: list[bytes], validate: bool = True) -> Message:
    """Multipart frames -> :class:`Message`; raises :class:`ProtocolError` on anything malformed."""
    if len(frames) != 2:
        raise ProtocolError(f"expected 2 message parts [topic, payload], got {len(frames)}")
    try:
        topic = frames[0].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"topic is not UTF-8: {exc}") from None
    kind, source = parse_topic(topic)
    if len(frames[1]) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"topic {topic!r}: payload of {len(frames[1])} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        payload = json.loads(frames[1].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"topic {topic!r}: payload is not UTF-8 JSON: {exc}") from None
    if validate:
        validate_payload(topic, payload)
    return Message(topic=topic, kind=kind, source=source, payload=payload)


# ---- validation -------------------------------------------------------------------------------


def _fail(topic: str, field: str, expected: str, value: Any) -> None:
    raise ProtocolError(f"topic {topic!r}: field {field!r}: expected {expected}, got {value!r}")


def _req(topic: str, p: dict, field: str, types: tuple, expected: str, nullable: bool = False) -> Any:
    if field not in p:
        raise ProtocolError(f"topic {topic!r}: missing field {field!r} ({expected})")
    v = p[field]
    if v is None and nullable:
        return v
    # bool is an int subclass: never accept it where a number is meant
    if isinstance(v, bool) and bool not in types:
        _fail(topic, field, expected, v)
    if not isinstance(v, types):
        _fail(topic, field, expected, v)
    if isinstance(v, float) and not math.isfinite(v):
        _fail(topic, field, "a finite number", v)
    return v


def _check_state(topic: str, p: dict, prefix: str = "") -> None:
    state = _req(topic, p, "state", (str,), f"one of {STATES}")
    if state not in STATES:
        _fail(topic, prefix + "state", f"one of {STATES}", state)
    label = _req(topic, p, "label", (str,), "a string or null", nullable=True)
    if state == "action" and not label:
        _fail(topic, prefix + "label", "a label when state is 'action'", label)
    _req(topic, p, "track_id", (int,), "an integer track id or null", nullable=True)
    _req(topic, p, "score", _NUM, "a number or null", nullable=True)


def validate_payload(topic: str, p: Any) -> None:
    """Check a payload against the schema for its topic; raises :class:`ProtocolError`.

    Unknown extra fields are allowed (forward compatible); known fields must have the right type.
    """
    kind, source = parse_topic(topic)
    if not isinstance(p, dict):
        _fail(topic, "<payload>", "a JSON object", type(p).__name__)
    if p.get("schema") != SCHEMA:
        _fail(topic, "schema", repr(SCHEMA), p.get("schema"))
    version = _req(topic, p, "schema_version", (int,), "an integer")
    if version != SCHEMA_VERSION:
        _fail(topic, "schema_version", str(SCHEMA_VERSION), version)
    if _req(topic, p, "kind", (str,), "the topic's kind") != kind:
        _fail(topic, "kind", repr(kind), p["kind"])
    if _req(topic, p, "source", (str,), "the topic's source") != source:
        _fail(topic, "source", repr(source), p["source"])
    _req(topic, p, "session", (str,), "a session id string")
    seq = _req(topic, p, "seq", (int,), "a non-negative integer")
    if seq < 0:
        _fail(topic, "seq", "a non-negative integer", seq)
    _req(topic, p, "t_pub", _NUM, "seconds since the epoch")
    _req(topic, p, "model_id", (str,), "a string")
    _req(topic, p, "backend", (str,), "a string")
    if kind == "label":
        _check_label(topic, p)
    elif kind == "event" and p.get("event") == "enroll":
        _check_enroll(topic, p)
    elif kind == "pose":
        _check_pose(topic, p)
    elif kind == "event":
        _check_state(topic, p)
        _req(topic, p, "t_frame", _NUM, "the frame time in seconds")
        ev = _req(topic, p, "event", (str,), f"one of {EVENT_TYPES}")
        if ev not in EVENT_TYPES:
            _fail(topic, "event", f"one of {EVENT_TYPES}", ev)
        prev = _req(topic, p, "previous", (dict,), "an object {state, label}")
        if prev.get("state") not in STATES:
            _fail(topic, "previous.state", f"one of {STATES}", prev.get("state"))
    else:
        _req(topic, p, "interval_s", _NUM, "the heartbeat interval in seconds")
        _req(topic, p, "uptime_s", _NUM, "seconds since the publisher started")
        stats = _req(topic, p, "stats", (dict,), "an object of counters")
        for key in ("sent", "dropped"):
            _req(topic, stats, key, (int,), "an integer counter")
        tracks = _req(topic, p, "tracks", (list,), "a list of track snapshots")
        for i, t in enumerate(tracks):
            if not isinstance(t, dict):
                _fail(topic, f"tracks[{i}]", "an object", t)
            _check_state(topic, t, prefix=f"tracks[{i}].")


def _check_label(topic: str, p: dict) -> None:
    _check_state(topic, p)
    _req(topic, p, "t_frame", _NUM, "the frame time in seconds")
    _req(topic, p, "margin", _NUM, "a number or null", nullable=True)
    reason = _req(topic, p, "reason", (str,), f"one of {REASONS} or null", nullable=True)
    if reason is not None and reason not in REASONS:
        _fail(topic, "reason", f"one of {REASONS} or null", reason)
    topk = _req(topic, p, "topk", (list,), "a list of {label, score}")
    for i, item in enumerate(topk):
        if not isinstance(item, dict) or not isinstance(item.get("label"), str):
            _fail(topic, f"topk[{i}]", "an object {label: str, score: number}", item)
        _req(topic, item, "score", _NUM, "a number")
    lat = _req(topic, p, "latency_ms", (dict,), "an object stage -> milliseconds")
    for k, v in lat.items():
        if isinstance(v, bool) or not isinstance(v, _NUM) or not math.isfinite(v):
            _fail(topic, f"latency_ms.{k}", "a finite number", v)


def _check_enroll(topic: str, p: dict) -> None:
    phase = _req(topic, p, "phase", (str,), f"one of {ENROLL_PHASES}")
    if phase not in ENROLL_PHASES:
        _fail(topic, "phase", f"one of {ENROLL_PHASES}", phase)
    _req(topic, p, "job", (str,), "the enrollment job id")
    label = _req(topic, p, "label", (str,), "the label being enrolled")
    if not label:
        _fail(topic, "label", "non-empty text", label)
    _req(topic, p, "seconds_left", _NUM, "seconds left in this phase, or null", nullable=True)
    _req(topic, p, "message", (str,), "a message (empty when there is nothing to say)")
    _req(topic, p, "track_id", (int,), "the recorded track id or null", nullable=True)
    _req(topic, p, "t_frame", _NUM, "the frame time in seconds")


def _check_pose(topic: str, p: dict) -> None:
    _req(topic, p, "t_frame", _NUM, "the frame time in seconds")
    space = _req(topic, p, "space", (str,), f"one of {POSE_SPACES}")
    if space not in POSE_SPACES:
        _fail(topic, "space", f"one of {POSE_SPACES}", space)
    size = _req(topic, p, "image_size", (list,), "[width, height] or null", nullable=True)
    if size is not None and (len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                        for v in size)):
        _fail(topic, "image_size", "[width, height] positive integers or null", size)
    tracks = _req(topic, p, "tracks", (list,), "a list of {track_id, xy, visibility}")
    for i, t in enumerate(tracks):
        where = f"tracks[{i}]"
        if not isinstance(t, dict):
            _fail(topic, where, "an object", t)
        if not isinstance(t.get("track_id"), int) or isinstance(t.get("track_id"), bool):
            _fail(topic, f"{where}.track_id", "an integer", t.get("track_id"))
        xy, vis = t.get("xy"), t.get("visibility")
        if not isinstance(xy, list) or len(xy) != NUM_JOINTS:
            _fail(topic, f"{where}.xy", f"a list of {NUM_JOINTS} [x, y] points (null when missing)", xy)
        for j, pt in enumerate(xy):
            if pt is not None and not (isinstance(pt, list) and len(pt) == 2 and all(
                    isinstance(v, _NUM) and not isinstance(v, bool) and math.isfinite(v) for v in pt)):
                _fail(topic, f"{where}.xy[{j}]", "[x, y] finite numbers or null", pt)
        if not isinstance(vis, list) or len(vis) != NUM_JOINTS or not all(
                isinstance(v, _NUM) and not isinstance(v, bool) and 0.0 <= v <= 1.0 for v in vis):
            _fail(topic, f"{where}.visibility", f"a list of {NUM_JOINTS} numbers in [0, 1]", vis)
