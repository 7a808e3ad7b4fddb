"""`crossglg-edge listen`: print published messages as JSON lines (for shell pipelines and other apps).

Each line is ``{"topic": "...", "payload": {...}}``, flushed at once. Exit codes: 0 after ``--count``
messages (or on Ctrl-C / a closed pipe), 1 when ``--timeout`` seconds pass without a message.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import protocol
from ..client import DEFAULT_ENDPOINT, subscribe

NAME = "listen"
HELP = "Subscribe to a CrossGLG publisher and print one JSON line per message."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connect", default=DEFAULT_ENDPOINT, help=f"publisher endpoint (default {DEFAULT_ENDPOINT})")
    parser.add_argument(
        "--topic", action="append", default=None, metavar="PREFIX",
        help=f"topic prefix to subscribe to, repeatable (default {protocol.TOPIC_PREFIX!r}: everything)",
    )
    parser.add_argument("--count", type=int, default=None, metavar="N", help="exit after N messages")
    parser.add_argument("--timeout", type=float, default=None, metavar="S", help="exit 1 after S seconds without a message")
    parser.add_argument("--server-key", default=None, help="CURVE: the publisher's public .key file")
    parser.add_argument("--client-key", default=None, help="CURVE: this client's .key_secret file (default: ephemeral)")


def run(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 1:
        raise ValueError(f"--count must be >= 1, got {args.count}")
    if args.timeout is not None and args.timeout <= 0:
        raise ValueError(f"--timeout must be > 0, got {args.timeout}")
    if args.client_key and not args.server_key:
        raise ValueError("--client-key needs --server-key (the publisher's public key)")
    topics = args.topic or [protocol.TOPIC_PREFIX]
    n = 0
    try:
        with subscribe(
            args.connect, topics=topics, timeout=args.timeout,
            server_public_key=args.server_key, client_secret_key=args.client_key,
        ) as sub:
            for msg in sub:
                sys.stdout.write(msg.to_json_line() + "\n")
                sys.stdout.flush()
                n += 1
                if args.count is not None and n >= args.count:
                    return 0
            print(f"crossglg-edge listen: no message for {args.timeout} s on {args.connect}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # the reader went away (e.g. `| head -1`): exit quietly; point stdout at devnull so the
        # interpreter's final flush does not raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
