"""A quiet console: `run --video` through the real MediaPipe model prints only our own lines unless
``--verbose``; and the native-stderr silencing itself, on real file descriptors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from shared_helpers import free_port, run_python

NATIVE = re.compile(r"^(INFO: |WARNING: |W0000 |I0000 |E0000 )")  # LiteRT / TFLite / GLOG line starts
MODEL = Path(__file__).resolve().parents[1] / "assets" / "crossglg_realdata.onnx"


def _run_video(data_dir: Path, pose_model: Path, store: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "edge.cli", "run", "--video", str(data_dir / "ntu_sample/S001C001P001R001A001_rgb.avi"),
           "--mirror", "--pose-model", str(pose_model), "--model", str(MODEL), "--store", str(store), "--headless",
           "--max-seconds", "60", "--pub", f"tcp://127.0.0.1:{free_port()}", "--control", "off", *extra]
    env = {k: v for k, v in os.environ.items() if k not in ("GLOG_minloglevel", "TF_CPP_MIN_LOG_LEVEL", "CROSSGLG_VERBOSE")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)


@pytest.mark.realdata
def test_run_video_prints_only_our_lines_unless_verbose(tmp_path: Path, data_dir: Path, pose_model_path: Path) -> None:
    quiet = _run_video(data_dir, pose_model_path, tmp_path / "store")
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stderr.splitlines()
    assert not [ln for ln in lines if NATIVE.match(ln)], quiet.stderr
    # the open-set values used, the start line, the end line
    assert len(lines) == 3 and all(ln.startswith("crossglg-edge run: ") for ln in lines), quiet.stderr
    assert lines[0].startswith("crossglg-edge run: open-set threshold ")
    assert "source_end: 103 frames" in lines[-1]
    loud = _run_video(data_dir, pose_model_path, tmp_path / "store", "--verbose")
    assert loud.returncode == 0, loud.stderr
    native = [ln for ln in loud.stderr.splitlines() if NATIVE.match(ln)]
    assert len(native) >= 5 and any("W0000" in ln for ln in native), loud.stderr  # model load + first inference
    assert loud.stderr.splitlines()[-1] == lines[-1]  # the same run, just louder


def test_native_quiet_silences_fd2_and_keeps_python_stderr() -> None:
    """Native code writes to fd 2 with os.write; inside native_quiet that goes nowhere while
    Python's sys.stderr (any thread) still reaches the real stderr; afterwards fd 2 is back."""
    code = r'''
import os, sys, threading
from edge.console import configure, native_quiet
configure(verbose=False)
os.write(2, b"native-before\n")
with native_quiet():
    os.write(2, b"native-inside\n")
    with native_quiet():  # nested (two threads loading models at once)
        os.write(2, b"native-nested\n")
    t = threading.Thread(target=lambda: print("ours-from-a-thread", file=sys.stderr))
    t.start(); t.join()
    print("ours-inside", file=sys.stderr)
os.write(2, b"native-after\n")
print("ours-after", file=sys.stderr)
'''
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.split() == ["native-before", "ours-from-a-thread", "ours-inside", "native-after", "ours-after"]
    loud = run_python(code.replace("configure(verbose=False)", "configure(verbose=True)"))
    assert "native-inside" in loud.stderr and "native-nested" in loud.stderr
