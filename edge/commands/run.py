"""`crossglg-edge run`: the runtime. Source -> pose -> windows -> model -> matcher -> ZeroMQ labels.

Headless (``--headless``) it runs until the source ends, ``--max-seconds`` pass, Ctrl-C/SIGTERM,
or an error (exit 1 with a one-line message, e.g. a camera that stops delivering). Otherwise the
Textual UI runs in the foreground, subscribed to the publisher and using the control channel.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import warnings
from contextlib import ExitStack

from ..console import native_quiet
from ..control import DEFAULT_CONTROL_ENDPOINT, ControlConfig, ControlServer
from ..errors import EXIT_RUNTIME, EdgeError
from ..exemplar_crops import CropConfig
from ..matcher import MatcherConfig
from ..open_set_values import choose_open_set
from ..pipeline import Pipeline, PipelineConfig, RunResult
from ..publisher import DEFAULT_ENDPOINT, Publisher, PublisherConfig
from ..runtime import default_store_dir, open_model_arg, open_support_store, status_line
from ..server_socket import InsecureEndpointWarning
from ..source_args import add_source_arguments, source_from_args
from ..window import WindowConfig

NAME = "run"
HELP = "Recognise enrolled actions live from a camera, video or skeleton stream and publish labels."


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model / --store / --threads, shared with `enroll`."""
    parser.add_argument("--model", default=None, metavar="MODEL.onnx",
                        help="exported encoder (.onnx; .engine/.plan) or an installed model's name "
                             "(default: the installed starter model, see `crossglg-edge models list`)")  # fmt: skip
    parser.add_argument("--store", default=None, metavar="DIR",
                        help=f"support store directory (default {default_store_dir()})")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="inference threads (default 1: leaves a core for pose)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_source_arguments(parser)
    add_model_arguments(parser)
    g = parser.add_argument_group("runtime")
    g.add_argument("--headless", action="store_true", help="no terminal UI")
    g.add_argument("--max-seconds", type=float, default=None, metavar="S",
                   help="stop after S seconds (headless runs: scripts, tests)")  # fmt: skip
    g.add_argument("--pub", default=DEFAULT_ENDPOINT, metavar="ENDPOINT", help=f"label publisher (default {DEFAULT_ENDPOINT})")
    g.add_argument("--control", default=DEFAULT_CONTROL_ENDPOINT, metavar="ENDPOINT",
                   help=f"control channel for the UI / scripts (default {DEFAULT_CONTROL_ENDPOINT}; 'off' disables)")  # fmt: skip
    g.add_argument("--name", default=None, help="source name used in topics (default: from the source)")
    g.add_argument("--threshold", type=float, default=None,
                   help="open-set: minimum cosine (default: the model's calibrated value, else "
                        f"{MatcherConfig.threshold})")  # fmt: skip
    g.add_argument("--margin", type=float, default=None,
                   help="open-set: minimum top-1 minus top-2 cosine (default: the model's calibrated value, else "
                        f"{MatcherConfig.margin})")  # fmt: skip
    g.add_argument("--dc-margin", type=float, default=None,
                   help="open-set: minimum top-1 minus top-2 probability with distribution calibration (default: "
                        f"the model's calibrated value, else {MatcherConfig.dc_margin})")  # fmt: skip
    ranking = g.add_mutually_exclusive_group()
    ranking.add_argument("--dc", dest="dc", action="store_true", default=None,
                         help="rank by distribution calibration (needs the model's base statistics and >= 2 "
                              "actions; default: the ranking stored with the model's calibration, else DC)")  # fmt: skip
    ranking.add_argument("--no-dc", dest="dc", action="store_false",
                         help="rank by centred cosine even when the model has base statistics")
    g.add_argument("--no-fusion", dest="fusion", action="store_false", default=None,
                   help="match by the model's cosine alone even when the model fuses it with pose features "
                        "(default: the model's fusion)")  # fmt: skip
    g.add_argument("--no-crops", dest="crops", action="store_false",
                   help="match windows against whole demonstrations only (default: also against crops of each "
                        "demonstration as long as the window)")  # fmt: skip
    g.add_argument("--no-center", action="store_true",
                   help="match by raw cosine even when the model carries an embedding centre")  # fmt: skip
    g.add_argument("--window", type=int, default=WindowConfig.frames, metavar="FRAMES", help="window length at 30 fps (default %(default)s)")
    g.add_argument("--stride", type=int, default=WindowConfig.stride, metavar="FRAMES", help="frames between decisions (default %(default)s)")
    pace = g.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true", help="replay files at their frame rate (default with the UI)")
    pace.add_argument("--fast", action="store_true", help="replay files as fast as possible (default when headless)")
    g.add_argument("--wait-subscribers", type=int, default=0, metavar="N",
                   help="scripted runs: start the source only once N subscribers receive labels, so a listener "
                        "started just before loses none (default %(default)s: start at once)")  # fmt: skip
    g.add_argument("--wait-timeout", type=float, default=30.0, metavar="S",
                   help="with --wait-subscribers: fail (exit 1) if they are not there after S seconds "
                        "(default %(default)s)")  # fmt: skip
    g.add_argument("--server-key", default=None, metavar="FILE",
                   help="CURVE secret key (.key_secret) for the publisher and control channel")  # fmt: skip
    g.add_argument("--insecure", action="store_true", help="allow non-loopback endpoints without CURVE")


