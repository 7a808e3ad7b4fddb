"""The UI when things go wrong, on the real runtime: a camera that does not exist is said in the main
panel with what to do; `run` in a real pseudo-terminal shows no MediaPipe/LiteRT line over the UI;
`run ... 2>log` draws the UI on stdout instead of leaving the terminal blank."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from shared_helpers import free_port
from test_ui_run_terminal import _ANSI, _read_until

from edge.pipeline import Pipeline, PipelineConfig
from edge.publisher import Publisher, PublisherConfig
from edge.runtime import open_model, open_support_store
from edge.sources import Source
from edge.ui.app import CrossGLGApp
from edge.ui.widgets import CurrentAction

pytestmark = pytest.mark.realdata
ROOT = Path(__file__).resolve().parents[3]
MODEL = ROOT / "tests" / "assets" / "crossglg_realdata.onnx"
NTU_VIDEO = "ntu_sample/S001C001P001R001A001_rgb.avi"


def _panel_text(app: CrossGLGApp) -> str:
    panel = app.query_one(CurrentAction)
    return " ".join(getattr(w.render(), "plain", str(w.render())) for w in panel.query("BigLabel, TextLine"))


def test_missing_camera_is_said_in_the_main_panel(tmp_path: Path, pose_model_path: Path) -> None:
    """The real pipeline on camera 57 (no such device) with the UI subscribed: the panel, not only a
    badge, says the runtime stopped, why, and what to do."""
    with open_model(MODEL, threads=1) as engine, \
            Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="camera57", heartbeat_s=0.2)) as pub:  # fmt: skip
        store = open_support_store(tmp_path / "store", engine)
        source = Source.from_camera(57, pose_model=pose_model_path, read_timeout_s=2.0, open_timeout_s=5.0)
        pipe = Pipeline(source, engine, store, pub, PipelineConfig())

        async def main() -> None:
            app = CrossGLGApp(pub.endpoint)
            async with app.run_test(size=(120, 40)) as pilot:
                pipe.start()
                deadline = time.monotonic() + 20
                while "cannot open camera 57" not in _panel_text(app):
                    assert time.monotonic() < deadline, _panel_text(app)
                    await pilot.pause(0.1)
                text = _panel_text(app)
                assert "stopped" in text.lower() and "press q to quit" in text
                assert "--camera N" in text and "--video FILE" in text  # what to do next
                assert app.query_one(CurrentAction).has_class("-error")

        asyncio.run(main())
        result = pipe.wait(10)
    assert result is not None and result.reason == "error" and result.exit_code == 2


def _pty_run(args: list[str], stderr) -> tuple[subprocess.Popen, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("GLOG_minloglevel", "TF_CPP_MIN_LOG_LEVEL")}
    env.update(TERM="xterm-256color", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "edge.cli", "run", *args, "--pub", f"tcp://127.0.0.1:{free_port()}",
           "--control", f"tcp://127.0.0.1:{free_port()}"]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave if stderr is None else stderr, env=env,
                            cwd=ROOT, start_new_session=True)  # fmt: skip
    os.close(slave)
    return proc, master


def _quit(proc: subprocess.Popen, master: int) -> bytes:
    """Press q; returns what the terminal showed meanwhile (escape sequences removed)."""
    os.write(master, b"q")
    rest = b""
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            rest += os.read(master, 65536)
        except OSError:
            break
    assert proc.wait(timeout=30) == 0
    return _ANSI.sub(b"", rest)


def test_ui_over_mediapipe_shows_no_native_line(tmp_path: Path, data_dir: Path, pose_model_path: Path) -> None:
    video = ["--video", str(data_dir / NTU_VIDEO), "--mirror", "--pose-model", str(pose_model_path),
             "--model", str(MODEL), "--store", str(tmp_path / "store"), "--max-seconds", "90"]
    proc, master = _pty_run(video, None)
    try:
        # the pose view fills once MediaPipe has loaded and seen the person: by then every load and
        # first-inference line would have been printed
        shown = _read_until(master, [b"live", b"backend onnxruntime", b"Quit", b"person #"], 90.0)
        time.sleep(1.0)
        shown += _quit(proc, master)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    for needle in (b"INFO: [", b"WARNING: [", b"W0000", b"Sparsity", b"LiteRT"):
        assert needle not in shown, needle


def test_run_with_stderr_redirected_draws_the_ui_on_stdout(tmp_path: Path, data_dir: Path) -> None:
    log = tmp_path / "run.log"
    skeleton = ["--skeleton", str(data_dir / "ntu_sample/S001C001P001R001A001.skeleton"), "--realtime",
                "--model", str(MODEL), "--store", str(tmp_path / "store"), "--max-seconds", "60"]
    with open(log, "w") as err:
        proc, master = _pty_run(skeleton, err)
        try:
            _read_until(master, [b"live", b"backend onnxruntime", b"control ok", b"Quit"], 60.0)
            _quit(proc, master)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
    text = log.read_text()
    assert "crossglg-edge run: S001C001P001R001A001" in text  # our lines went to the log ...
    assert "\x1b[" not in text  # ... and the screen did not
