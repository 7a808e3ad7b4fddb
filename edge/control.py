"""The runtime's control channel: JSON request/reply over a ZeroMQ REP socket (docs/protocol.md).

Request ``{"v": 1, "op": "...", ...}`` -> reply ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.
Ops: ``ping``, ``status``, ``list``, ``enroll`` {label, countdown_s=3, max_seconds=4} (replies at
once with a ``job`` id; progress follows as ``event`` messages with ``event: "enroll"``),
``remove`` {label, by="any"}, ``rename`` {label, new_label, by="any"}: ``by`` is ``label``, ``slug``
or ``any`` (a name that is one action's label and another's slug is then refused as ambiguous).

Server side (the runtime binds it)::

    server = ControlServer(pipeline, ControlConfig())   # tcp://127.0.0.1:5557
    server.start() ... server.close()

Client side (the UI, scripts)::

    with ControlClient("tcp://127.0.0.1:5557", timeout=2.0) as ctl:
        ctl.status()["fps_pipeline"]
        job = ctl.enroll("wave", countdown_s=3)["job"]

A REQ socket that missed its reply is stuck in ZeroMQ's strict send/receive alternation, so the
client closes and recreates it after every timeout: a dead runtime never wedges the client.
Binding beyond loopback follows the publisher's rule: CURVE keys, or ``insecure`` (warns).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import zmq

from .keys import load_keypair, load_secret
from .server_socket import ServerSocket, check_exposure

log = logging.getLogger(__name__)

DEFAULT_CONTROL_ENDPOINT = "tcp://127.0.0.1:5557"
VERSION = 1
OPS = ("ping", "status", "list", "enroll", "remove", "rename")
MAX_REQUEST_BYTES = 64 * 1024


class ControlError(RuntimeError):
    """The runtime answered ``ok: false`` (the message is its ``error``)."""


class ControlTimeout(ControlError):
    """No reply within the timeout (runtime gone or busy); the client socket has been reset."""


class Runtime(Protocol):
    """What the server needs from the runtime (implemented by :class:`edge.pipeline.Pipeline`)."""

    def status(self) -> dict[str, Any]: ...
    def actions(self) -> list[dict[str, Any]]: ...
    def start_enroll(self, label: str, countdown_s: float = 3.0, max_seconds: float = 4.0) -> str: ...
    def remove_action(self, label: str, by: str = "any") -> str: ...
    def rename_action(self, label: str, new_label: str, by: str = "any") -> str: ...


@dataclass(frozen=True)
class ControlConfig:
    endpoint: str = DEFAULT_CONTROL_ENDPOINT
    curve_secret_key: str | None = None
    curve_allowed_clients: str | None = None
    insecure: bool = False


def _by(req: dict) -> str:
    by = req.get("by", "any")
    if by not in ("any", "label", "slug"):
        raise ValueError(f"field 'by': expected 'any', 'label' or 'slug', got {by!r}")
    return by


def _text(req: dict, key: str) -> str:
    v = req.get(key)
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"field {key!r}: expected non-empty text, got {v!r}")
    if len(v) > 200:
        raise ValueError(f"field {key!r}: at most 200 characters")
    return v.strip()


def _seconds(req: dict, key: str, default: float) -> float:
    v = req.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError(f"field {key!r}: expected a number of seconds, got {v!r}")
    return float(v)


def handle_request(runtime: Runtime, raw: bytes) -> dict[str, Any]:
    """Decode, validate and execute one request; always returns a reply dict (never raises)."""
    try:
        if len(raw) > MAX_REQUEST_BYTES:
            raise ValueError(f"request of {len(raw)} bytes exceeds {MAX_REQUEST_BYTES}")
        try:
            req = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"request is not UTF-8 JSON: {exc}") from None
        if not isinstance(req, dict):
            raise ValueError("request must be a JSON object {\"v\": 1, \"op\": ...}")
        if req.get("v") != VERSION:
            raise ValueError(f"field 'v': expected {VERSION}, got {req.get('v')!r}")
        op = req.get("op")
        if op not in OPS:
            raise ValueError(f"field 'op': expected one of {list(OPS)}, got {op!r}")
        if op == "ping":
            return {"ok": True, "op": op}
        if op == "status":
            return {"ok": True, "op": op, **runtime.status()}
        if op == "list":
            return {"ok": True, "op": op, "actions": runtime.actions()}
        if op == "enroll":
            job = runtime.start_enroll(_text(req, "label"), _seconds(req, "countdown_s", 3.0),
                                       _seconds(req, "max_seconds", 4.0))  # fmt: skip
            return {"ok": True, "op": op, "job": job, "label": _text(req, "label")}
        if op == "remove":
            return {"ok": True, "op": op, "slug": runtime.remove_action(_text(req, "label"), _by(req))}
        slug = runtime.rename_action(_text(req, "label"), _text(req, "new_label"), _by(req))
        return {"ok": True, "op": op, "slug": slug, "label": _text(req, "new_label")}
    except (ValueError, KeyError, OSError) as exc:
        return {"ok": False, "error": str(exc).strip("'\"")}
    except Exception as exc:  # the runtime must answer whatever happens, or the client waits
        log.debug("control request failed", exc_info=True)
        return {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}


class ControlServer:
    """A REP socket served by a daemon thread; replies come from :func:`handle_request`."""

    def __init__(self, runtime: Runtime, config: ControlConfig | None = None, context: zmq.Context | None = None):
        self.runtime = runtime
        self.config = cfg = config or ControlConfig()
        check_exposure(
            cfg.endpoint, cfg.curve_secret_key is not None, cfg.insecure,
            f"control: {cfg.endpoint} is reachable beyond this machine and CURVE is off: anyone on the "
            "network could enroll or delete actions",
        )  # fmt: skip
        try:
            self._server = ServerSocket(
                context or zmq.Context.instance(), zmq.REP, cfg.endpoint,
                curve_secret_key=cfg.curve_secret_key, curve_allowed_clients=cfg.curve_allowed_clients,
                role="control", option="--control",
            )  # fmt: skip
        except zmq.ZMQError as exc:  # in use: EndpointBusyError (exit 1); this is anything else
            raise ValueError(f"control: cannot bind {cfg.endpoint}: {exc} (another runtime running? use --control)") from None
        self._sock = self._server.sock
        self.endpoint: str = self._server.endpoint
        self.handled = 0

    def start(self) -> None:
        """Serve requests from a daemon thread until :meth:`close`."""
        self._server.start_worker(self._serve, "crossglg-control")

    def _serve(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                if not self._sock.poll(100):
                    continue
                raw = self._sock.recv()
            except zmq.ZMQError:
                return  # socket closed under us: shutting down
            reply = handle_request(self.runtime, raw)
            try:
                self._sock.send(json.dumps(reply, ensure_ascii=False, allow_nan=False, default=str).encode("utf-8"))
            except (ValueError, TypeError) as exc:  # a reply that is not JSON-able must still be answered
                self._sock.send(json.dumps({"ok": False, "error": f"internal error: {exc}"}).encode("utf-8"))
            except zmq.ZMQError:
                return
            self.handled += 1

    def close(self) -> None:
        """Stop serving (a request in hand gets up to 2 s to be answered) and close the socket; idempotent."""
        self._server.close()

    def __enter__(self) -> ControlServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ControlClient:
    """REQ client with a per-request timeout; the socket is recreated after any timeout."""

    def __init__(self, endpoint: str = DEFAULT_CONTROL_ENDPOINT, timeout: float = 2.0, *,
                 server_public_key: str | Path | None = None, client_secret_key: str | Path | None = None,
                 context: zmq.Context | None = None) -> None:  # fmt: skip
        if timeout <= 0:
            raise ValueError(f"control client timeout must be > 0, got {timeout}")
        self.endpoint, self.timeout = endpoint, timeout
        self._server_key = server_public_key
        self._client_key = client_secret_key
        self._ctx = context or zmq.Context.instance()
        self._lock = threading.Lock()  # one request in flight per client (REQ alternation)
        self._sock: zmq.Socket | None = None
        self.timeouts = 0

    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            sock = self._ctx.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            if self._server_key is not None:
                sock.curve_serverkey = load_keypair(self._server_key)[0]
                if self._client_key is not None:
                    sock.curve_publickey, sock.curve_secretkey = load_secret(self._client_key)
                else:
                    sock.curve_publickey, sock.curve_secretkey = zmq.curve_keypair()
            sock.connect(self.endpoint)
            self._sock = sock
        return self._sock

    def request(self, op: str, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send ``{"v": 1, "op": op, **fields}``; return the reply (``ok`` true or false).

        Raises :class:`ControlTimeout` when no reply arrives within ``timeout`` (default: the client's).
        """
        wait_ms = int(1000 * (timeout if timeout is not None else self.timeout))
        with self._lock:
            sock = self._socket()
            try:
                sock.send(json.dumps({"v": VERSION, "op": op, **fields}).encode("utf-8"))
                if not sock.poll(wait_ms):
                    raise ControlTimeout(f"no reply from the runtime at {self.endpoint} within {wait_ms / 1000:.1f} s")
                raw = sock.recv()
            except (ControlTimeout, zmq.ZMQError) as exc:
                self._reset()
                self.timeouts += isinstance(exc, ControlTimeout)
                if isinstance(exc, ControlTimeout):
                    raise
                raise ControlError(f"control channel {self.endpoint}: {exc}") from None
        try:
            reply = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ControlError(f"runtime sent a reply that is not JSON: {exc}") from None
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise ControlError(f"runtime sent a malformed reply: {reply!r}")
        return reply

    def call(self, op: str, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Like :meth:`request` but ``ok: false`` raises :class:`ControlError` with the runtime's message."""
        reply = self.request(op, timeout, **fields)
        if not reply["ok"]:
            raise ControlError(str(reply.get("error", "request failed")))
        return reply

    def ping(self) -> bool:
        """True when the runtime answers in time (never raises)."""
        try:
            return self.request("ping")["ok"]
        except ControlError:
            return False

    def status(self) -> dict[str, Any]:
        return self.call("status")

    def list(self) -> list[dict[str, Any]]:
        return self.call("list")["actions"]

    def enroll(self, label: str, countdown_s: float = 3.0, max_seconds: float = 4.0) -> dict[str, Any]:
        return self.call("enroll", label=label, countdown_s=countdown_s, max_seconds=max_seconds)

    def remove(self, label: str, by: str = "any") -> dict[str, Any]:
        return self.call("remove", label=label, by=by)

    def rename(self, label: str, new_label: str, by: str = "any") -> dict[str, Any]:
        return self.call("rename", label=label, new_label=new_label, by=by)

    def _reset(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def close(self) -> None:
        with self._lock:
            self._reset()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
