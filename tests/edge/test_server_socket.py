"""The bound server socket shared by the publisher and the control server: real ZeroMQ sockets."""

from __future__ import annotations

import threading
import time
import warnings

import pytest
import zmq

from edge.control import ControlConfig, ControlServer
from edge.errors import EndpointBusyError
from edge.publisher import Publisher, PublisherConfig
from edge.server_socket import ServerSocket, check_exposure, is_local_endpoint

ANY = "tcp://127.0.0.1:*"


def test_exposure_rule() -> None:
    assert is_local_endpoint("ipc:///tmp/x") and is_local_endpoint("tcp://127.0.0.5:1") and is_local_endpoint("tcp://[::1]:1")
    assert not is_local_endpoint("tcp://0.0.0.0:5556") and not is_local_endpoint("udp://127.0.0.1:1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_exposure("tcp://127.0.0.1:1", secure=False, insecure=False, message="unused")  # local: silent
        check_exposure("tcp://0.0.0.0:1", secure=True, insecure=False, message="unused")  # CURVE: silent
    with pytest.raises(ValueError, match="open to all"):
        check_exposure("tcp://0.0.0.0:1", secure=False, insecure=False, message="open to all")
    with pytest.warns(UserWarning, match="open to all"):
        check_exposure("tcp://0.0.0.0:1", secure=False, insecure=True, message="open to all")


def test_busy_port_fails_cleanly_and_close_frees_the_port() -> None:
    ctx = zmq.Context.instance()
    first = ServerSocket(ctx, zmq.PUB, ANY, options={zmq.SNDHWM: 7})
    assert first.sock.getsockopt(zmq.SNDHWM) == 7 and first.sock.getsockopt(zmq.LINGER) == 0
    with pytest.raises(EndpointBusyError, match="address already in use"):
        ServerSocket(ctx, zmq.PUB, first.endpoint)
    with pytest.raises(ValueError, match="cannot bind"):  # the control server says what to do
        ControlServer(None, ControlConfig(endpoint=first.endpoint))  # type: ignore[arg-type]
    first.close()
    first.close()  # idempotent
    assert first.sock.closed
    # libzmq unbinds in its I/O thread after close(): the port comes back shortly, not at once
    deadline = time.monotonic() + 5.0
    while True:
        try:
            pub = Publisher(PublisherConfig(endpoint=first.endpoint))
            break
        except EndpointBusyError:
            assert time.monotonic() < deadline, "the closed socket never released its port"
            time.sleep(0.05)
    with pub:
        assert pub.endpoint == first.endpoint


def _terminates(ctx: zmq.Context, timeout: float = 5.0) -> bool:
    """``Context.term()`` blocks while any socket of the context is open: True if it returns in time."""
    t = threading.Thread(target=ctx.term, daemon=True)
    t.start()
    t.join(timeout)
    return not t.is_alive()


def test_failed_setup_leaves_no_open_socket(tmp_path) -> None:
    ctx = zmq.Context()
    with pytest.raises(FileNotFoundError, match="none.key_secret"):  # CURVE setup fails before bind
        ServerSocket(ctx, zmq.REP, ANY, curve_secret_key=str(tmp_path / "none.key_secret"))
    with pytest.raises(zmq.ZMQError):  # bind fails
        ServerSocket(ctx, zmq.REP, "tcp://127.0.0.1:not-a-port")
    assert _terminates(ctx), "a socket of a failed setup was left open"
