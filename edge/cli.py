"""`crossglg-edge`: thin argparse front end; every subcommand lives in `edge/commands/<name>.py`.

A command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Add a module to ``COMMANDS`` only once it works.
"""

from __future__ import annotations

import argparse
import importlib
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


def main(argv: list[str] | None = None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
