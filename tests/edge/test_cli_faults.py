"""`crossglg-edge` as a new user meets it when things go wrong: real subprocesses, real recordings,
a real full disk and a real read-only store. Every failure is one line, no traceback, and the same
fault exits with the same code in every command (edge/errors.py: 1 runtime, 2 bad input)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fault_fs import limit_file_size, read_only_dir, store_files, tiny_tmpfs
from runtime_helpers import utd
from shared_helpers import free_port

from edge import protocol
from edge.client import subscribe
from edge.enrollment import MIN_SECONDS
from edge.skeleton_files import load_skeleton_file

pytestmark = pytest.mark.realdata
MODEL = Path(__file__).resolve().parents[1] / "assets" / "crossglg_realdata.onnx"  # the trained test encoder
NTU_SKELETON = "ntu_sample/S001C001P001R001A001.skeleton"  # 103 frames, 3.4 s


def _cli(*args: str, preexec=None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec, env={**os.environ})  # fmt: skip


def _one_line_error(proc: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1 and all(n in errors[0] for n in needles), proc.stderr
    return errors[0]


def _enroll(label: str, path: Path, store: Path, *extra: str, preexec=None) -> subprocess.CompletedProcess:
    return _cli("enroll", label, "--skeleton", str(path), "--model", str(MODEL), "--store", str(store), *extra,
                preexec=preexec)  # fmt: skip


def _committed(root: Path) -> list[str]:
    m = json.loads((root / "manifest.json").read_text())
    files = ["manifest.json", *(["manifest.json.bak"] if (root / "manifest.json.bak").exists() else [])]
    files += ([m["embeddings_file"]] if m["embeddings_file"] else []) + [e["file"] for a in m["actions"]
                                                                          for e in a["exemplars"]]  # fmt: skip
    return sorted(files)


def test_enroll_on_a_full_disk(tmp_path: Path, data_dir: Path) -> None:
    """64 KiB tmpfs (root); else RLIMIT_FSIZE (EFBIG). One line, exit 1, no orphan, later writes work."""
    with tiny_tmpfs(tmp_path / "fs", "64k") as fs:
        root = (fs or tmp_path) / "store"
        preexec = None if fs is not None else limit_file_size(24_000)
        reason = "No space left on device" if fs is not None else "File too large"
        clips = [utd(data_dir, a, 1) for a in (23, 22, 27, 24, 5, 6, 8)]
        failed = None
        for i, clip in enumerate(clips):
            proc = _enroll(f"action {i}", clip, root, preexec=preexec)
            if proc.returncode != 0:
                failed = i
                break
        assert failed, "the store never ran out of space"
        _one_line_error(proc, 1, "cannot write the support store", reason, "nothing was changed")
        assert store_files(root) == _committed(root)  # no exemplars/*.npz or embeddings.*.npz orphan
        proc = _cli("actions", "rename", "action 0", "renamed", "--store", str(root), preexec=preexec)
        assert proc.returncode == 0, proc.stderr
        assert _cli("actions", "remove", "renamed", "--store", str(root), preexec=preexec).returncode == 0
        proc = _enroll(f"action {failed}", clips[failed], root, preexec=preexec)
        assert proc.returncode == 0, proc.stderr
        listed = json.loads(_cli("actions", "list", "--json", "--store", str(root)).stdout)["actions"]
        assert [a["label"] for a in listed][-1] == f"action {failed}"
        assert store_files(root) == _committed(root)


def test_read_only_store(tmp_path: Path, data_dir: Path, pose_model_path: Path) -> None:
    src = tmp_path / "store"
    assert _enroll("walk", utd(data_dir, 23, 1), src).returncode == 0
    before = store_files(src)
    with read_only_dir(src, tmp_path / "ro") as (ro, how):
        reason = "Read-only file system" if how == "bind-mount" else "Permission denied"
        _one_line_error(_enroll("clap", utd(data_dir, 4, 1), ro), 1, str(ro), reason, "choose another --store")
        # checked before recording: the missing camera is never reached, the store is what is said
        proc = _cli("enroll", "clap", "--camera", "57", "--pose-model", str(pose_model_path), "--model", str(MODEL),
                    "--store", str(ro), "--countdown", "0")  # fmt: skip
        _one_line_error(proc, 1, reason)
        _one_line_error(_cli("actions", "rename", "walk", "march", "--store", str(ro)), 1, reason)
        _one_line_error(_cli("actions", "remove", "walk", "--store", str(ro)), 1, reason)
        listed = _cli("actions", "list", "--json", "--store", str(ro))
        assert listed.returncode == 0 and [a["label"] for a in json.loads(listed.stdout)["actions"]] == ["walk"]
        assert store_files(ro) == before


def test_labels_are_bounded_at_enroll_and_rename(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "store"
    clip = utd(data_dir, 23, 1)
    _one_line_error(_enroll("wave\nhello", clip, store), 2, "U+000A")
    _one_line_error(_enroll("x" * 30_000, clip, store), 2, "at most 80 characters, got 30000")
    assert _enroll("wave", clip, store).returncode == 0
    _one_line_error(_cli("actions", "rename", "wave", "two\nlines", "--store", str(store)), 2, "U+000A")
    lines = _cli("actions", "list", "--store", str(store)).stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wave\t")


def test_bad_skeleton_files_and_exit_codes_agree(tmp_path: Path, data_dir: Path, pose_model_path: Path) -> None:
    """empty .npy, inf in a .npy, an unreadable video, --fps on a video: `run` and `enroll` say the same
    thing with the same exit code (2: the input cannot be used)."""
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    joints = load_skeleton_file(data_dir / NTU_SKELETON).joints
    with_inf = tmp_path / "inf.npy"
    bad = joints.copy()
    bad[10:12, 0, 5] = np.inf
    np.save(with_inf, bad)
    video = tmp_path / "broken.avi"
    video.write_bytes(b"this is not a video" * 100)
    store = ["--model", str(MODEL), "--store", str(tmp_path / "store")]
    run = ["--headless", "--pub", f"tcp://127.0.0.1:{free_port()}", "--control", "off"]
    pose = ["--pose-model", str(pose_model_path)]
    cases = [
        (["--skeleton", str(empty)], "not a NumPy .npy/.npz file"),
        (["--skeleton", str(with_inf)], "contains inf (2 joints, first at frame 10, body 0, joint 5)"),
        (["--video", str(video), *pose], "cannot open video file"),
        (["--video", str(video), *pose, "--fps", "15"], "--fps sets the frame rate of a --skeleton file"),
        (["--skeleton", str(tmp_path / "missing.npy")], "skeleton file not found"),
    ]
    for source, needle in cases:
        a = _one_line_error(_cli("run", *source, *store, *run), 2, needle)
        b = _one_line_error(_cli("enroll", "x", *source, *store), 2, needle)
        assert a.split(": error: ")[1] == b.split(": error: ")[1]


def test_help_shows_defaults() -> None:
    run = _cli("run", "--help").stdout
    for needle in ("minimum cosine (default: the model's calibrated value, else 0.5)",
                   "top-2 cosine (default: the model's calibrated value, else 0.05)", "30 fps (default 64)",
                   "decisions (default 8)", "grows with it; default 1)", "--verbose", "--wait-subscribers"):
        assert needle in " ".join(run.split()), needle
    enroll = " ".join(_cli("enroll", "--help").stdout.split())
    for needle in ("before recording (default 3.0)", "to record (default 4.0)", "--start S", "--end S"):
        assert needle in enroll, needle


def test_enroll_part_of_a_recording_and_short_demonstrations(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "store"
    proc = _enroll("drink", data_dir / NTU_SKELETON, store, "--start", "1", "--end", "2.5")
    assert proc.returncode == 0, proc.stderr
    seconds = float(proc.stdout.split(" frames = ")[1].split(" s ")[0])
    assert 0 < seconds <= 1.5 + 0.05, proc.stdout
    _one_line_error(_enroll("drink", data_dir / NTU_SKELETON, store, "--start", "5"), 2, "the recording ends at 3.4")
    _one_line_error(_enroll("drink", data_dir / NTU_SKELETON, store, "--start", "2", "--end", "1"), 2, "--start/--end")
    # a real throw, 0.4 s of it at 15 fps (6 frames): short, but a valid demonstration
    throw = load_skeleton_file(utd(data_dir, 5, 1)).joints[::2]
    short = tmp_path / "throw.npy"
    np.save(short, throw[len(throw) // 2 - 3: len(throw) // 2 + 3])
    proc = _enroll("throw", short, store, "--fps", "15")
    assert proc.returncode == 0 and "enrolled new action 'throw'" in proc.stdout, proc.stderr
    np.save(short, throw[10:12])  # 2 frames = 0.13 s: too short, and the error says why
    line = _one_line_error(_enroll("throw", short, store, "--fps", "15"), 2, "lasts 0.07 s (2 frames)")
    assert f"at least {MIN_SECONDS:.2f} s" in line and "smoothed over 0.2 s" in line


def _run_and_listen(args: list[str], timeout: float = 120) -> tuple[subprocess.CompletedProcess, list]:
    """`run --headless --wait-subscribers 1 ARGS` with a real subscriber attached from the start."""
    pub = f"tcp://127.0.0.1:{free_port()}"
    with subscribe(pub, topics=["crossglg.v1.label."]) as sub:
        proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "run", *args, "--headless", "--pub", pub,
                                 "--control", "off", "--wait-subscribers", "1", "--wait-timeout", "60"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        msgs = []
        try:
            while (m := sub.recv(timeout=1.0)) is not None or proc.poll() is None:
                if m is not None:
                    msgs.append(m)
            _, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert sub.invalid == 0 and sub.missed == 0
    return subprocess.CompletedProcess(proc.args, proc.returncode, "", err), msgs


def test_scripted_run_loses_no_label_and_fps_applies_to_skeleton_files(tmp_path: Path, data_dir: Path) -> None:
    store = tmp_path / "store"
    assert _enroll("drink", data_dir / NTU_SKELETON, store).returncode == 0
    proc, msgs = _run_and_listen(["--skeleton", str(data_dir / NTU_SKELETON), "--model", str(MODEL),
                                  "--store", str(store), "--fps", "15"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    published = int(proc.stderr.split(" windows, ")[1].split(" labels")[0])
    assert published > 0 and [m.seq for m in msgs] == list(range(published))  # every label, from the first
    # the last frame is at 102 / 15 = 6.8 s (it would be 3.4 s at the file's 30 fps)
    assert 6.0 < max(m.payload["t_frame"] for m in msgs) <= 102 / 15


def test_huge_coordinates_never_stop_the_runtime(tmp_path: Path, data_dir: Path) -> None:
    """The NTU clip scaled by 1e30 (finite float32): every window is published, valid JSON, no error."""
    store = tmp_path / "store"
    assert _enroll("drink", data_dir / NTU_SKELETON, store).returncode == 0
    big = tmp_path / "big.npy"
    np.save(big, (load_skeleton_file(data_dir / NTU_SKELETON).joints * 1e30).astype(np.float32))
    proc, msgs = _run_and_listen(["--skeleton", str(big), "--model", str(MODEL), "--store", str(store)])
    assert proc.returncode == 0 and "error" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
    assert "source_end" in proc.stderr and len(msgs) == int(proc.stderr.split(" windows, ")[1].split(" labels")[0])
    for m in msgs:
        protocol.validate_payload(m.topic, m.payload)
        assert m.payload["state"] in protocol.STATES
