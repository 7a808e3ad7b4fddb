"""Background reader of the label stream for the UI: a thread that owns the SUB socket.

The thread receives with a short poll timeout (so it notices ``stop()`` quickly), validates through
:class:`edge.client.Subscription`, and appends to a bounded buffer. It calls ``wake()`` only when
no wake-up is pending (the UI has taken the previous batch with :meth:`Feed.take`) and at most once
per ``min_interval``: however fast the runtime publishes, the UI loop handles a few batches a second
instead of one message at a time. The UI can never block the reader, and the reader never blocks
the runtime (ZeroMQ drops for a slow subscriber; the bounded buffer drops the oldest messages here,
counted in ``dropped``).

ZeroMQ reconnects a SUB socket by itself when the publisher comes back; a restart shows up as a new
``session`` id, which :class:`edge.ui.state.LiveState` detects.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from edge import protocol
from edge.client import Subscription
from edge.protocol import Message

log = logging.getLogger(__name__)


def topics_for(source: str | None) -> list[str]:
    """Topic prefixes to subscribe to: everything, or one source's label/event/hb/pose topics."""
    if source is None:
        return [protocol.TOPIC_PREFIX]
    protocol.topic_for("hb", source)  # validates the name
    kinds: Sequence[str] = tuple(dict.fromkeys((*protocol.KINDS, "pose")))
    # a topic prefix "...label.cam0" also matches "cam01": Feed checks payload.source as well
    return [f"{protocol.TOPIC_PREFIX}{kind}.{source}" for kind in kinds]


class Feed:
    """A daemon thread reading ``endpoint`` into a buffer; ``wake()`` is called from that thread.

    ``wake`` must be thread-safe (Textual's ``post_message`` is). ``max_buffer`` bounds memory when
    the UI falls behind: the oldest messages are dropped first.
    """

    def __init__(
        self,
        endpoint: str,
        wake: Callable[[], object],
        *,
        source: str | None = None,
        poll_s: float = 0.05,
        min_interval: float = 0.04,
        max_buffer: int = 5000,
        subscription_kwargs: dict | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.source = source
        self._wake = wake
        self._poll_s = poll_s
        self._min_interval = min_interval
        self._woken = False  # a wake-up is pending: the UI has not taken the buffer yet
        self._last_wake = -1e9
        self._buf: deque[Message] = deque(maxlen=max_buffer)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.dropped = 0
        self.invalid = 0
        self.missed = 0
        self.error: str | None = None
        self._sub = Subscription(endpoint, topics_for(source), **(subscription_kwargs or {}))
        self._thread = threading.Thread(target=self._run, name="crossglg-ui-feed", daemon=True)

    def start(self) -> Feed:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                msg = self._sub.recv(timeout=self._wait())
                batch = [] if msg is None else [msg, *self._sub.drain()]
                self.invalid, self.missed = self._sub.invalid, self._sub.missed
                if self.source is not None:
                    batch = [m for m in batch if m.source == self.source]
                if batch:
                    self._push(batch)
                self._maybe_wake()
        except Exception as exc:  # a dead reader must show up in the UI, not vanish silently
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("UI feed stopped")
            self._wake()
        finally:
            self._sub.close()

    def _wait(self) -> float:
        """Receive timeout: the poll period, or less when a deferred wake-up falls due sooner."""
        with self._lock:
            if self._buf and not self._woken:
                return max(0.0, min(self._poll_s, self._last_wake + self._min_interval - time.monotonic()))
        return self._poll_s

    def _push(self, batch: list[Message]) -> None:
        with self._lock:
            overflow = len(self._buf) + len(batch) - (self._buf.maxlen or 0)
            if overflow > 0:
                self.dropped += overflow
            self._buf.extend(batch)

    def _maybe_wake(self) -> None:
        now = time.monotonic()
        with self._lock:
            if not self._buf or self._woken or now - self._last_wake < self._min_interval:
                return
            self._woken, self._last_wake = True, now
        self._wake()

    def take(self) -> list[Message]:
        """Every buffered message, oldest first (call from the UI thread after a wake-up)."""
        with self._lock:
            out = list(self._buf)
            self._buf.clear()
            self._woken = False
        return out

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the thread (it notices within ``poll_s``) and close the socket."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        elif self._thread.ident is None:
            self._sub.close()  # never started: the thread's own cleanup will not run