def source_name(args: argparse.Namespace, default: str) -> str:
    name = args.name or default
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:64]
    return safe or "default"


def build_pipeline(args: argparse.Namespace, stack: ExitStack) -> tuple[Pipeline, ControlServer | None]:
    """Model, store, source, publisher, control server: everything `run` needs, opened in ``stack``."""
    # --insecure: the INSECURE log line says it on stderr; the Python warning would repeat it with a code line
    warnings.simplefilter("ignore", InsecureEndpointWarning)
    say = status_line("run")
    engine = stack.enter_context(open_model_arg(args.model, args.threads, say))
    chosen = choose_open_set(engine.meta, args.threshold, args.margin, args.dc_margin, args.dc, args.fusion)
    say(chosen.line)  # the crops setting is not printed: run's start lines stay as scripts know them
    crops = CropConfig(enabled=args.crops)
    store = open_support_store(args.store or default_store_dir(), engine)
    source = source_from_args(args)
    live = args.camera is not None or args.kinect_azure is not None
    realtime = live or args.realtime or (not args.headless and not args.fast)
    cfg = PipelineConfig(
        lossless=not realtime, realtime=realtime and not live, max_seconds=args.max_seconds,
        window=WindowConfig(frames=args.window, stride=args.stride),
        matcher=chosen.matcher_config(use_center=not args.no_center), crops=crops,
    )
    if args.wait_subscribers < 0 or not args.wait_timeout > 0:
        raise ValueError(f"--wait-subscribers must be >= 0 and --wait-timeout > 0, got {args.wait_subscribers} "
                         f"and {args.wait_timeout}")  # fmt: skip
    pub_cfg = PublisherConfig(endpoint=args.pub, source=source_name(args, source.name), model_id=engine.meta.model_id,
                              backend=engine.backend, curve_secret_key=args.server_key, insecure=args.insecure,
                              count_subscribers=args.wait_subscribers > 0)  # fmt: skip
    publisher = stack.enter_context(_bind(Publisher, pub_cfg))
    pipeline = Pipeline(source, engine, store, publisher, cfg)
    control = None
    if args.control != "off":
        ccfg = ControlConfig(endpoint=args.control, curve_secret_key=args.server_key, insecure=args.insecure)
        control = stack.enter_context(ControlServer(pipeline, ccfg))
    return pipeline, control


def _bind(cls, cfg):
    import zmq

    try:
        return cls(cfg)
    except zmq.ZMQError as exc:
        raise ValueError(f"cannot bind {cfg.endpoint}: {exc} (another runtime running? use --pub)") from None


