"""`crossglg-edge run / enroll / actions` as a user runs them: subprocesses, real files, real sockets,
the real MediaPipe model. Errors must be one line on stderr with a non-zero exit and no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runtime_helpers import collect, playlist, utd
from shared_helpers import free_port

from edge import protocol
from edge.client import subscribe

pytestmark = pytest.mark.realdata
NTU_VIDEO = "ntu_sample/S001C001P001R001A001_rgb.avi"
NTU_SKELETON = "ntu_sample/S001C001P001R001A001.skeleton"


def _cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})  # fmt: skip


def _endpoints() -> list[str]:
    return ["--pub", f"tcp://127.0.0.1:{free_port()}", "--control", f"tcp://127.0.0.1:{free_port()}"]


def _one_line_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode != 0, proc
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and needle in errors[0], proc.stderr


def test_missing_model_unreadable_video_bad_camera(tmp_path: Path, data_dir: Path, tiny_onnx: Path,
                                                   pose_model_path: Path) -> None:  # fmt: skip
    store = ["--store", str(tmp_path / "store")]
    proc = _cli("run", "--skeleton", str(utd(data_dir, 23, 2)), "--model", str(tmp_path / "nope.onnx"),
                "--headless", *store, *_endpoints())  # fmt: skip
    _one_line_error(proc, "model file not found")

    garbage = tmp_path / "broken.avi"
    garbage.write_bytes(b"this is not a video" * 100)
    proc = _cli("run", "--video", str(garbage), "--model", str(tiny_onnx), "--pose-model", str(pose_model_path),
                "--headless", *store, *_endpoints())  # fmt: skip
    _one_line_error(proc, "cannot open video file")

    proc = _cli("run", "--camera", "57", "--model", str(tiny_onnx), "--pose-model", str(pose_model_path),
                "--headless", "--read-timeout", "2", *store, *_endpoints(), timeout=60)  # fmt: skip
    _one_line_error(proc, "camera 57")

    proc = _cli("enroll", "wave", "--skeleton", str(tmp_path / "missing.mat"), "--model", str(tiny_onnx), *store)
    _one_line_error(proc, "skeleton file not found")

    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_bytes(b"\x00garbage")
    proc = _cli("run", "--skeleton", str(utd(data_dir, 23, 2)), "--model", str(not_onnx), "--headless", *store,
                *_endpoints())  # fmt: skip
    _one_line_error(proc, "not a loadable ONNX model")


def test_enroll_from_skeleton_files_then_actions(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    store = ["--store", str(tmp_path / "store")]
    proc = _cli("enroll", "walk in place", "--skeleton", str(utd(data_dir, 23, 1)), "--model", str(tiny_onnx), *store)
    assert proc.returncode == 0, proc.stderr
    assert "enrolled new action 'walk in place'" in proc.stdout
    proc = _cli("enroll", "drink water", "--skeleton", str(data_dir / NTU_SKELETON), "--model", str(tiny_onnx), *store)
    assert proc.returncode == 0, proc.stderr
    proc = _cli("enroll", "walk in place", "--skeleton", str(utd(data_dir, 23, 2)), "--model", str(tiny_onnx), *store)
    assert "one more exemplar" in proc.stdout, proc.stdout

    listed = json.loads(_cli("actions", "list", "--json", *store).stdout)["actions"]
    assert {a["label"]: a["exemplars"] for a in listed} == {"walk in place": 2, "drink water": 1}
    assert json.loads(_cli("actions", "rename", "walk in place", "march", "--json", *store).stdout)["label"] == "march"
    assert json.loads(_cli("actions", "remove", "drink water", "--json", *store).stdout) == {"removed": "drink-water"}
    listed = json.loads(_cli("actions", "list", "--json", *store).stdout)["actions"]
    assert [(a["label"], a["slug"]) for a in listed] == [("march", "walk-in-place")]
    _one_line_error(_cli("actions", "remove", "nothing", *store), "no enrolled action with label or slug 'nothing'")
    empty = _cli("actions", "list", "--json", "--store", str(tmp_path / "empty"))
    assert empty.returncode == 0 and json.loads(empty.stdout)["actions"] == []


def test_remove_and_rename_never_hit_the_wrong_action(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    """"tai chi" gets slug tai-chi, "tai-chi" gets tai-chi-2: the name "tai-chi" is ambiguous and refused;
    naming the field picks exactly one, and the other action's recording stays on disk."""
    root = tmp_path / "store"
    store = ["--store", str(root)]
    for label, trial in (("tai chi", 1), ("tai-chi", 2)):
        proc = _cli("enroll", label, "--skeleton", str(utd(data_dir, 22, trial)), "--model", str(tiny_onnx), *store)
        assert proc.returncode == 0, proc.stderr
    listed = json.loads(_cli("actions", "list", "--json", *store).stdout)["actions"]
    assert [(a["label"], a["slug"]) for a in listed] == [("tai chi", "tai-chi"), ("tai-chi", "tai-chi-2")]
    before = sorted(p.name for p in (root / "exemplars").iterdir())

    for cmd in (("remove", "tai-chi"), ("rename", "tai-chi", "qigong")):
        proc = _cli("actions", *cmd, *store)
        _one_line_error(proc, "'tai-chi' names two actions")
        assert "'tai chi' (slug tai-chi)" in proc.stderr and "'tai-chi' (slug tai-chi-2)" in proc.stderr
    assert sorted(p.name for p in (root / "exemplars").iterdir()) == before  # nothing touched

    assert json.loads(_cli("actions", "rename", "tai-chi", "qigong", "--by", "slug", "--json", *store).stdout) == {
        "renamed": "tai-chi", "label": "qigong"}
    assert json.loads(_cli("actions", "remove", "tai-chi", "--by", "label", "--json", *store).stdout) == {
        "removed": "tai-chi-2"}
    listed = json.loads(_cli("actions", "list", "--json", *store).stdout)["actions"]
    assert [(a["label"], a["slug"]) for a in listed] == [("qigong", "tai-chi")]
    assert sorted(p.name for p in (root / "exemplars").iterdir()) == ["tai-chi.0.npz"]
    _one_line_error(_cli("actions", "remove", "tai-chi-2", "--by", "label", *store), "no enrolled action with label")


