"""Subscriber API for apps that consume CrossGLG labels (schema: :mod:`edge.protocol`, docs/protocol.md).

Iterate::

    from edge.client import subscribe
    with subscribe("tcp://127.0.0.1:5556", topics=["crossglg.v1.label."], timeout=5.0) as sub:
        for msg in sub:                    # ends after `timeout` s without a message (None: never)
            print(msg.payload["label"], msg.payload["score"])

or poll for the newest state from a UI loop without blocking::

    msg = sub.latest()                     # drains the queue with NOBLOCK; None if nothing new

Each message is validated; invalid ones are skipped and counted in ``sub.invalid`` (``strict=True``
raises instead). Loss shows up as gaps in the per-topic ``seq``: ``sub.missed`` counts them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import zmq

from . import protocol
from .keys import load_keypair, load_secret
from .protocol import Message, ProtocolError

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5556"

POLL_SLICE_MS = 200  # longest uninterruptible wait inside recv()


class Subscription:
    """A SUB socket connected to one publisher; iterable, and a context manager that closes it."""

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        topics: Iterable[str] = (protocol.TOPIC_PREFIX,),
        timeout: float | None = None,
        *,
        server_public_key: str | Path | bytes | None = None,
        client_secret_key: str | Path | None = None,
        rcvhwm: int = 1000,
        strict: bool = False,
        context: zmq.Context | None = None,
    ) -> None:
        """Connect to ``endpoint`` and subscribe to topic prefixes ``topics``.

        CURVE: ``server_public_key`` is the server's ``.key`` file (or its Z85 key); the client's own
        identity is ``client_secret_key`` (a ``.key_secret`` file), or a fresh ephemeral pair.
        """
        self.timeout = timeout
        self.strict = strict
        self.received = 0
        self.invalid = 0
        self.missed = 0
        self.last_error: str | None = None
        self._last_seq: dict[tuple[str, str], int] = {}
        self._sock = (context or zmq.Context.instance()).socket(zmq.SUB)
        try:
            self._sock.setsockopt(zmq.LINGER, 0)
            self._sock.setsockopt(zmq.RCVHWM, rcvhwm)
            if server_public_key is not None:
                self._setup_curve(server_public_key, client_secret_key)
            for t in topics:
                self._sock.setsockopt(zmq.SUBSCRIBE, t.encode("utf-8"))
            self._sock.connect(endpoint)
        except BaseException:
            self._sock.close(linger=0)
            raise

    def _setup_curve(self, server_key: str | Path | bytes, client_secret: str | Path | None) -> None:
        if isinstance(server_key, bytes):
            server_public = server_key
        else:
            server_public, _ = load_keypair(server_key)
        if client_secret is not None:
            public, secret = load_secret(client_secret)
        else:
            public, secret = zmq.curve_keypair()
        self._sock.curve_serverkey = server_public
        self._sock.curve_publickey = public
        self._sock.curve_secretkey = secret

    def _accept(self, frames: list[bytes]) -> Message | None:
        try:
            msg = protocol.decode(frames)
        except ProtocolError as exc:
            self.invalid += 1
            self.last_error = str(exc)
            if self.strict:
                raise
            return None
        key = (msg.topic, str(msg.payload["session"]))
        prev = self._last_seq.get(key)
        if prev is not None and msg.seq > prev + 1:
            self.missed += msg.seq - prev - 1
        self._last_seq[key] = msg.seq
        self.received += 1
        return msg

    def recv(self, timeout: float | None = None) -> Message | None:
        """Next valid message, or None when ``timeout`` seconds pass without one (None: wait forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # wait in slices of at most POLL_SLICE_MS: Python's signal handlers (Ctrl-C) then run
            # between polls even where libzmq's blocking poll does not return EINTR promptly
            left_ms = POLL_SLICE_MS if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not self._sock.poll(min(left_ms, POLL_SLICE_MS)):
                if deadline is None or time.monotonic() < deadline:
                    continue
                return None
            msg = self._accept(self._sock.recv_multipart())
            if msg is not None:
                return msg
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def __iter__(self) -> Iterator[Message]:
        while True:
            msg = self.recv(self.timeout)
            if msg is None:
                return
            yield msg

    def drain(self) -> list[Message]:
        """Every message already queued, oldest first, without waiting."""
        out: list[Message] = []
        while True:
            try:
                frames = self._sock.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return out
            msg = self._accept(frames)
            if msg is not None:
                out.append(msg)

    def latest(self) -> Message | None:
        """Newest queued message (older ones are discarded), or None if the queue is empty."""
        msgs = self.drain()
        return msgs[-1] if msgs else None

    def latest_by_topic(self) -> dict[str, Message]:
        """Newest queued message per topic (e.g. one label per source), without waiting."""
        return {m.topic: m for m in self.drain()}

    def close(self) -> None:
        self._sock.close(linger=0)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def subscribe(
    endpoint: str = DEFAULT_ENDPOINT,
    topics: Iterable[str] = (protocol.TOPIC_PREFIX,),
    timeout: float | None = None,
    **kwargs,
) -> Subscription:
    """Open a :class:`Subscription` (see its docstring for CURVE and queue options)."""
    return Subscription(endpoint, topics, timeout, **kwargs)
