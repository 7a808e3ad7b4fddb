"""Benchmark: the edge runtime's middle (window, matcher, publisher) against baselines in the same run.

Measures, interleaved in one process:

- publish: ``Publisher.publish_label`` (schema build + validation + JSON + NOBLOCK send) vs a raw
  ``socket.send_multipart`` of a pre-encoded label (baseline), per message;
- loopback latency: publish -> ``edge.client`` receive (decode + validation), p50/p99, vs raw PUB/SUB;
- window: ``Windower.push`` per frame (1 and 4 tracks) and ``preprocess`` per window;
- matcher: ``Matcher.match`` per window, cosine vs distribution calibration, plus the DC fit time.

Prints JSON (medians in microseconds, ratios to the baselines).

    .venv/bin/python tools/bench/bench_edge_middle.py [--n 3000] [--actions 10] [--dim 256]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import zmq

from crossglg.oneshot import base_statistics
from crossglg.preprocess import PreprocessConfig, preprocess
from edge import protocol
from edge.client import subscribe
from edge.frames import SkeletonFrame, make_person
from edge.matcher import Matcher, MatcherConfig, SupportSet
from edge.publisher import Publisher, PublisherConfig
from edge.window import WindowConfig, Windower


def _median_us(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e6, 2)


def _pct_us(samples: list[float], q: float) -> float:
    return round(float(np.percentile(samples, q)) * 1e6, 1)


def bench_publish(n: int) -> dict:
    kw = dict(track_id=1, state="action", label="wave", score=0.9, margin=0.2,
              topk=[("wave", 0.9), ("clap", 0.5), ("jump", 0.3)], t_frame=1.0,
              latency_ms={"pose": 25.0, "model": 19.0, "match": 0.1, "total": 47.0})
    ctx = zmq.Context.instance()
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", sndhwm=100_000)) as pub:
        raw = ctx.socket(zmq.PUB)
        raw.setsockopt(zmq.LINGER, 0)
        raw.setsockopt(zmq.SNDHWM, 100_000)
        raw.bind("tcp://127.0.0.1:*")
        frames = protocol.encode("crossglg.v1.label.default", {"x": 1, **{k: str(v) for k, v in kw.items()}})
        ours, base = [], []
        for _ in range(n):  # interleaved so both see the same machine load
            t0 = time.perf_counter()
            pub.publish_label(**kw)
            t1 = time.perf_counter()
            raw.send_multipart(frames, flags=zmq.NOBLOCK)
            t2 = time.perf_counter()
            ours.append(t1 - t0)
            base.append(t2 - t1)
        raw.close(0)
    return {"publish_label_us": _median_us(ours), "raw_send_us": _median_us(base),
            "ratio": round(statistics.median(ours) / statistics.median(base), 1)}


def bench_latency(n: int) -> dict:
    ctx = zmq.Context.instance()
    out = {}
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as pub, subscribe(pub.endpoint) as sub:
        raw_pub = ctx.socket(zmq.PUB)
        raw_pub.setsockopt(zmq.LINGER, 0)
        raw_pub.bind("tcp://127.0.0.1:*")
        raw_sub = ctx.socket(zmq.SUB)
        raw_sub.setsockopt(zmq.LINGER, 0)
        raw_sub.setsockopt(zmq.SUBSCRIBE, b"")
        raw_sub.connect(raw_pub.getsockopt_string(zmq.LAST_ENDPOINT))
        while sub.recv(0.02) is None:
            pub.heartbeat()
        while not raw_sub.poll(20):
            raw_pub.send_multipart([b"t", b"sync"])
        raw_sub.recv_multipart()
        ours, base = [], []
        for i in range(n):
            t0 = time.perf_counter()
            pub.publish_label(track_id=1, state="none", reason="idle", t_frame=i / 30)
            msg = sub.recv(1.0)
            t1 = time.perf_counter()
            raw_pub.send_multipart([b"t", b"{}"])
            raw_sub.recv_multipart()
            t2 = time.perf_counter()
            if msg is not None and msg.kind == "label":
                ours.append(t1 - t0)
            base.append(t2 - t1)
        raw_pub.close(0)
        raw_sub.close(0)
    out.update(edge_p50_us=_median_us(ours), edge_p99_us=_pct_us(ours, 99), raw_p50_us=_median_us(base),
               raw_p99_us=_pct_us(base, 99), ratio_p50=round(statistics.median(ours) / statistics.median(base), 2))
    return out


def bench_window(n: int) -> dict:
    rng = np.random.default_rng(0)
    base = rng.normal(0, 0.3, (25, 3)).astype(np.float32)
    res = {}
    for tracks in (1, 4):
        win = Windower(WindowConfig())
        times, n_windows = [], 0
        for i in range(n):
            t = i / 30 + rng.uniform(-0.004, 0.004)
            people = tuple(make_person(k, base + 0.1 * np.sin(t + k)) for k in range(tracks))
            f = SkeletonFrame(t, i, people)
            t0 = time.perf_counter()
            r = win.push(f)
            times.append(time.perf_counter() - t0)
            n_windows += sum(o.ready for o in r.outputs)
        res[f"push_{tracks}_tracks_us"] = _median_us(times)
        res[f"windows_{tracks}_tracks"] = n_windows
    clip = rng.normal(0, 0.3, (64, 1, 25, 3)).astype(np.float32)
    cfg = PreprocessConfig()
    pp = []
    for _ in range(200):
        t0 = time.perf_counter()
        preprocess(clip, cfg)
        pp.append(time.perf_counter() - t0)
    res["preprocess_window_us"] = _median_us(pp)
    return res


def bench_matcher(actions: int, dim: int, n: int) -> dict:
    rng = np.random.default_rng(0)
    emb = tuple(rng.normal(size=(1, dim)).astype(np.float32) for _ in range(actions))
    sup = SupportSet(tuple(f"a{i}" for i in range(actions)), tuple(f"a{i}" for i in range(actions)), emb)
    base_feats = np.abs(rng.normal(size=(40 * 20, dim)))
    stats = base_statistics(base_feats, np.repeat(np.arange(40), 20))
    cos = Matcher(sup, MatcherConfig(use_dc=False))
    t0 = time.perf_counter()
    dc = Matcher(sup, MatcherConfig(), base_stats=stats)
    fit_s = time.perf_counter() - t0
    q = rng.normal(size=(n, dim)).astype(np.float32)
    tc, td = [], []
    for row in q:
        t0 = time.perf_counter()
        cos.match(row)
        t1 = time.perf_counter()
        dc.match(row)
        t2 = time.perf_counter()
        tc.append(t1 - t0)
        td.append(t2 - t1)
    return {"actions": actions, "dim": dim, "cosine_match_us": _median_us(tc), "dc_match_us": _median_us(td),
            "dc_over_cosine": round(statistics.median(td) / statistics.median(tc), 2), "dc_fit_s": round(fit_s, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--actions", type=int, default=10)
    ap.add_argument("--dim", type=int, default=256)
    args = ap.parse_args()
    report = {
        "publish": bench_publish(args.n),
        "loopback_latency": bench_latency(min(args.n, 2000)),
        "window": bench_window(args.n),
        "matcher": bench_matcher(args.actions, args.dim, min(args.n, 1000)),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
