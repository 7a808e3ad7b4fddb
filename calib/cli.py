"""`crossglg-calib`: thin argparse front end; every subcommand lives in `calib/commands/<name>.py`.

A command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Add a module to ``COMMANDS`` only once it works.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from edge.installed_models import InstalledModelError

# subcommand name -> module path (imported lazily so `--help` stays fast and torch-free paths stay so)
COMMANDS: dict[str, str] = {
    "quantize": "calib.commands.quantize",
    "report": "calib.commands.report",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossglg-calib", description="INT8 calibration and FP32-vs-INT8 reports for exported encoders.")
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
    except (ValueError, FileNotFoundError, InstalledModelError) as exc:
        print(f"crossglg-calib {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
