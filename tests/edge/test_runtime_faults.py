"""Faults while the pipeline runs (issue 14.2), on real UTD-MHAD recordings, the trained test
encoder, a real publisher and real subscriber processes: subscribers that die or stop reading, a
long stretch with nobody in view, joints that go NaN. Each time the runtime keeps publishing,
recognition comes back, and the support store is exactly what it was."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from runtime_helpers import FPS, collect, enroll_file, playlist, store_bytes, sync, utd
from schema_check import assert_valid
from shared_helpers import free_port

from edge.client import subscribe
from edge.pipeline import Pipeline, PipelineConfig
from edge.publisher import Publisher, PublisherConfig
from edge.runtime import open_model, open_support_store
from edge.skeleton_files import load_skeleton_file
from edge.sources import Source
from edge.window import WindowConfig

pytestmark = pytest.mark.realdata
MODEL = Path(__file__).resolve().parents[1] / "assets" / "crossglg_realdata.onnx"  # the trained test encoder
STOP_S = 8.0  # SIGSTOP length; see test_subscribers_killed_or_stopped_never_stall_the_runtime
ISSUE_STOP_S = 30.0  # the issue's figure, at camera rate


def _listener(endpoint: str, out: Path) -> subprocess.Popen:
    """A real subscriber process: `crossglg-edge listen`, one JSON line per message into ``out``."""
    return subprocess.Popen([sys.executable, "-m", "edge.cli", "listen", "--connect", endpoint],
                            stdout=out.open("w"), stderr=subprocess.DEVNULL)  # fmt: skip


def _labels(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    return [p for p in (json.loads(x)["payload"] for x in lines if x.strip()) if p["kind"] == "label"]


def _seq_gaps(labels: list[dict]) -> int:
    seqs = [p["seq"] for p in labels]
    return sum(b - a - 1 for a, b in zip(seqs, seqs[1:], strict=False))


def test_subscribers_killed_or_stopped_never_stall_the_runtime(tmp_path: Path, data_dir: Path) -> None:
    """Three `listen` processes on a lossless replay: one SIGKILLed, one SIGSTOPped then SIGCONTed,
    one healthy. The runtime publishes on at its rate through both; the stopped one resumes.

    The stop is STOP_S of a fast replay (the issue's 30 s at camera pace is
    test_a_subscriber_stopped_for_30_s_at_camera_pace): what fills a stopped subscriber's buffers is
    messages, and the replay publishes more labels in STOP_S than a camera does in 30 s (asserted
    below: 30 s x 30 fps / stride 8 = 113 labels), with the runtime at full speed. Measured: even a 25 s
    stop of this replay (1,318 labels, 0.8 MB on all topics) reaches no high-water mark (SNDHWM
    1000 plus the kernel's socket buffers), so nothing is lost; the drop path itself (a queue that
    does fill: gaps counted exactly, the sender never blocks) is test_zmq_pubsub's 40 MB test."""
    replay = tmp_path / "long.npz"
    # 88 clips: longer than max_seconds even on a fast host, so the replay is still publishing
    # after SIGCONT (a quiet CI host once finished 44 clips before it)
    playlist([utd(data_dir, a, s) for s in range(1, 9) for a in range(1, 12)], replay)
    with open_model(MODEL, threads=1) as engine, \
            Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", count_subscribers=True)) as pub:
        store = open_support_store(tmp_path / "store", engine)
        for a in (1, 2, 3):
            enroll_file(store, engine, utd(data_dir, a, 6), f"action {a}")
        before = store_bytes(store.root)
        procs = {k: _listener(pub.endpoint, tmp_path / f"{k}.jsonl") for k in ("killed", "stopped", "healthy")}
        try:
            assert pub.wait_for_subscribers(3, 60) == 3
            pipe = Pipeline(Source.from_skeleton_file(replay), engine, store, pub,
                            PipelineConfig(lossless=True, max_seconds=STOP_S + 6))  # fmt: skip
            pipe.start()
            time.sleep(3.0)
            t_stop = time.time()
            procs["killed"].send_signal(signal.SIGKILL)
            procs["stopped"].send_signal(signal.SIGSTOP)
            time.sleep(STOP_S)
            t_cont = time.time()
            procs["stopped"].send_signal(signal.SIGCONT)
            result = pipe.wait(timeout=60)
            time.sleep(1.5)  # the listeners write what is still queued
        finally:
            for p in procs.values():
                p.send_signal(signal.SIGCONT)
                p.terminate()
                p.wait(timeout=10)
        assert result is not None and result.reason in ("max_seconds", "source_end"), result
        assert procs["killed"].returncode == -signal.SIGKILL
    healthy, stopped = _labels(tmp_path / "healthy.jsonl"), _labels(tmp_path / "stopped.jsonl")
    assert len(healthy) == result.stats["labels"] and _seq_gaps(healthy) == 0  # every label, in order
    rate_before = sum(t_stop - 2.0 <= p["t_pub"] < t_stop for p in healthy) / 2.0
    rate_during = sum(t_stop <= p["t_pub"] < t_cont for p in healthy) / STOP_S
    assert rate_before > 0 and rate_during >= 0.5 * rate_before, (rate_before, rate_during)
    during = sum(t_stop <= p["t_pub"] < t_cont for p in healthy)
    assert during >= ISSUE_STOP_S * FPS / WindowConfig.stride, during  # more than a camera's 30 s
    # the stopped subscriber resumed: it read what was published while it was stopped (it can only have
    # read those after SIGCONT) and, below every high-water mark, lost nothing
    assert sum(t_stop <= p["t_pub"] < t_cont for p in stopped) == during
    assert [p["seq"] for p in stopped] == [p["seq"] for p in healthy]
    assert store_bytes(tmp_path / "store") == before


