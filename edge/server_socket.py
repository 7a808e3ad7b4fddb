"""Bound ZeroMQ server sockets (the label publisher's PUB, the control channel's REP).

Both follow one rule and one lifecycle, kept here once:

- exposure: an endpoint reachable beyond this machine needs CURVE keys, else ``ValueError``, unless
  the caller passed ``insecure`` (then an :class:`InsecureEndpointWarning` and the same text as an
  ``INSECURE`` log line, which is what the command line shows);
- setup: LINGER 0 (closing never blocks on unsent messages), socket options, optional CURVE server
  keys with an authenticator thread restricting clients to a directory of ``.key`` files, bind;
  anything failing on the way closes what was opened and re-raises; an endpoint another process
  holds is :class:`~edge.errors.EndpointBusyError` (one line naming it and the option to change).
  For ``ipc://`` that is checked before binding: libzmq would silently take the path over, and the
  first runtime's subscribers would then hear the second one;
- a worker thread (the publisher's heartbeats, the control channel's request loop):
  :meth:`ServerSocket.start_worker` runs it, ``stopping`` tells it to return, and
  :meth:`ServerSocket.stop_worker` (also the first step of ``close``) sets that and waits for it;
- close: the worker, the socket (LINGER 0) and the authenticator thread, idempotent.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import stat
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import zmq

from .errors import EndpointBusyError
from .keys import load_secret

log = logging.getLogger(__name__)

_LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


class InsecureEndpointWarning(UserWarning):
    """A server socket was bound beyond loopback without CURVE because the caller said ``insecure``."""


def is_local_endpoint(endpoint: str) -> bool:
    """True for ``ipc://``, ``inproc://`` and ``tcp://`` on a loopback address (``127.0.0.0/8``,
    ``::1``, ``localhost``). Anything else (``*``, ``0.0.0.0``, an interface name, a host name,
    ``127.0.0.1.example.com``) counts as reachable from the network."""
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = rest.rsplit(":", 1)[0]
    if host.lower() in _LOOPBACK_NAMES:
        return True
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(endpoint: str, secure: bool, insecure: bool, message: str) -> None:
    """Refuse a non-local endpoint without CURVE (``ValueError``) unless ``insecure`` (then warn).

    ``message`` says what is exposed (e.g. "publisher: tcp://0.0.0.0:5556 is reachable beyond this
    machine and CURVE is off: anyone on the network can read the labels"); the refusal adds what to
    do, the warning starts with ``INSECURE`` and points at the caller's caller.
    """
    if is_local_endpoint(endpoint) or secure:
        return
    if not insecure:
        raise ValueError(f"{message}. Pass CURVE keys (--server-key; curve_secret_key) or, to accept that, "
                         "--insecure (insecure=True)")  # fmt: skip
    text = f"INSECURE (--insecure): {message}"
    warnings.warn(text, InsecureEndpointWarning, stacklevel=3)
    log.warning("%s", text)


class ServerSocket:
    """A socket of ``kind`` bound to ``endpoint``, optionally a CURVE server.

    Attributes:
        sock: the bound ``zmq.Socket`` (the owner sends/receives on it, and serialises access).
        endpoint: the endpoint actually bound (``LAST_ENDPOINT``: resolves ``tcp://...:*``).
        stopping: set when the worker thread must return (by :meth:`stop_worker` and :meth:`close`).
    """

    def __init__(
        self,
        ctx: zmq.Context,
        kind: int,
        endpoint: str,
        *,
        options: Mapping[int, Any] | None = None,
        curve_secret_key: str | None = None,
        curve_allowed_clients: str | None = None,
        role: str = "socket",
        option: str = "endpoint",
    ) -> None:
        """``role`` (e.g. ``"publisher"``) and ``option`` (e.g. ``"--pub"``) name the socket in errors."""
        busy = EndpointBusyError(f"{role}: cannot bind {endpoint}: address already in use (another runtime "
                                 f"running? pass another {option})")  # fmt: skip
        if _ipc_in_use(endpoint):
            raise busy
        self._auth: Any = None  # zmq.auth.thread.ThreadAuthenticator, imported only with CURVE
        self.stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self.sock = ctx.socket(kind)
        try:
            self.sock.setsockopt(zmq.LINGER, 0)
            for opt, value in (options or {}).items():
                self.sock.setsockopt(opt, value)
            if curve_secret_key is not None:
                self._setup_curve(ctx, curve_secret_key, curve_allowed_clients)
            self.sock.bind(endpoint)
        except BaseException as exc:
            self.close()
            if isinstance(exc, zmq.ZMQError) and exc.errno == errno.EADDRINUSE:
                raise busy from None
            raise
        self.endpoint: str = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def _setup_curve(self, ctx: zmq.Context, secret_key: str, allowed_clients: str | None) -> None:
        public, secret = load_secret(secret_key)
        if allowed_clients is not None:
            from zmq.auth.thread import ThreadAuthenticator

            self._auth = ThreadAuthenticator(ctx)
            self._auth.start()
            self._auth.configure_curve(domain="*", location=str(allowed_clients))
        self.sock.curve_secretkey = secret
        self.sock.curve_publickey = public
        self.sock.curve_server = True

    def start_worker(self, loop: Callable[[threading.Event], None], name: str) -> None:
        """Run ``loop(stopping)`` in a daemon thread named ``name``; nothing if a worker runs already.

        The loop must return soon after ``stopping`` is set (wait on it, or poll with a timeout).
        """
        if self._worker is None:
            self._worker = threading.Thread(target=loop, args=(self.stopping,), name=name, daemon=True)
            self._worker.start()

    def stop_worker(self, timeout: float = 2.0) -> None:
        """Set ``stopping`` and wait up to ``timeout`` seconds for the worker to return; idempotent."""
        self.stopping.set()
        if self._worker is not None:
            self._worker.join(timeout=timeout)
            self._worker = None

    def close(self) -> None:
        """Stop the worker, close the socket (queued messages are dropped) and stop the
        authenticator; idempotent."""
        self.stop_worker()
        self.sock.close(linger=0)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None


def _ipc_in_use(endpoint: str) -> bool:
    """True when ``ipc://PATH`` is a Unix socket some process accepts connections on."""
    scheme, _, path = endpoint.partition("://")
    if scheme != "ipc" or not path or path.startswith("@") or path == "*":
        return False
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return False
    except OSError:
        return False  # no such path: free
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
        return True
    except OSError:
        return False  # a stale file left by a process that died: libzmq replaces it
    finally:
        probe.close()
