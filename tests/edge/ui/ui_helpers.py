"""Helpers for the terminal UI tests: real publishers on random loopback ports, waiting under Pilot.

The UI runs headless under Textual's Pilot; the stream comes from a real :class:`edge.publisher.Publisher`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

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
