"""The UI's side of the runtime's control channel (ZeroMQ REQ/REP, docs/protocol.md "Control channel").

A thin layer over :class:`edge.control.ControlClient` that turns every failure (timeout, refused,
malformed reply, ``ok: false``) into a :class:`Reply` the screens can show. Every call blocks for at
most ``timeout`` seconds, so the app runs them in worker threads, never on the UI loop. Each call uses
a fresh client: control calls are rare (a few per user action), and calls from different workers
then never share a REQ socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.control import ControlClient, ControlError, ControlTimeout

DEFAULT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Reply:
    """A control reply: ``ok`` and the reply fields, or ``error`` (also for timeouts and bad replies)."""

    ok: bool
    data: dict[str, Any]
    error: str | None = None


class ControlLink:
    """Requests to the control endpoint: ``status``, ``list``, ``enroll``, ``remove``, ``rename``, ``ping``."""

    def __init__(self, endpoint: str, timeout: float = DEFAULT_TIMEOUT_S, *, server_public_key: str | None = None,
                 client_secret_key: str | None = None) -> None:  # fmt: skip
        self.endpoint = endpoint
        self.timeout = timeout
        self._curve = {"server_public_key": server_public_key, "client_secret_key": client_secret_key}

    def request(self, op: str, **fields: Any) -> Reply:
        """Send ``{"v": 1, "op": op, **fields}``; any failure becomes ``Reply(ok=False, error=...)``."""
        try:
            client = ControlClient(self.endpoint, timeout=self.timeout, **self._curve)
        except Exception as exc:
            return Reply(False, {}, f"control {self.endpoint}: {exc}")
        try:
            reply = client.request(op, **fields)
        except Exception as exc:  # timeouts, refused connections, malformed replies: shown, not raised
            return Reply(False, {}, _describe(exc, self.endpoint))
        finally:
            client.close()
        if not isinstance(reply, dict):
            return Reply(False, {}, f"control {self.endpoint}: reply is not an object: {reply!r}")
        if reply.get("ok") is True:
            return Reply(True, reply)
        return Reply(False, reply, str(reply.get("error") or "request failed"))

    def list_labels(self) -> Reply:
        """``list`` with the labels normalised into ``data["labels"]`` (a list of strings)."""
        reply = self.request("list")
        if reply.ok:
            reply.data["labels"] = labels_of(reply.data)
        return reply


def labels_of(reply: dict[str, Any]) -> list[str]:
    """Action labels in a ``list``/``status`` reply: ``actions`` as strings or objects with ``label``."""
    items = reply.get("actions", reply.get("labels", []))
    out: list[str] = []
    if isinstance(items, list):
        for item in items:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and isinstance(item.get("label"), str):
                out.append(item["label"])
    return out


def _describe(exc: Exception, endpoint: str) -> str:
    if isinstance(exc, ControlTimeout):
        return f"no reply from the runtime at {endpoint}"
    return str(exc) if isinstance(exc, ControlError) else f"control {endpoint}: {exc}"
