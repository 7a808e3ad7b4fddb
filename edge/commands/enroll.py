"""`crossglg-edge enroll LABEL`: record one demonstration, trim it to the moving part, store it.

Camera: a countdown, then ``--seconds`` of recording. Video / skeleton file: the whole file (or
``--start``..``--end`` seconds of it) is the demonstration, trimmed to motion. The store is checked
for writability before anything is recorded. The raw clip and its embedding go into the support store; an
existing label gets one more exemplar. (With a runtime already running, enroll through its control
channel instead, e.g. from the UI: this command writes the store directly.)
"""

from __future__ import annotations

import argparse
import sys

from ..enrollment import EnrollRecorder, store_demonstration
from ..runtime import (
    default_store_dir,
    open_model_arg,
    open_support_store,
    preprocess_config_for,
    status_line,
)
from ..source_args import add_source_arguments, source_from_args
from .run import add_model_arguments

NAME = "enroll"
HELP = "Record one demonstration of a new action (camera, video or skeleton file) and store it."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("label", metavar="LABEL", help="the action's name (free text)")
    add_source_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument("--countdown", type=float, default=3.0, metavar="S",
                        help="camera: seconds before recording (default %(default)s)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=4.0, metavar="S",
                        help="camera: seconds to record (default %(default)s)")  # fmt: skip
    parser.add_argument("--start", type=float, default=None, metavar="S",
                        help="video / skeleton file: take the demonstration from S seconds on (default: the start)")  # fmt: skip
    parser.add_argument("--end", type=float, default=None, metavar="S",
                        help="video / skeleton file: ... up to S seconds (default: the end)")  # fmt: skip


def _check_span(args: argparse.Namespace, live: bool) -> tuple[float, float]:
    start, end = args.start, args.end
    if live and (start is not None or end is not None):
        raise ValueError("--start/--end take part of a video or skeleton file; a camera records --seconds")
    lo = 0.0 if start is None else start
    hi = float("inf") if end is None else end
    if not lo >= 0 or not hi > lo:
        raise ValueError(f"--start/--end: expected 0 <= start < end seconds, got {start} .. {end}")
    return lo, hi


def run(args: argparse.Namespace) -> int:
    live = args.camera is not None or args.kinect_azure is not None
    lo, hi = _check_span(args, live)
    rec = EnrollRecorder(args.label, args.countdown if live else 0.0, args.seconds, whole_source=not live)
    with open_model_arg(args.model, args.threads, status_line("enroll")) as engine:
        store = open_support_store(args.store or default_store_dir(), engine)
        store.check_writable()  # a read-only store is said now, before anyone performs the action
        source = source_from_args(args)
        last = None
        with source:
            for frame in source:
                last = frame.timestamp_s
                if frame.timestamp_s < lo:
                    continue
                if frame.timestamp_s > hi:
                    break
                for p in rec.feed(frame):
                    if live and p.phase == "countdown":
                        print(f"{p.label}: recording in {p.seconds_left:.0f} ...", file=sys.stderr, flush=True)
                    elif live and p.phase == "recording" and p.seconds_left == args.seconds:
                        print(f"{p.label}: recording for {args.seconds:g} s: go!", file=sys.stderr, flush=True)
                if rec.finished:
                    break
        rec.stop()
        if last is not None and last < lo:
            raise ValueError(f"--start {lo:g} s: the recording ends at {last:.2f} s")
        clip, fps, (start, stop) = rec.result()
        what = f"camera {args.camera}" if live else (args.video or args.skeleton or "kinect")
        slug, created = store_demonstration(store, engine, preprocess_config_for(engine.meta), rec.label, clip, fps,
                                            source=str(what))  # fmt: skip
    kind = "new action" if created else "one more exemplar of"
    print(f"enrolled {kind} {rec.label!r} ({slug}): {clip.shape[0]} frames = {clip.shape[0] / fps:.1f} s "
          f"(frames {start}..{stop} of the recording at {fps:g} fps) in {store.root}")  # fmt: skip
    return 0
