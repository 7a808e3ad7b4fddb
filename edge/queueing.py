"""The hand-over between the pipeline's threads: a bounded frame queue and a rate meter.

:class:`FrameQueue` holds :class:`~edge.recognizer.TimedFrame` objects between the source thread and
the inference thread. Live sources drop the oldest frame when it is full (a live pipeline wants the
present, not a backlog; drops are counted); lossless sources (file replay) make the producer wait.
"""

from __future__ import annotations

import threading
from collections import deque

from .recognizer import TimedFrame


class FrameQueue:
    """Bounded FIFO between the threads: drop-oldest (live) or blocking (lossless) when full."""

    def __init__(self, maxsize: int, lossless: bool) -> None:
        self._items: deque[TimedFrame] = deque()
        self._cv = threading.Condition()
        self.maxsize, self.lossless = maxsize, lossless
        self.dropped = 0
        self.closed = False

    def put(self, item: TimedFrame, stop: threading.Event) -> None:
        with self._cv:
            while self.lossless and len(self._items) >= self.maxsize and not stop.is_set():
                self._cv.wait(0.1)
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cv.notify_all()

    def get_all(self, timeout: float) -> list[TimedFrame] | None:
        """Everything queued (oldest first), waiting up to ``timeout``; None once closed and empty."""
        with self._cv:
            if not self._items and not self.closed:
                self._cv.wait(timeout)
            if not self._items:
                return None if self.closed else []
            items = list(self._items)
            self._items.clear()
            self._cv.notify_all()
            return items

    def close(self) -> None:
        with self._cv:
            self.closed = True
            self._cv.notify_all()

    def __len__(self) -> int:
        return len(self._items)


class RateMeter:
    """Events per second over the last ``span_s`` seconds."""

    def __init__(self, span_s: float = 2.0) -> None:
        self._t: deque[float] = deque()
        self.span_s = span_s

    def mark(self, now: float) -> None:
        self._t.append(now)
        while self._t and now - self._t[0] > self.span_s:
            self._t.popleft()

    def rate(self, now: float) -> float:
        while self._t and now - self._t[0] > self.span_s:
            self._t.popleft()
        if len(self._t) < 2:
            return 0.0
        return (len(self._t) - 1) / max(1e-6, self._t[-1] - self._t[0])
