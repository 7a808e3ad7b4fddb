"""Bound ZeroMQ server sockets (the label publisher's PUB, the control channel's REP).

Both follow one rule and one lifecycle, kept here once:

- exposure: an endpoint reachable beyond this machine needs CURVE keys, else ``ValueError``, unless
  the caller passed ``insecure`` (then a warning and an ``INSECURE`` log line);
- setup: LINGER 0 (closing never blocks on unsent messages), socket options, optional CURVE server
  keys with an authenticator thread restricting clients to a directory of ``.key`` files, bind;
  anything failing on the way closes what was opened and re-raises;
- close: the socket (LINGER 0) and the authenticator thread, idempotent.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import zmq

from .keys import load_secret

log = logging.getLogger(__name__)

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def is_local_endpoint(endpoint: str) -> bool:
    """True for ``ipc://``, ``inproc://`` and ``tcp://`` on a loopback address."""
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = rest.rsplit(":", 1)[0]
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def check_exposure(endpoint: str, secure: bool, insecure: bool, message: str) -> None:
    """Refuse (``ValueError(message)``) a non-local endpoint without CURVE unless ``insecure`` (warns).

    The warning points at the caller's caller (the code constructing the publisher or server).
    """
    if is_local_endpoint(endpoint) or secure:
        return
    if not insecure:
        raise ValueError(message)
    warnings.warn(message, stacklevel=3)
    log.warning("INSECURE: %s", message)


class ServerSocket:
    """A socket of ``kind`` bound to ``endpoint``, optionally a CURVE server.

    Attributes:
        sock: the bound ``zmq.Socket`` (the owner sends/receives on it, and serialises access).
        endpoint: the endpoint actually bound (``LAST_ENDPOINT``: resolves ``tcp://...:*``).
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
    ) -> None:
        self._auth: Any = None  # zmq.auth.thread.ThreadAuthenticator, imported only with CURVE
        self.sock = ctx.socket(kind)
        try:
            self.sock.setsockopt(zmq.LINGER, 0)
            for opt, value in (options or {}).items():
                self.sock.setsockopt(opt, value)
            if curve_secret_key is not None:
                self._setup_curve(ctx, curve_secret_key, curve_allowed_clients)
            self.sock.bind(endpoint)
        except BaseException:
            self.close()
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

    def close(self) -> None:
        """Close the socket (queued messages are dropped) and stop the authenticator; idempotent."""
        self.sock.close(linger=0)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
