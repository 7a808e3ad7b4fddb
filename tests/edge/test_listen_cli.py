"""`crossglg-edge listen` as a subprocess against a real publisher."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from edge.publisher import Publisher, PublisherConfig


def _spawn(*args: str) -> subprocess.Popen:
    import signal

    # a test run started in the background by a non-interactive shell inherits SIGINT ignored, and
    # Python keeps an ignored SIGINT ignored: give the child the default so Ctrl-C is testable
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "listen", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_listen_count_prints_json_lines() -> None:
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="cam0")) as pub:
        proc = _spawn("--connect", pub.endpoint, "--count", "3", "--topic", "crossglg.v1.label.", "--timeout", "20")
        deadline = time.monotonic() + 20
        i = 0
        while proc.poll() is None and time.monotonic() < deadline:
            pub.publish_label(track_id=2, state="unknown", score=0.4, margin=0.01, reason="low_margin",
                              topk=[("wave", 0.4)], t_frame=i / 30.0)
            pub.heartbeat()  # filtered out by --topic
            i += 1
            time.sleep(0.02)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 3
    rows = [json.loads(line) for line in lines]
    assert all(r["topic"] == "crossglg.v1.label.cam0" and r["payload"]["state"] == "unknown" for r in rows)
    seqs = [r["payload"]["seq"] for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


def test_listen_timeout_exits_1() -> None:
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as pub:
        proc = _spawn("--connect", pub.endpoint, "--timeout", "0.3")
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1 and out == "" and "no message" in err


def _publish_until(pub: Publisher, proc: subprocess.Popen, cond, limit_s: float = 20.0) -> None:
    deadline = time.monotonic() + limit_s
    i = 0
    while not cond() and time.monotonic() < deadline:
        pub.publish_label(track_id=1, state="none", reason="idle", t_frame=i / 30.0)
        i += 1
        time.sleep(0.02)


def test_listen_exits_cleanly_on_closed_pipe_and_ctrl_c() -> None:
    import signal

    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as pub:
        # reader goes away after one line (like `| head -1`): no traceback, exit 0
        proc = _spawn("--connect", pub.endpoint)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
        reader.start()
        _publish_until(pub, proc, lambda: not reader.is_alive())
        assert line and line[0].startswith('{"topic":"crossglg.v1.label.')
        proc.stdout.close()
        _publish_until(pub, proc, lambda: proc.poll() is not None)
        err = proc.stderr.read()
        assert proc.wait(timeout=10) == 0 and "Traceback" not in err, err

        # Ctrl-C inside the receive loop (proved by a first line): exit 0, no traceback
        proc = _spawn("--connect", pub.endpoint)
        reader = threading.Thread(target=proc.stdout.readline, daemon=True)
        reader.start()
        _publish_until(pub, proc, lambda: not reader.is_alive())
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0 and "Traceback" not in err, err
