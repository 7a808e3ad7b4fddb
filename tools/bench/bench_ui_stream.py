"""Benchmark: the terminal UI under a live stream: its CPU use, what it receives, and whether it slows the publisher.

Usage: ``python tools/bench/bench_ui_stream.py [--seconds 5] [--rates 70,2000]``

For each rate (messages per second: labels for 2 tracks, plus 10 Hz poses and 1 Hz heartbeats) the
UI runs headless in a child process (the real ``CrossGLGApp`` with its feed thread and a 120x40
screen) subscribed to a publisher in this process. Reported per rate: the child's CPU time as a
share of one core, messages received vs sent, UI wake-ups (batches), and the publisher's
``publish_label`` call time (p50/p99) with the UI attached relative to no subscriber, measured in
the same run.
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


def _publish_for(pub, rate: float, seconds: float, with_pose: bool = True) -> tuple[int, list[float]]:
    """Publish labels (2 tracks) at ``rate`` msg/s, poses at 10 Hz, heartbeats at 1 Hz; returns (sent, call times)."""
    pose = [[0.5, 0.1 + 0.03 * j] for j in range(25)]
    sent, calls = 0, []
    t0 = time.monotonic()
    next_pose = t0
    i = 0
    while (now := time.monotonic()) - t0 < seconds:
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
    ap.add_argument("--rates", default="70,2000", help="label messages per second, comma-separated")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.seconds)
        return
    from edge.publisher import Publisher, PublisherConfig

    for rate in (float(r) for r in args.rates.split(",")):
        with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="bench")) as pub:
            _, alone = _publish_for(pub, rate, min(2.0, args.seconds), with_pose=False)  # no subscriber yet
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            proc = subprocess.Popen([sys.executable, __file__, "--child", pub.endpoint, "--seconds", str(args.seconds)],
                                    stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # heartbeat until the UI has heard us
                pub.heartbeat()
                if select.select([proc.stdout], [], [], 0.05)[0] and proc.stdout.readline().strip() == "READY":
                    break
            else:
                proc.kill()
                raise SystemExit("the UI child never connected")
            sent, attached = _publish_for(pub, rate, args.seconds + 0.5)
            out, _ = proc.communicate(timeout=60)
        r = json.loads(out.strip().splitlines()[-1])
        print(f"rate {rate:g} labels/s (+10 Hz pose, 1 Hz hb): UI cpu {100 * r['cpu_s'] / r['wall_s']:.1f}% of a core, "
              f"received {r['received']} of ~{sent} sent, lost {r['lost']}, {r['wakes']} wake-ups "
              f"({r['received'] / max(1, r['wakes']):.1f} msgs per wake-up, at most 10 redraws/s); publish_label p50 "
              f"{_pct(attached, 0.5):.0f} us / p99 {_pct(attached, 0.99):.0f} us with the UI vs "
              f"{_pct(alone, 0.5):.0f} / {_pct(alone, 0.99):.0f} us alone "
              f"(ratio p50 {_pct(attached, 0.5) / _pct(alone, 0.5):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