def test_enroll_from_video_then_run_video_headless(tmp_path: Path, data_dir: Path, tiny_onnx: Path,
                                                   pose_model_path: Path) -> None:  # fmt: skip
    """Enroll from the NTU colour video (MediaPipe), then run that video: labels, pose, heartbeats."""
    store = ["--store", str(tmp_path / "store")]
    proc = _cli("enroll", "drink", "--video", str(data_dir / NTU_VIDEO), "--mirror", "--hfov", "84",
                "--pose-model", str(pose_model_path), "--model", str(tiny_onnx), *store)  # fmt: skip
    assert proc.returncode == 0 and "enrolled new action 'drink'" in proc.stdout, proc.stderr
    ends = _endpoints()
    with subscribe(ends[1], topics=[protocol.TOPIC_PREFIX]) as sub:
        proc = _cli("run", "--video", str(data_dir / NTU_VIDEO), "--mirror", "--hfov", "84", "--pose-model",
                    str(pose_model_path), "--model", str(tiny_onnx), "--headless", "--max-seconds", "90",
                    "--stride", "8", *store, *ends, timeout=150)  # fmt: skip
        msgs = collect(sub, quiet_s=0.5)
    assert proc.returncode == 0 and "source_end" in proc.stderr, proc.stderr
    labels = [m.payload for m in msgs if m.kind == "label"]
    assert labels and sub.invalid == 0
    classified = [p for p in labels if p["topk"]]
    assert classified, [p["reason"] for p in labels]  # full windows went through the model
    assert all(p["topk"][0]["label"] == "drink" and p["latency_ms"]["model"] > 0 for p in classified)
    assert all(p["latency_ms"]["pose"] > 0 and p["latency_ms"]["total"] >= p["latency_ms"]["pose"] for p in classified)
    poses = [m.payload for m in msgs if m.kind == "pose"]
    assert poses and all(p["space"] == "image" and p["image_size"] == [1920, 1080] for p in poses)
    pts = [xy for p in poses for t in p["tracks"] for xy in t["xy"] if xy is not None]
    assert pts and all(0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 for x, y in pts)
    hb = [m.payload for m in msgs if m.kind == "hb"]
    assert hb and hb[-1]["status"]["backend"] == "onnxruntime" and hb[-1]["status"]["actions"] == 1


def test_max_seconds_and_sigterm_stop_a_realtime_run(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    replay = tmp_path / "long.npz"
    playlist([utd(data_dir, 23, s) for s in (2, 3, 4, 5)], replay)  # ~20 s at real time
    base = ["run", "--skeleton", str(replay), "--model", str(tiny_onnx), "--headless", "--realtime",
            "--store", str(tmp_path / "store")]  # fmt: skip
    t0 = time.monotonic()
    proc = _cli(*base, "--max-seconds", "2", *_endpoints())
    assert proc.returncode == 0 and "max_seconds" in proc.stderr, proc.stderr
    assert time.monotonic() - t0 < 30

    p = subprocess.Popen([sys.executable, "-m", "edge.cli", *base, *_endpoints()], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        line = p.stderr.readline()  # the start line: the runtime is up
        assert "crossglg-edge run:" in line and time.monotonic() < deadline
        time.sleep(1.0)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0 and "stopped" in err, err


def test_store_of_another_model_is_refused_until_reembedded(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    import numpy as np

    from edge.runtime import open_model, preprocess_config_for
    from edge.skeleton_files import load_skeleton_file
    from edge.store import SupportStore

    with open_model(tiny_onnx) as engine:
        pp_id = preprocess_config_for(engine.meta).id
    root = tmp_path / "store"
    old = SupportStore.create(root, "fingerprint-of-an-older-model", pp_id)
    clip = load_skeleton_file(utd(data_dir, 23, 1)).joints
    old.add_action("walk", clip, np.random.default_rng(0).normal(size=64).astype(np.float32))
    run = ["run", "--skeleton", str(utd(data_dir, 23, 2)), "--model", str(tiny_onnx), "--headless", "--store", str(root)]
    _one_line_error(_cli(*run, *_endpoints()), "actions reembed")
    done = _cli("actions", "reembed", "--model", str(tiny_onnx), "--store", str(root), "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["reembedded"] == 1, done.stderr
    proc = _cli(*run, *_endpoints())
    assert proc.returncode == 0 and "1 action(s) enrolled" in proc.stderr, proc.stderr
