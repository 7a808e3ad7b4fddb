"""`crossglg-edge run` (not --headless) in a real pseudo-terminal: the runtime opens this UI, the UI shows
the live stream, and `q` ends both with exit code 0 and the terminal restored."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from runtime_helpers import playlist, utd
from shared_helpers import free_port

pytestmark = pytest.mark.realdata
ROOT = Path(__file__).resolve().parents[3]
_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


def _read_until(fd: int, needles: list[bytes], timeout: float) -> bytes:
    """Terminal output (escape sequences removed) until every needle appeared; fails after ``timeout``."""
    raw, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                raw += os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
        text = _ANSI.sub(b"", raw)
        if all(n in text for n in needles):
            return text
    raise AssertionError(f"terminal never showed {needles}; last output: {_ANSI.sub(b'', raw)[-2000:]!r}")


def test_run_opens_the_ui_and_q_quits(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    replay = tmp_path / "live.npz"
    playlist([utd(data_dir, 27, 2)] * 4, replay)  # ~20 s of stream: it outlives the test
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    cmd = [sys.executable, "-m", "edge.cli", "run", "--skeleton", str(replay), "--model", str(tiny_onnx),
           "--realtime", "--store", str(tmp_path / "store"), "--max-seconds", "60",
           "--pub", f"tcp://127.0.0.1:{free_port()}", "--control", f"tcp://127.0.0.1:{free_port()}"]
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    try:
        # the footer's key help (Enroll, Quit) may be painted after the rest: wait for all of it
        _read_until(master, [b"live", b"backend onnxruntime", b"control ok", b"pose", b"events", b"Enroll", b"Quit"], 60.0)
        os.write(master, b"q")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
