"""Shared front end of the ``crossglg-*`` console scripts: argparse with lazily imported commands.

Each CLI lists its commands as ``name -> (module path, one-line help)``. Only the module of the
command being run is imported, so ``crossglg-edge listen`` does not pay for MediaPipe, scipy or
torch, and ``--help`` is instant. A command module exposes ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Mapping, Sequence

Commands = Mapping[str, tuple[str, str]]


def _selected(argv: Sequence[str], commands: Commands) -> str | None:
    for token in argv:
        if not token.startswith("-"):
            return token if token in commands else None
    return None


def build_parser(
    prog: str, description: str, commands: Commands, argv: Sequence[str],
    common: Sequence[argparse.ArgumentParser] = (),
) -> argparse.ArgumentParser:
    """Parser with every command listed; only the selected command's module is imported.

    ``common``: parent parsers (``add_help=False``) whose options every command takes (e.g. ``--verbose``).
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _selected(argv, commands)
    for name, (module_path, help_text) in commands.items():
        if name != chosen:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        module = importlib.import_module(module_path)
        p = sub.add_parser(name, help=help_text, description=getattr(module, "HELP", help_text), parents=list(common))
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def run_cli(
    prog: str,
    description: str,
    commands: Commands,
    argv: Sequence[str] | None = None,
    errors: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError),
    common: Sequence[argparse.ArgumentParser] = (),
    setup: Callable[[argparse.Namespace], None] | None = None,
) -> int:
    """Parse ``argv`` and run the command. Expected errors become one line on stderr and exit with
    their ``exit_code`` attribute (2 when they have none: bad input); Ctrl-C exits 130; never a
    traceback for a user mistake. ``common``: options every command takes (see :func:`build_parser`);
    ``setup(args)`` runs after parsing, before the command (e.g. to quiet library logging)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(prog, description, commands, argv, common)
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    if setup is not None:
        setup(args)
    try:
        return int(run(args) or 0)
    except errors as exc:
        print(f"{prog} {args.command}: error: {exc}", file=sys.stderr)
        code = getattr(exc, "exit_code", 2)
        return code if isinstance(code, int) else 2
    except KeyboardInterrupt:
        print(f"{prog} {args.command}: interrupted", file=sys.stderr)
        return 130
