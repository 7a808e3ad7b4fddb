"""ZeroMQ PUB side of the edge runtime: labels, events and heartbeats (schema: :mod:`edge.protocol`).

Usage::

    pub = Publisher(PublisherConfig(source="cam0", model_id="crossglg-ntu-abc123", backend="onnxruntime"))
    pub.start_heartbeat()             # or call pub.tick() from the frame loop
    pub.publish_label(track_id=1, state="action", label="wave", score=0.83, margin=0.21,
                      topk=[("wave", 0.83), ("clap", 0.62)], t_frame=12.4, latency_ms={"model": 19.0})
    pub.publish_event(track_id=1, event="start", state="action", label="wave", score=0.83,
                      t_frame=12.4, previous=("none", None))
    pub.close()

Never blocks the pipeline: bounded SNDHWM, LINGER 0, ``zmq.NOBLOCK`` sends. A PUB socket drops
messages for a subscriber whose queue is full inside libzmq without telling the sender; subscribers
see that as gaps in the per-topic ``seq`` (the client counts them). ``stats['dropped']`` counts the
sends that failed locally (``zmq.Again``, a closed socket, or a message over the protocol's size
limit, also counted in ``stats['oversize']`` and logged: its ``seq`` is spent, so subscribers see a gap).

Security: binding beyond loopback without CURVE raises ``ValueError`` unless ``insecure=True``
(which warns). With ``curve_secret_key`` (a ``.key_secret`` file from :mod:`edge.keys`) the socket is a
CURVE server: traffic is encrypted and only clients that know the server's public key can connect;
``curve_allowed_clients`` (a directory of client ``.key`` files) further restricts who may connect.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import zmq

from . import protocol
from .server_socket import ServerSocket, check_exposure

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5556"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublisherConfig:
    """Publisher settings (all have safe defaults: loopback, bounded queues, 1 Hz heartbeat)."""

    endpoint: str = DEFAULT_ENDPOINT
    source: str = "default"
    model_id: str = ""
    backend: str = ""
    sndhwm: int = 1000
    heartbeat_s: float = 1.0
    curve_secret_key: str | None = None
    curve_allowed_clients: str | None = None
    insecure: bool = False
    count_subscribers: bool = False  # XPUB: see Publisher.wait_for_subscribers

    def __post_init__(self) -> None:
        protocol.topic_for("hb", self.source)  # validates the source name
        if self.sndhwm < 1:
            raise ValueError(f"publisher.sndhwm must be >= 1, got {self.sndhwm}")
        if self.heartbeat_s <= 0:
            raise ValueError(f"publisher.heartbeat_s must be > 0, got {self.heartbeat_s}")


class Publisher:
    """One PUB socket for one source. Thread-safe: sends are serialised by a lock."""

    def __init__(self, config: PublisherConfig | None = None, context: zmq.Context | None = None) -> None:
        self.config = cfg = config or PublisherConfig()
        check_exposure(
            cfg.endpoint, cfg.curve_secret_key is not None, cfg.insecure,
            f"publisher: {cfg.endpoint} is reachable beyond this machine and CURVE is off: anyone on the "
            "network can read the labels",
        )  # fmt: skip
        # XPUB (only when asked) hands us every subscription: how scripted runs wait for their listeners
        kind, options = (zmq.XPUB, {zmq.SNDHWM: cfg.sndhwm, zmq.XPUB_VERBOSER: 1}) if cfg.count_subscribers else (
            zmq.PUB, {zmq.SNDHWM: cfg.sndhwm})
        self._server = ServerSocket(
            context or zmq.Context.instance(), kind, cfg.endpoint, options=options,
            curve_secret_key=cfg.curve_secret_key, curve_allowed_clients=cfg.curve_allowed_clients,
            role="publisher", option="--pub",
        )  # fmt: skip
        self._sock = self._server.sock
        self.endpoint: str = self._server.endpoint
        self.session = secrets.token_hex(6)
        self._lock = threading.RLock()
        self._seq: dict[str, int] = {}
        self._tracks: dict[int, dict[str, Any]] = {}
        self._status: dict[str, Any] = {}
        self.stats = {"sent": 0, "dropped": 0, "oversize": 0, "heartbeats": 0}
        self.label_subscriptions = 0  # XPUB only: subscriptions that receive this source's labels
        self._t0 = time.monotonic()
        self._next_hb = self._t0
        self._closed = False

    # ---- sending --------------------------------------------------------------------------

    def _base(self, kind: str) -> tuple[str, dict[str, Any]]:
        topic = protocol.topic_for(kind, self.config.source)
        seq = self._seq.get(topic, 0)
        self._seq[topic] = seq + 1
        payload = {
            "schema": protocol.SCHEMA,
            "schema_version": protocol.SCHEMA_VERSION,
            "kind": kind,
            "source": self.config.source,
            "session": self.session,
            "seq": seq,
            "t_pub": time.time(),
            "model_id": self.config.model_id,
            "backend": self.config.backend,
        }
        return topic, payload

    def _send(self, topic: str, payload: dict[str, Any]) -> bool:
        try:
            frames = protocol.encode(topic, payload)
        except protocol.ProtocolError as exc:
            # too big for any subscriber: count and say so; its seq is spent, so subscribers see a gap
            self.stats["dropped"] += 1
            self.stats["oversize"] += 1
            log.warning("message not sent: %s", exc)
            return False
        if self._closed:
            self.stats["dropped"] += 1
            return False
        try:
            self._sock.send_multipart(frames, flags=zmq.NOBLOCK, copy=True)
        except zmq.Again:
            self.stats["dropped"] += 1
            return False
        self.stats["sent"] += 1
        return True

    def publish_label(
        self,
        *,
        track_id: int | None,
        state: str,
        label: str | None = None,
        score: float | None = None,
        margin: float | None = None,
        topk: Iterable[tuple[str, float]] = (),
        t_frame: float,
        latency_ms: Mapping[str, float] | None = None,
        reason: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> bool:
        """Publish one window's result on ``crossglg.v1.label.<source>``; returns False if dropped.

        Also updates the track snapshot carried by heartbeats.
        """
        with self._lock:
            topic, p = self._base("label")
            p.update(
                track_id=track_id,
                state=state,
                label=label,
                score=_num(score),
                margin=_num(margin),
                reason=reason,
                topk=[{"label": str(lbl), "score": float(s)} for lbl, s in topk],
                t_frame=float(t_frame),
                latency_ms={str(k): round(float(v), 3) for k, v in (latency_ms or {}).items()},
            )
            if extra:
                p.update({k: v for k, v in extra.items() if k not in p})
            protocol.validate_payload(topic, p)
            if track_id is not None:
                self._tracks[track_id] = {
                    "track_id": track_id, "state": state, "label": label, "score": _num(score), "t_frame": float(t_frame),
                }
            return self._send(topic, p)

    def publish_event(
        self,
        *,
        track_id: int | None,
        event: str,
        state: str,
        label: str | None,
        score: float | None,
        t_frame: float,
        previous: Sequence[str | None] = ("none", None),
        extra: Mapping[str, Any] | None = None,
    ) -> bool:
        """Publish a smoothed state change on ``crossglg.v1.event.<source>``.

        ``event``: ``start`` (none/unknown/no_person -> action), ``end`` (action -> not action) or
        ``change`` (anything else, e.g. action A -> action B). ``previous`` = ``(state, label)``.
        """
        with self._lock:
            topic, p = self._base("event")
            p.update(
                track_id=track_id, event=event, state=state, label=label, score=_num(score), t_frame=float(t_frame),
                previous={"state": previous[0], "label": previous[1]},
            )
            if extra:
                p.update({k: v for k, v in extra.items() if k not in p})
            protocol.validate_payload(topic, p)
            return self._send(topic, p)

    def publish_enroll(
        self, *, job: str, phase: str, label: str, t_frame: float, seconds_left: float | None = None,
        message: str = "", track_id: int | None = None,
    ) -> bool:
        """Publish enrollment progress on the event topic (``event: "enroll"``, ``phase`` in
        :data:`edge.protocol.ENROLL_PHASES`)."""
        with self._lock:
            topic, p = self._base("event")
            p.update(event="enroll", job=job, phase=phase, label=label, seconds_left=_num(seconds_left),
                     message=message, track_id=track_id, t_frame=float(t_frame))
            protocol.validate_payload(topic, p)
            return self._send(topic, p)

    def publish_pose(
        self, *, t_frame: float, tracks: Iterable[tuple[int, Any, Any]], space: str,
        image_size: tuple[int, int] | None = None,
    ) -> bool:
        """Publish the current skeletons on ``crossglg.v1.pose.<source>`` (the caller throttles).

        ``tracks``: ``(track_id, xy (25, 2), visibility (25,))``; ``xy`` is image-normalised
        ``[0, 1]`` (``space="image"``) or camera-frame metres (``space="camera"``); NaN -> null.
        """
        with self._lock:
            topic, p = self._base("pose")
            p.update(t_frame=float(t_frame), space=space,
                     image_size=None if image_size is None else [int(image_size[0]), int(image_size[1])],
                     tracks=[_pose_track(tid, xy, vis) for tid, xy, vis in tracks])
            protocol.validate_payload(topic, p)
            return self._send(topic, p)

    def set_status(self, **fields: Any) -> None:
        """Extra JSON-serialisable fields for the heartbeat's ``status`` object (e.g. ``fps=29.7``)."""
        with self._lock:
            self._status.update(fields)

    def forget_track(self, track_id: int) -> None:
        """Drop a lost track from the heartbeat snapshot."""
        with self._lock:
            self._tracks.pop(track_id, None)

    # ---- subscribers (XPUB) --------------------------------------------------------------

    def wait_for_subscribers(self, n: int, timeout_s: float) -> int:
        """Block until ``n`` subscriptions that receive this source's labels are registered, or
        ``timeout_s`` passes; returns how many there are (compare with ``n``).

        A PUB socket cannot count subscribers, and ZeroMQ drops what is sent before a subscriber's
        filter arrives (the slow joiner). With ``count_subscribers`` the socket is an XPUB that hands
        over each subscription as it takes effect, so a message sent after this returns ``n`` reaches
        those subscribers. A subscriber usually makes one such subscription (``crossglg.v1.``,
        ``crossglg.v1.label.`` or the exact label topic); one that subscribes to two of them counts twice.
        """
        if not self.config.count_subscribers:
            raise ValueError("wait_for_subscribers needs PublisherConfig(count_subscribers=True)")
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            with self._lock:
                self._read_subscriptions()
                if self.label_subscriptions >= n:
                    return self.label_subscriptions
                left = deadline - time.monotonic()
                if left <= 0:
                    return self.label_subscriptions
                self._sock.poll(int(min(left, 0.1) * 1000) + 1)  # short: heartbeats share the lock

    def _read_subscriptions(self) -> None:
        """Take every queued (un)subscription off an XPUB socket (keeps its queue empty); lock held."""
        if not self.config.count_subscribers or self._closed:
            return
        label_topic = protocol.topic_for("label", self.config.source).encode("utf-8")
        while True:
            try:
                msg = self._sock.recv(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            if msg and label_topic.startswith(msg[1:]) and msg[0] in (0, 1):
                self.label_subscriptions += 1 if msg[0] == 1 else -1
                self.label_subscriptions = max(0, self.label_subscriptions)

    def heartbeat(self) -> bool:
        """Send one heartbeat now (snapshot of every track, counters, status)."""
        with self._lock:
            self._read_subscriptions()
            topic, p = self._base("hb")
            self.stats["heartbeats"] += 1
            p.update(
                interval_s=self.config.heartbeat_s,
                uptime_s=round(time.monotonic() - self._t0, 3),
                stats=dict(self.stats),
                tracks=[dict(t) for _, t in sorted(self._tracks.items())],
                status=dict(self._status),
            )
            return self._send(topic, p)

    def tick(self, now: float | None = None) -> bool:
        """Send a heartbeat if one is due (``now``: ``time.monotonic()`` scale). Call from the frame loop."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if now < self._next_hb:
                return False
            # schedule from the due time, not from now, so the long-run rate is exactly 1/interval;
            # after a long stall skip the missed beats instead of bursting them
            self._next_hb += self.config.heartbeat_s
            if self._next_hb <= now:
                self._next_hb = now + self.config.heartbeat_s
        return self.heartbeat()

    def start_heartbeat(self) -> None:
        """Send heartbeats from a daemon thread every ``heartbeat_s`` until :meth:`close`."""

        def loop(stopping: threading.Event) -> None:
            while not stopping.is_set():
                self.heartbeat()
                stopping.wait(self.config.heartbeat_s)

        self._server.start_worker(loop, "crossglg-heartbeat")

    # ---- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the heartbeat thread and close the socket (LINGER 0: queued messages are dropped)."""
        self._server.stop_worker()  # outside the lock: a heartbeat in flight takes it
        with self._lock:
            if not self._closed:
                self._closed = True
                self._server.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _num(x: float | None) -> float | None:
    return None if x is None else float(x)


def _pose_track(track_id: int, xy: Any, vis: Any) -> dict[str, Any]:
    """One track of a pose message: 4-decimal points (null where not finite), visibility in [0, 1]."""
    points = [[round(float(x), 4), round(float(y), 4)] if math.isfinite(x) and math.isfinite(y) else None
              for x, y in xy]
    v = [min(1.0, max(0.0, round(float(a), 3))) if math.isfinite(a) else 0.0 for a in vis]
    return {"track_id": int(track_id), "xy": points, "visibility": v}
