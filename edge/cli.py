"""`crossglg-edge`: thin argparse front end; every subcommand lives in `edge/commands/<name>.py`.

A command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Add a module to ``COMMANDS`` only once it works.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .errors import EdgeError

# subcommand name -> module path (imported lazily so `--help` stays fast and torch-free paths stay so)
COMMANDS: dict[str, str] = {
    "models": "edge.commands.models",
    "listen": "edge.commands.listen",
    "build-engine": "edge.commands.build_engine",
    "run": "edge.commands.run",
    "enroll": "edge.commands.enroll",
    "actions": "edge.commands.actions",
    "ui": "edge.commands.ui",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossglg-edge", description="Real-time one-shot action recognition on cameras and skeleton streams.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_path in COMMANDS.items():
        module = importlib.import_module(module_path)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def quiet_native_logs() -> None:
    """Silence OpenCV's and MediaPipe's own C++ log lines (a missing camera makes OpenCV print
    several 'error' lines of its own) unless the user set these variables: our one-line messages
    say what went wrong."""
    for key, value in (("OPENCV_LOG_LEVEL", "OFF"), ("GLOG_minloglevel", "2"), ("TF_CPP_MIN_LOG_LEVEL", "2")):
        os.environ.setdefault(key, value)


def main(argv: list[str] | None = None) -> int:
    quiet_native_logs()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (ValueError, FileNotFoundError, EdgeError) as exc:
        print(f"crossglg-edge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while starting up (model, camera): no traceback
        print(f"crossglg-edge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
