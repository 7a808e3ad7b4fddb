"""`crossglg-edge ui`: the terminal UI watching a runtime's label stream (here or on another machine).

``crossglg-edge ui --connect tcp://HOST:5556`` subscribes like any other client; enrollment, remove
and rename go to the runtime's control channel (``--control``, by default the same host on port
5557; ``--no-control`` for a read-only view).
"""

from __future__ import annotations

import argparse

from ..client import DEFAULT_ENDPOINT
from ..protocol import SOURCE_RE

NAME = "ui"
HELP = "Watch a CrossGLG runtime's labels live in the terminal; enroll, remove and rename actions."
CONTROL_PORT = 5557


def default_control(connect: str) -> str | None:
    """The control endpoint next to a ``tcp://HOST:PORT`` stream: ``tcp://HOST:5557`` (None otherwise)."""
    scheme, _, rest = connect.partition("://")
    if scheme != "tcp" or ":" not in rest:
        return None
    host = rest.rsplit(":", 1)[0]
    return f"tcp://{host}:{CONTROL_PORT}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connect", default=DEFAULT_ENDPOINT, help=f"label stream endpoint (default {DEFAULT_ENDPOINT})")
    parser.add_argument(
        "--control", default=None, metavar="ENDPOINT",
        help=f"runtime control endpoint for enroll/remove/rename (default: the --connect host, port {CONTROL_PORT})",
    )
    parser.add_argument("--no-control", action="store_true", help="read-only view: no enroll/remove/rename")
    parser.add_argument("--source", default=None, metavar="NAME", help="show only this source (default: all)")
    parser.add_argument("--stale-after", type=float, default=2.5, metavar="S",
                        help="show STALE after S seconds without any message (default 2.5)")
    parser.add_argument("--countdown", type=float, default=3.0, metavar="S", help="enrollment countdown (default 3)")
    parser.add_argument("--max-seconds", type=float, default=4.0, metavar="S",
                        help="longest enrollment recording (default 4)")
    parser.add_argument("--server-key", default=None, help="CURVE: the runtime's public .key file (stream and control)")
    parser.add_argument("--client-key", default=None, help="CURVE: this client's .key_secret file (default: ephemeral)")


def run(args: argparse.Namespace) -> int:
    if args.source is not None and not SOURCE_RE.match(args.source):
        raise ValueError(f"--source must match {SOURCE_RE.pattern}, got {args.source!r}")
    for flag, value in (("--stale-after", args.stale_after), ("--countdown", args.countdown),
                        ("--max-seconds", args.max_seconds)):
        if value <= 0:
            raise ValueError(f"{flag} must be > 0, got {value}")
    if args.client_key and not args.server_key:
        raise ValueError("--client-key needs --server-key (the publisher's public key)")
    control = None if args.no_control else (args.control or default_control(args.connect))
    from ..ui.app import run_ui  # Textual loads only when the UI really starts

    return run_ui(
        args.connect, control, source=args.source, stale_after=args.stale_after, countdown_s=args.countdown,
        max_seconds=args.max_seconds, server_key=args.server_key, client_key=args.client_key,
    )
