"""`crossglg-edge`: thin front end; every command lives in `edge/commands/<name>.py` (see crossglg.cli).

A command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Add a module to ``COMMANDS`` only once it works.
"""

from __future__ import annotations

import os
import sys

from crossglg.cli import run_cli

from .errors import EdgeError

# name -> (module, one-line help); modules are imported only when their command runs
COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("edge.commands.models", "fetch (with sha256 check) or locate the MediaPipe pose landmarker model"),
    "listen": ("edge.commands.listen", "subscribe to a CrossGLG publisher and print one JSON line per message"),
    "build-engine": ("edge.commands.build_engine", "build a TensorRT engine from an ONNX model (on the device that will run it) and cache it"),
    "run": ("edge.commands.run", "recognise enrolled actions live from a camera, video or skeleton stream and publish labels"),
    "enroll": ("edge.commands.enroll", "record one demonstration of a new action (camera, video or skeleton file) and store it"),
    "actions": ("edge.commands.actions", "list, remove or rename enrolled actions in a support store"),
    "ui": ("edge.commands.ui", "watch a CrossGLG runtime's labels live in the terminal; enroll, remove and rename actions"),
}


def quiet_native_logs() -> None:
    """Silence OpenCV's and MediaPipe's own C++ log lines (a missing camera makes OpenCV print
    several 'error' lines of its own) unless the user set these variables: our one-line messages
    say what went wrong."""
    for key, value in (("OPENCV_LOG_LEVEL", "OFF"), ("GLOG_minloglevel", "2"), ("TF_CPP_MIN_LOG_LEVEL", "2")):
        os.environ.setdefault(key, value)


def main(argv: list[str] | None = None) -> int:
    quiet_native_logs()
    return run_cli(
        "crossglg-edge",
        "Real-time one-shot action recognition on cameras and skeleton streams.",
        COMMANDS,
        argv,
        errors=(ValueError, FileNotFoundError, EdgeError),
    )


if __name__ == "__main__":
    sys.exit(main())
