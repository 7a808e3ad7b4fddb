"""Security defaults of the runtime's sockets, checked with real sockets and real `crossglg-edge run`
processes: loopback unless told otherwise, refused (or loudly INSECURE) beyond loopback without CURVE,
and CURVE end to end: a subscriber with the server key gets every label, subscribers without it get
nothing, and the runtime keeps publishing whoever knocks."""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runtime_helpers import collect, enroll_file, playlist, utd
from shared_helpers import free_port

from edge import protocol
from edge.client import subscribe
from edge.commands import run as run_command
from edge.control import DEFAULT_CONTROL_ENDPOINT, ControlClient, ControlConfig
from edge.keys import generate_keypair
from edge.publisher import DEFAULT_ENDPOINT, Publisher, PublisherConfig
from edge.runtime import open_model, open_support_store
from edge.server_socket import is_local_endpoint


def _lan_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only
        except OSError:
            return None
        addr = s.getsockname()[0]
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


def test_every_server_socket_defaults_to_loopback() -> None:
    parser = argparse.ArgumentParser()
    run_command.add_arguments(parser)
    args = parser.parse_args(["--skeleton", "x.npz", "--model", "m.onnx"])
    for endpoint in (DEFAULT_ENDPOINT, DEFAULT_CONTROL_ENDPOINT, PublisherConfig().endpoint, ControlConfig().endpoint,
                     args.pub, args.control):  # fmt: skip
        assert endpoint.startswith("tcp://127.0.0.1:") and is_local_endpoint(endpoint), endpoint
    assert not args.insecure and args.server_key is None
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as pub:
        port = int(pub.endpoint.rsplit(":", 1)[1])
        lan = _lan_address()
        if lan is not None:  # the same port on the machine's network address: nobody listens there
            with socket.socket() as s, pytest.raises(OSError):
                s.settimeout(2.0)
                s.connect((lan, port))


@pytest.mark.parametrize(("endpoint", "local"), [
    ("tcp://127.0.0.1:5556", True), ("tcp://127.10.0.1:1", True), ("tcp://localhost:1", True),
    ("tcp://[::1]:1", True), ("ipc:///tmp/crossglg.sock", True), ("inproc://x", True),
    ("tcp://0.0.0.0:5556", False), ("tcp://*:5556", False), ("tcp://[::]:1", False), ("tcp://eth0:1", False),
    ("tcp://10.0.0.7:1", False), ("tcp://127.0.0.1.example.com:1", False), ("tcp://127.evil:1", False),
    ("udp://127.0.0.1:1", False), ("tcp://:1", False),
])  # fmt: skip
def test_what_counts_as_loopback(endpoint: str, local: bool) -> None:
    assert is_local_endpoint(endpoint) is local


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, timeout=timeout)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


@pytest.mark.realdata
def test_run_refuses_the_network_without_curve_and_says_insecure_when_told(tmp_path: Path, data_dir: Path,
                                                                          tiny_onnx: Path) -> None:  # fmt: skip
    base = ["run", "--skeleton", str(utd(data_dir, 23, 2)), "--model", str(tiny_onnx), "--headless",
            "--store", str(tmp_path / "store")]  # fmt: skip
    pub, ctl = free_port(), free_port()
    for endpoints, what in (((f"tcp://0.0.0.0:{pub}", "off"), "anyone on the network can read the labels"),
                            ((f"tcp://127.0.0.1:{pub}", f"tcp://0.0.0.0:{ctl}"), "could enroll or delete actions")):
        proc = _cli(*base, "--pub", endpoints[0], "--control", endpoints[1])
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if "error" in line]
        assert len(errors) == 1 and what in errors[0] and "--server-key" in errors[0] and "--insecure" in errors[0], errors
        assert _port_free(pub) and _port_free(ctl)  # nothing stayed bound
    proc = _cli(*base, "--pub", f"tcp://0.0.0.0:{pub}", "--control", f"tcp://0.0.0.0:{ctl}", "--insecure")
    assert proc.returncode == 0 and "source_end" in proc.stderr, proc.stderr
    insecure = [line for line in proc.stderr.splitlines() if "INSECURE" in line]
    assert len(insecure) == 2 and "Warning" not in proc.stderr, proc.stderr  # one line per exposed socket
    assert f"tcp://0.0.0.0:{pub}" in insecure[0] and "read the labels" in insecure[0]
    assert f"tcp://0.0.0.0:{ctl}" in insecure[1] and "enroll or delete" in insecure[1]


@pytest.mark.realdata
def test_curve_end_to_end_with_a_real_run(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    """`run --server-key` on all interfaces: the keyed subscriber receives every label of the
    replay while a subscriber without a key, one with the wrong server key, a control client without
    the key and a raw TCP client sending garbage all get nothing, and the run goes on to its end."""
    server_pub, server_secret = generate_keypair(tmp_path / "keys", "server")
    impostor_pub, _ = generate_keypair(tmp_path / "other", "server")
    with open_model(tiny_onnx, threads=1) as engine:
        enroll_file(open_support_store(tmp_path / "store", engine), engine, utd(data_dir, 23, 1), "walk")
    replay = tmp_path / "replay.npz"
    playlist([utd(data_dir, 23, 2), utd(data_dir, 27, 2)], replay)
    pub_port, ctl_port = free_port(), free_port()
    local = f"tcp://127.0.0.1:{pub_port}"
    run = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "--skeleton", str(replay), "--model", str(tiny_onnx), "--headless",
         "--store", str(tmp_path / "store"), "--server-key", str(server_secret), "--pub", f"tcp://0.0.0.0:{pub_port}",
         "--control", f"tcp://0.0.0.0:{ctl_port}", "--threshold", "0", "--margin", "0", "--wait-subscribers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "waiting for 1 subscriber(s)" not in (line := run.stderr.readline()):
            assert line and time.monotonic() < deadline, f"runtime did not start: {line!r}"
        with ControlClient(f"tcp://127.0.0.1:{ctl_port}", 3.0, server_public_key=server_pub) as ctl:
            assert ctl.status()["actions"][0]["label"] == "walk"  # encrypted control works
        with ControlClient(f"tcp://127.0.0.1:{ctl_port}", 0.5) as plain_ctl:
            assert plain_ctl.ping() is False  # no key: no handshake, no reply
        with socket.create_connection(("127.0.0.1", pub_port), timeout=2.0) as raw, \
                subscribe(local, topics=[protocol.TOPIC_PREFIX]) as plain, \
                subscribe(local, topics=[protocol.TOPIC_PREFIX], server_public_key=impostor_pub) as impostor:
            raw.sendall(b"\xff" * 64 + b"GET / HTTP/1.0\r\n\r\n")  # not a ZMTP greeting
            time.sleep(0.3)  # the strangers knock first
            with subscribe(local, topics=[protocol.TOPIC_PREFIX], server_public_key=server_pub) as good:
                _, err = run.communicate(timeout=120)
                msgs = collect(good, quiet_s=1.0)
            assert plain.recv(timeout=0.5) is None and impostor.recv(timeout=0.1) is None
            assert plain.received == impostor.received == 0 and plain.invalid == impostor.invalid == 0
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0 and "source_end" in err and "INSECURE" not in err, err
    total = int(re.search(r"(\d+) labels", err).group(1))
    labels = [m for m in msgs if m.kind == "label"]
    assert total > 0 and len(labels) == total and good.missed == 0, (len(labels), total)
    assert any(m.payload["state"] == "action" for m in labels)
    assert [m.seq for m in labels] == list(range(total))  # from the first label to the last, none lost
