"""Helpers for the terminal UI tests: real publishers on random loopback ports, waiting under Pilot.

The UI runs headless under Textual's Pilot; the stream comes from a real :class:`edge.publisher.Publisher`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from edge import protocol
from edge.protocol import Message
from edge.publisher import Publisher, PublisherConfig


def make_publisher(endpoint: str = "tcp://127.0.0.1:*", source: str = "cam0") -> Publisher:
    return Publisher(PublisherConfig(endpoint=endpoint, source=source, model_id="test-model", backend="onnxruntime"))


async def wait_until(pilot, predicate: Callable[[], bool], timeout: float = 8.0, what: str = "condition") -> None:
    """Let the app run until ``predicate()`` holds; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.05)


async def connect(pilot, pub: Publisher, timeout: float = 8.0) -> None:
    """Heartbeat until the app has heard the publisher (ZeroMQ's slow-joiner window)."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while app.state.sessions.get(pub.config.source) != pub.session:
        if time.monotonic() > deadline:
            raise AssertionError("the UI never received the publisher's heartbeat")
        pub.heartbeat()
        await pilot.pause(0.05)


# A person facing the camera, right hand raised (NTU-25 order; normalised image coordinates, y down).
WAVE_POSE: list[tuple[float, float]] = [
    (0.50, 0.55), (0.50, 0.42), (0.50, 0.27), (0.50, 0.20), (0.58, 0.30), (0.61, 0.42), (0.62, 0.53), (0.62, 0.56),
    (0.42, 0.30), (0.35, 0.24), (0.36, 0.13), (0.36, 0.10), (0.55, 0.56), (0.56, 0.72), (0.56, 0.88), (0.58, 0.90),
    (0.45, 0.56), (0.44, 0.72), (0.44, 0.88), (0.42, 0.90), (0.50, 0.30), (0.62, 0.59), (0.60, 0.57), (0.36, 0.07),
    (0.38, 0.10),
]  # fmt: skip


def standing_pose() -> list[tuple[float, float]]:
    """WAVE_POSE with both arms down (a second, idle person)."""
    pts = list(WAVE_POSE)
    for j, xy in {9: (0.39, 0.42), 10: (0.38, 0.53), 11: (0.38, 0.56), 23: (0.38, 0.59), 24: (0.40, 0.57)}.items():
        pts[j] = xy
    return pts


def message(kind: str, seq: int, *, source: str = "cam0", session: str = "5e551011aaaa", t_pub: float = 1_763_780_000.0,
            **fields) -> Message:
    """A hand-built message with fixed session and time (frozen views for snapshots), schema-checked."""
    topic = f"crossglg.v1.{kind}.{source}"
    payload = {"schema": "crossglg.v1", "schema_version": 1, "kind": kind, "source": source, "session": session,
               "seq": seq, "t_pub": t_pub, "model_id": "crossglg-ntu-1a2b3c", "backend": "onnxruntime", **fields}
    if kind in protocol.KINDS:
        protocol.validate_payload(topic, payload)
    return Message(topic=topic, kind=kind, source=source, payload=payload)


def label_fields(track_id: int | None, state: str, label: str | None, score: float | None,
                 topk: list[tuple[str, float]], total_ms: float, reason: str | None = None) -> dict:
    return {"track_id": track_id, "state": state, "label": label, "score": score, "margin": None, "reason": reason,
            "topk": [{"label": lbl, "score": s} for lbl, s in topk], "t_frame": 1.0,
            "latency_ms": {"pose": 24.0, "model": 19.0, "total": total_ms}}


class FakeRuntime:
    """The runtime side of the control channel for UI tests, behind a real :class:`edge.control.ControlServer`.

    Records every request; enrollment progress is published on the real stream by the test itself
    (:meth:`progress`), so each phase can be checked on screen before the next one.
    """

    def __init__(self, publisher: Publisher, actions: list[str]) -> None:
        self.publisher = publisher
        self.labels = list(actions)
        self.requests: list[tuple[str, dict]] = []
        self.jobs: list[tuple[str, str]] = []  # (job id, label)
        self.busy = False
        self._lock = threading.Lock()

    def status(self) -> dict:
        return {"state": "running", "actions": self.actions()}

    def actions(self) -> list[dict]:
        with self._lock:
            return [{"label": lbl, "slug": lbl.replace(" ", "-"), "exemplars": 1, "created": "2026-11-22T00:00:00Z"}
                    for lbl in self.labels]

    def start_enroll(self, label: str, countdown_s: float = 3.0, max_seconds: float = 4.0) -> str:
        with self._lock:
            self.requests.append(("enroll", {"label": label, "countdown_s": countdown_s, "max_seconds": max_seconds}))
            if self.busy:  # the runtime runs one enrollment at a time
                raise ValueError("an enrollment is already running")
            job = f"job{len(self.jobs) + 1}"
            self.jobs.append((job, label))
        return job

    def progress(self, phase: str, seconds_left: float | None = None, message: str = "") -> None:
        """Publish the latest job's next phase; ``done`` also adds the action (as the runtime does)."""
        job, label = self.jobs[-1]
        if phase == "done":
            with self._lock:
                self.labels.append(label)
        self.publisher.publish_enroll(job=job, phase=phase, label=label, t_frame=1.0, seconds_left=seconds_left,
                                      message=message, track_id=1)

    def remove_action(self, label: str, by: str = "any") -> str:
        with self._lock:
            self.requests.append(("remove", {"label": label, "by": by}))
            if label not in self.labels:
                raise ValueError(f"no enrolled action {label!r}")
            self.labels.remove(label)
        return label.replace(" ", "-")

    def rename_action(self, label: str, new_label: str, by: str = "any") -> str:
        with self._lock:
            self.requests.append(("rename", {"label": label, "new_label": new_label, "by": by}))
            if label not in self.labels:
                raise ValueError(f"no enrolled action {label!r}")
            self.labels[self.labels.index(label)] = new_label
        return new_label.replace(" ", "-")