def _messages(path: Path) -> list[tuple[str, dict]]:
    """Every ``(topic, payload)`` a `listen` process wrote, in arrival order."""
    return [(m["topic"], m["payload"]) for m in (json.loads(x) for x in path.read_text().splitlines() if x.strip())]


def _from_first_label(msgs: list[tuple[str, dict]]) -> list[tuple[str, int]]:
    """``(topic, seq)`` from the first label on (heartbeats before it depend on when a listener joined)."""
    k = next(i for i, (_, p) in enumerate(msgs) if p["kind"] == "label")
    return [(t, p["seq"]) for t, p in msgs[k:]]


def _gaps_per_topic(msgs: list[tuple[str, dict]]) -> dict[str, int]:
    """Missing ``seq`` numbers per topic (each topic counts from its own 0)."""
    seqs: dict[str, list[int]] = {}
    for topic, p in msgs:
        seqs.setdefault(topic, []).append(p["seq"])
    return {t: sum(b - a - 1 for a, b in zip(v, v[1:], strict=False)) for t, v in seqs.items()}


def _wait_for_label(path: Path, run: subprocess.Popen, err: Path, timeout: float) -> None:
    """Block until the `listen` output ``path`` holds a label (fails if ``run`` ends first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and '"kind":"label"' in path.read_text():  # listen's compact JSON
            return
        assert run.poll() is None, f"run ended before any label: {err.read_text()}"
        time.sleep(0.1)
    raise AssertionError(f"no label reached {path.name} within {timeout} s: {err.read_text()}")


@pytest.mark.slow  # about 60 s: the issue's 30 s stop at camera pace, with time around it
def test_a_subscriber_stopped_for_30_s_at_camera_pace(tmp_path: Path, data_dir: Path) -> None:
    """The issue's case literally: `crossglg-edge run --realtime` replays real recordings at camera
    pace to three `crossglg-edge listen` processes; one is SIGKILLed and one SIGSTOPped for 30 s,
    then SIGCONTed. The runtime publishes at its pace throughout, the healthy subscriber sees every
    message with no seq gap, and the stopped one reads on after SIGCONT and loses nothing: what is
    published in 30 s at camera pace (labels, poses, heartbeats; counted below) is under the
    publisher's SNDHWM, so ZeroMQ queues it for the stopped peer instead of dropping (past it, the
    loss would show as a seq gap: test_zmq_pubsub's 40 MB test)."""
    pre, post = 5.0, 6.0  # seconds of publishing before the stop and after SIGCONT
    clips = [utd(data_dir, a, s) for s in (1, 2) for a in range(1, 12)]
    replay = tmp_path / "camera.npz"
    spans = playlist(clips, replay)
    n = next(k for k, (_, _, end) in enumerate(spans) if end >= 3.0 + pre + ISSUE_STOP_S + post + 3.0) + 1
    playlist(clips[:n], replay)  # about 47 s of frames; a label from about 2 s on
    with open_model(MODEL, threads=1) as engine:
        store = open_support_store(tmp_path / "store", engine)
        for a in (1, 2, 3):
            enroll_file(store, engine, utd(data_dir, a, 6), f"action {a}")
    before = store_bytes(tmp_path / "store")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    out = {k: tmp_path / f"{k}.jsonl" for k in ("killed", "stopped", "healthy")}
    procs = {k: _listener(endpoint, path) for k, path in out.items()}
    err = (tmp_path / "run.err").open("w")
    run = subprocess.Popen([sys.executable, "-m", "edge.cli", "run", "--headless", "--realtime",
                            "--skeleton", str(replay), "--model", str(MODEL), "--store", str(tmp_path / "store"),
                            "--pub", endpoint, "--control", "off", "--wait-subscribers", "3", "--wait-timeout", "60"],
                           stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    try:
        _wait_for_label(out["healthy"], run, tmp_path / "run.err", 90)
        time.sleep(pre)
        t_stop = time.time()
        procs["killed"].send_signal(signal.SIGKILL)
        procs["stopped"].send_signal(signal.SIGSTOP)
        time.sleep(1.0)
        size_stopped = out["stopped"].stat().st_size
        time.sleep(ISSUE_STOP_S - 1.0)
        t_cont = time.time()
        grew = out["stopped"].stat().st_size - size_stopped  # 0: it really read nothing while stopped
        procs["stopped"].send_signal(signal.SIGCONT)
        assert run.poll() is None, "the replay ended during the stop: make it longer"
        run.wait(timeout=120)
        time.sleep(1.5)  # the listeners write what is still queued
    finally:
        for p in (run, *procs.values()):
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.terminate()
                p.wait(timeout=10)
        err.close()
    stderr = (tmp_path / "run.err").read_text()
    assert run.returncode == 0 and "run: source_end:" in stderr, stderr
    published = int(stderr.split(" windows, ")[1].split(" labels")[0])
    assert procs["killed"].returncode == -signal.SIGKILL
    healthy, stopped = _messages(out["healthy"]), _messages(out["stopped"])
    h_labels = [p for _, p in healthy if p["kind"] == "label"]
    assert [p["seq"] for p in h_labels] == list(range(published))  # every label, from the first
    assert not any(_gaps_per_topic(healthy).values()), _gaps_per_topic(healthy)  # nor any other message
    for topic, payload in healthy:
        assert_valid(topic, payload)
    # the runtime kept its pace through the stop: the label rate before vs during, and the frame clock
    rate_before = sum(t_stop - 4.0 <= p["t_pub"] < t_stop for p in h_labels) / 4.0
    during = [p for p in h_labels if t_stop <= p["t_pub"] < t_cont]
    rate_during = len(during) / ISSUE_STOP_S
    camera_rate = FPS / WindowConfig.stride  # one label per stride of a 30 fps stream (3.75/s)
    assert 0.8 * camera_rate <= rate_before <= 1.2 * camera_rate, rate_before
    assert 0.8 * rate_before <= rate_during <= 1.2 * camera_rate, (rate_before, rate_during)
    assert during[-1]["t_frame"] - during[0]["t_frame"] >= ISSUE_STOP_S - 2.0  # the replay advanced 30 s
    # the stopped subscriber read on after SIGCONT and lost nothing: every message the healthy one got,
    # the ones published during the stop included (it can only have read those after SIGCONT)
    assert grew == 0, grew
    queued = sum(t_stop <= p["t_pub"] < t_cont for _, p in healthy)  # all topics, published during the stop
    assert queued < PublisherConfig().sndhwm, queued  # why nothing is lost: under the high-water mark
    assert _from_first_label(stopped) == _from_first_label(healthy)
    assert sum(p["t_pub"] > t_cont + 1.0 for _, p in stopped if p["kind"] == "label") >= 3 * camera_rate
    print(f"SIGSTOP 30 s at camera pace: {published} labels, {rate_before:.2f}/s before, {rate_during:.2f}/s "
          f"during, {queued} messages queued for the stopped subscriber, 0 lost")  # fmt: skip
    assert store_bytes(tmp_path / "store") == before


def test_a_long_stretch_with_nobody_in_view(tmp_path: Path, data_dir: Path) -> None:
    """Camera-paced replay: a clip, 10 s of empty frames (5x the track timeout), the clip again.
    Meanwhile labels say no_person and heartbeats go on; then the action is recognised again."""
    clip = utd(data_dir, 1, 1)
    replay = tmp_path / "empty.npz"
    playlist([clip], tmp_path / "one.npz")
    one = np.load(tmp_path / "one.npz")["joints"]
    empty = np.full((int(10 * FPS), 1, 25, 3), np.nan, np.float32)
    np.savez(replay, joints=np.concatenate([one, empty, one]), fps=np.float64(FPS))
    t_empty = (len(one), len(one) + len(empty))  # frames with nobody (plus the playlist's own gaps)
    with open_model(MODEL, threads=1) as engine, \
            Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="cam0")) as pub, \
            subscribe(pub.endpoint) as sub:
        store = open_support_store(tmp_path / "store", engine)
        enroll_file(store, engine, clip, "swipe left")
        before = store_bytes(store.root)
        sync(pub, sub)
        result = Pipeline(Source.from_skeleton_file(replay), engine, store, pub, PipelineConfig(realtime=True)).run()
        msgs = collect(sub, 1.0)
    assert result.reason == "source_end" and result.error is None
    lo, hi = (t / FPS for t in t_empty)
    labels = [m.payload for m in msgs if m.kind == "label"]
    inside = [p for p in labels if lo + 2.5 <= p["t_frame"] <= hi]  # past the window's own reach
    assert len(inside) >= 20 and all(p["state"] == "no_person" and p["track_id"] is None for p in inside)
    wall = [m.payload["t_pub"] for m in msgs if m.kind == "hb"]
    t0 = next(p["t_pub"] - p["t_frame"] for p in labels)  # wall clock of frame time 0
    assert sum(t0 + lo + 1 <= t <= t0 + hi - 1 for t in wall) >= 7  # 1 Hz through the empty stretch
    after = [p for p in labels if p["t_frame"] > hi]
    assert any(p["state"] == "action" and p["label"] == "swipe left" for p in after), after
    assert store_bytes(tmp_path / "store") == before


