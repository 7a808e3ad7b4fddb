"""`crossglg-edge`: thin front end; every command lives in `edge/commands/<name>.py` (see crossglg.cli).

A command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Add a module to ``COMMANDS`` only once it works.
"""

from __future__ import annotations

import argparse
import os
import sys

from crossglg.cli import run_cli

from .console import configure
from .errors import EdgeError
from .signals import terminate_as_interrupt

# name -> (module, one-line help); modules are imported only when their command runs
COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("edge.commands.models", "list the installed encoder models; fetch (with sha256 check) or locate the MediaPipe pose model"),
    "listen": ("edge.commands.listen", "subscribe to a CrossGLG publisher and print one JSON line per message"),
    "build-engine": ("edge.commands.build_engine", "build a TensorRT engine from an ONNX model (on the device that will run it) and cache it"),
    "run": ("edge.commands.run", "recognise enrolled actions live from a camera, video or skeleton stream and publish labels"),
    "enroll": ("edge.commands.enroll", "record one demonstration of a new action (camera, video or skeleton file) and store it"),
    "actions": ("edge.commands.actions", "list, remove or rename enrolled actions in a support store"),
    "ui": ("edge.commands.ui", "watch a CrossGLG runtime's labels live in the terminal; enroll, remove and rename actions"),
}


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="show the libraries' own log lines (MediaPipe/LiteRT, OpenCV, warnings); "
                             "default: only this program's messages (also: CROSSGLG_VERBOSE=1)")  # fmt: skip
    return common


def _setup(args: argparse.Namespace) -> None:
    verbose = bool(getattr(args, "verbose", False)) or os.environ.get("CROSSGLG_VERBOSE", "") not in ("", "0")
    configure(verbose=verbose)
    if args.command not in ("run", "ui"):  # run stops its pipeline on SIGTERM itself; the UI keeps the default
        terminate_as_interrupt()  # SIGTERM: the command's one 'interrupted' line and exit 130, not a silent 143


def main(argv: list[str] | None = None) -> int:
    return run_cli(
        "crossglg-edge",
        "Real-time one-shot action recognition on cameras and skeleton streams.",
        COMMANDS,
        argv,
        errors=(ValueError, OSError, EdgeError),  # OSError: full disk, read-only store, permissions
        common=[_common_options()],
        setup=_setup,
    )


if __name__ == "__main__":
    sys.exit(main())
