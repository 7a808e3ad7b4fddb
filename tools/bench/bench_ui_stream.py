"""Benchmark: the terminal UI under a live stream: its CPU use, what it receives, and whether it slows the publisher.

Usage: ``python tools/bench/bench_ui_stream.py [--seconds 5] [--rates 0,8,70,2000]``

For each rate (messages per second: labels for 2 tracks, plus 10 Hz poses and 1 Hz heartbeats; 0 =
heartbeats only) the
UI runs headless in a child process (the real ``CrossGLGApp`` with its feed thread and a 120x40
screen) subscribed to a publisher in this process. Reported per rate: the child's CPU time as a
share of one core, messages received vs sent, UI wake-ups (batches), and the publisher's
``publish_label`` call time (p50/p99) with the UI attached relative to a plain subscriber
(``edge.client``, no drawing) on the same stream, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def child(endpoint: str, seconds: float) -> None:
    """Run the UI headless until ``seconds`` after the first message; print a JSON summary."""
    from edge.ui.app import CrossGLGApp

    class Measured(CrossGLGApp):
        wakes = 0
        t_first: float | None = None
        cpu_first = 0.0

        def on_feed_wake(self, event) -> None:
            self.wakes += 1
            super().on_feed_wake(event)
            if self.t_first is None and self.state.received:
                self.t_first, self.cpu_first = time.monotonic(), time.process_time()
                print("READY", flush=True)
                self.set_timer(seconds, self.exit)

    app = Measured(endpoint)
    app.run(headless=True, size=(120, 40))
    wall = time.monotonic() - (app.t_first or time.monotonic())
    print(json.dumps({"received": app.state.received, "wakes": app.wakes, "wall_s": wall,
                      "cpu_s": time.process_time() - app.cpu_first, "lost": app.feed.missed + app.feed.dropped}),
          flush=True)  # fmt: skip


def plain_child(endpoint: str, seconds: float) -> None:
    """A minimal subscriber (edge.client, no UI): the baseline cost of having any subscriber attached."""
    from edge.client import subscribe

    with subscribe(endpoint) as sub:
        while sub.recv(timeout=0.1) is None:
            pass
        print("READY", flush=True)
        c0, t0, n = time.process_time(), time.monotonic(), 1
        while time.monotonic() - t0 < seconds:
            n += sub.recv(timeout=0.1) is not None
        print(json.dumps({"received": n, "wakes": 0, "wall_s": time.monotonic() - t0,
                          "cpu_s": time.process_time() - c0, "lost": sub.missed}), flush=True)  # fmt: skip


def _publish_for(pub, rate: float, seconds: float, with_pose: bool = True) -> tuple[int, list[float]]:
    """Publish labels (2 tracks) at ``rate`` msg/s, poses at 10 Hz, heartbeats at 1 Hz; returns (sent, call times)."""
    pose = [[0.5, 0.1 + 0.03 * j] for j in range(25)]
    sent, calls = 0, []
    t0 = time.monotonic()
    next_pose = t0
    i = 0
    while (now := time.monotonic()) - t0 < seconds:
        if rate <= 0:  # heartbeats only: an idle runtime
            sent += pub.tick()
            time.sleep(0.05)
            continue
        target = t0 + i / rate
        if target > now:
            time.sleep(target - now)
        c0 = time.perf_counter()
        pub.publish_label(track_id=i % 2, state="action", label="wave", score=0.8, margin=0.2,
                          topk=[("wave", 0.8), ("clap", 0.4)], t_frame=i / 30.0, latency_ms={"total": 40.0})
        calls.append(time.perf_counter() - c0)
        sent += 1
        if with_pose and now >= next_pose:
            pub.publish_pose(t_frame=i / 30.0, tracks=[(0, pose, [1.0] * 25), (1, pose, [1.0] * 25)], space="image",
                             image_size=(640, 480))
            next_pose += 0.1
            sent += 1
        sent += pub.tick()
        i += 1
    return sent, calls


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rates", default="0,8,70,2000",
                    help="label messages per second, comma-separated (0: heartbeats only)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        (plain_child if args.plain else child)(args.child, args.seconds)
        return
    from edge.publisher import Publisher, PublisherConfig

    for rate in (float(r) for r in args.rates.split(",")):
        with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="bench")) as pub:
            base, _, base_calls = _attached(pub, rate, args.seconds, plain=True)
            r, sent, ui_calls = _attached(pub, rate, args.seconds, plain=False)
        cpu, base_cpu = 100 * r["cpu_s"] / r["wall_s"], 100 * base["cpu_s"] / base["wall_s"]
        if rate <= 0:
            print(f"heartbeats only: UI cpu {cpu:.1f}% of a core (plain subscriber {base_cpu:.1f}%), {r['wakes']} wake-ups")
            continue
        p50, p99, b50, b99 = (_pct(ui_calls, 0.5), _pct(ui_calls, 0.99), _pct(base_calls, 0.5), _pct(base_calls, 0.99))
        print(f"rate {rate:g} labels/s (+10 Hz pose, 1 Hz hb): UI cpu {cpu:.1f}% of a core (plain subscriber "
              f"{base_cpu:.1f}%); received {r['received']} of ~{sent} sent, lost {r['lost']}; {r['wakes']} wake-ups "
              f"({r['received'] / max(1, r['wakes']):.1f} msgs each); publish_label p50/p99 {p50:.0f}/{p99:.0f} us "
              f"with the UI vs {b50:.0f}/{b99:.0f} us with a plain subscriber (p50 ratio {p50 / b50:.2f})")

def _attached(pub, rate: float, seconds: float, plain: bool) -> tuple[dict, int, list[float]]:
    """Run a subscriber child (the UI, or a plain one), publish for ``seconds``; returns (summary, sent, call times)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, __file__, "--child", pub.endpoint, "--seconds", str(seconds), *(["--plain"] if plain else [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # heartbeat until the child has heard us
        pub.heartbeat()
        if select.select([proc.stdout], [], [], 0.05)[0] and proc.stdout.readline().strip() == "READY":
            break
    else:
        proc.kill()
        raise SystemExit("the subscriber child never connected")
    sent, calls = _publish_for(pub, rate, seconds + 0.5)
    out, _ = proc.communicate(timeout=60)
    return json.loads(out.strip().splitlines()[-1]), sent, calls

if __name__ == "__main__":
    main()