def wait_for_subscribers(pipeline: Pipeline, n: int, timeout_s: float) -> None:
    """Hold the start until ``n`` subscribers receive labels (``--wait-subscribers``); EdgeError on timeout."""
    pub = pipeline.publisher
    print(f"crossglg-edge run: waiting for {n} subscriber(s) on {pub.endpoint} (at most {timeout_s:g} s)",
          file=sys.stderr, flush=True)  # fmt: skip
    have = pub.wait_for_subscribers(n, timeout_s)
    if have < n:
        raise SubscriberTimeout(f"{have} of {n} subscriber(s) on {pub.endpoint} after {timeout_s:g} s "
                                "(start them first, e.g. `crossglg-edge listen`, or raise --wait-timeout)")  # fmt: skip


class SubscriberTimeout(EdgeError):
    """``--wait-subscribers``: the subscribers did not come (a runtime failure, exit 1)."""

    exit_code = EXIT_RUNTIME


def _run_headless(pipeline: Pipeline) -> RunResult:
    def on_signal(signum, _frame) -> None:
        pipeline.stop("stopped")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    return pipeline.run()


def ui_terminal_fd() -> int | None:
    """The descriptor the UI draws on: stderr if it is a terminal, else stdout if it is one (``run
    ... 2>log``); None when there is no keyboard (stdin) or no terminal to draw on."""
    if not _isatty(0):
        return None
    return next((fd for fd in (2, 1) if _isatty(fd)), None)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _run_with_ui(args: argparse.Namespace, pipeline: Pipeline, control: ControlServer | None,
                 fd: int) -> RunResult | None:  # fmt: skip
    """Run the Textual UI in the foreground on terminal ``fd``; None when this build has no UI.

    The UI draws on its own duplicate of ``fd`` while fd 2 points at /dev/null (unless
    ``--verbose``): native library lines can then never land on the screen, whoever prints them.
    """
    try:
        from ..ui.app import run_ui  # type: ignore[import-not-found]
    except ImportError:
        return None
    with open(os.dup(fd), "w", encoding="utf-8", errors="replace") as screen, native_quiet():
        pipeline.start()
        try:
            run_ui(pub=pipeline.publisher.endpoint, control=None if control is None else control.endpoint,
                   source=pipeline.publisher.config.source, server_key=args.server_key, output=screen)  # fmt: skip
        finally:
            pipeline.stop("stopped")
        return pipeline.wait()


def run(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        pipeline, control = build_pipeline(args, stack)
        if control is not None:
            control.start()
        where = f"labels on {pipeline.publisher.endpoint}" + (f", control on {control.endpoint}" if control else "")
        n = len(pipeline.store.actions)
        print(f"crossglg-edge run: {pipeline.source.name} -> {pipeline.engine.meta.model_id} "
              f"({pipeline.engine.backend}), {n} action(s) enrolled; {where}", file=sys.stderr)  # fmt: skip
        result = None
        fd = None if args.headless else ui_terminal_fd()
        if args.wait_subscribers and fd is not None:
            raise ValueError("--wait-subscribers is for headless runs (--headless); the UI watches from the start")
        if args.wait_subscribers:
            wait_for_subscribers(pipeline, args.wait_subscribers, args.wait_timeout)
        if not args.headless and fd is None:
            print("crossglg-edge run: no terminal for the UI (stdin, and stderr or stdout, must be one); "
                  "running headless (pass --headless to say so)", file=sys.stderr)  # fmt: skip
        elif fd is not None:
            result = _run_with_ui(args, pipeline, control, fd)
            if result is None:
                print("crossglg-edge run: the terminal UI is not available in this build; running headless "
                      "(watch with `crossglg-edge listen`)", file=sys.stderr)  # fmt: skip
        if result is None:
            result = _run_headless(pipeline)
        if result.error:  # one line, no traceback: what failed and what to do
            print(f"crossglg-edge run: error: {result.error}", file=sys.stderr)
            return result.exit_code
        s = result.stats
        print(f"crossglg-edge run: {result.reason}: {s['frames_in']} frames, {s['windows']} windows, "
              f"{s['labels']} labels, {s['events']} events, {s['dropped']} dropped", file=sys.stderr)  # fmt: skip
        return result.exit_code