def test_joints_that_go_nan_mid_stream(tmp_path: Path, data_dir: Path) -> None:
    """One person performing a clip six times without a break; during the second time the right
    arm is NaN, during the third every joint but the spine (a person still detected, but
    unusable). No warning, no exception; windows mostly in the NaN stretch are gated
    low_visibility, and once the window is past it the action is recognised again."""
    clip = utd(data_dir, 1, 1)
    j = load_skeleton_file(clip).joints[:, :1]
    hold = np.repeat(j[:1], 30, 0)
    joints = np.concatenate([hold, *[j] * 6, np.repeat(j[-1:], 30, 0)]).astype(np.float32)
    a, n = len(hold) + len(j), len(j)  # the second performance
    joints[a:a + n, :, [8, 9, 10, 11, 23, 24]] = np.nan  # right arm (NTU joints 9-12, 24, 25)
    joints[a + n:a + 2 * n, :, 2:] = np.nan  # then only the spine base and middle remain
    np.savez(tmp_path / "nan.npz", joints=joints, fps=np.float64(FPS))
    with open_model(MODEL, threads=1) as engine, \
            Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as pub, subscribe(pub.endpoint) as sub:
        store = open_support_store(tmp_path / "store", engine)
        enroll_file(store, engine, clip, "swipe left")
        before = store_bytes(store.root)
        sync(pub, sub)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a RuntimeWarning in either thread would end the run as an error
            source = Source.from_skeleton_file(tmp_path / "nan.npz")
            result = Pipeline(source, engine, store, pub, PipelineConfig(lossless=True)).run()
        labels = [m.payload for m in collect(sub, 1.0) if m.kind == "label"]
    assert result.reason == "source_end" and result.error is None, result
    assert len(labels) == result.stats["labels"] == result.stats["windows"] and sub.missed == 0
    assert all(p["track_id"] == labels[-1]["track_id"] is not None for p in labels)  # one person throughout
    t_nan, t_ok = a / FPS, (a + 2 * n + WindowConfig.frames) / FPS  # from then on, windows are clean

    def recognised(ps: list[dict]) -> bool:
        return any(p["state"] == "action" and p["label"] == "swipe left" for p in ps)

    assert recognised([p for p in labels if p["t_frame"] < t_nan])
    gated = [p for p in labels if (a + n) / FPS + 1.0 <= p["t_frame"] <= (a + 2 * n) / FPS]  # > 30 % NaN
    assert gated and all(p["reason"] == "low_visibility" for p in gated), gated
    assert recognised([p for p in labels if p["t_frame"] > t_ok])
    assert store_bytes(tmp_path / "store") == before
