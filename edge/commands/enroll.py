"""`crossglg-edge enroll LABEL`: record one demonstration, trim it to the moving part, store it.

Camera: a countdown, then ``--seconds`` of recording. Video / skeleton file: the whole file is the
demonstration (trimmed to motion). The raw clip and its embedding go into the support store; an
existing label gets one more exemplar. (With a runtime already running, enroll through its control
channel instead, e.g. from the UI: this command writes the store directly.)
"""

from __future__ import annotations

import argparse
import sys

from ..enrollment import EnrollRecorder, store_demonstration
from ..runtime import default_store_dir, open_model, open_support_store, preprocess_config_for
from ..source_args import add_source_arguments, source_from_args
from .run import add_model_arguments

NAME = "enroll"
HELP = "Record one demonstration of a new action (camera, video or skeleton file) and store it."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("label", metavar="LABEL", help="the action's name (free text)")
    add_source_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument("--countdown", type=float, default=3.0, metavar="S", help="camera: seconds before recording")
    parser.add_argument("--seconds", type=float, default=4.0, metavar="S", help="camera: seconds to record")


def run(args: argparse.Namespace) -> int:
    live = args.camera is not None or args.kinect_azure is not None
    rec = EnrollRecorder(args.label, args.countdown if live else 0.0, args.seconds, whole_source=not live)
    with open_model(args.model, threads=args.threads) as engine:
        store = open_support_store(args.store or default_store_dir(), engine)
        source = source_from_args(args)
        with source:
            for frame in source:
                for p in rec.feed(frame):
                    if live and p.phase == "countdown":
                        print(f"{p.label}: recording in {p.seconds_left:.0f} ...", file=sys.stderr, flush=True)
                    elif live and p.phase == "recording" and p.seconds_left == args.seconds:
                        print(f"{p.label}: recording for {args.seconds:g} s: go!", file=sys.stderr, flush=True)
                if rec.finished:
                    break
        rec.stop()
        clip, fps, (start, stop) = rec.result()
        what = f"camera {args.camera}" if live else (args.video or args.skeleton or "kinect")
        slug, created = store_demonstration(store, engine, preprocess_config_for(engine.meta), rec.label, clip, fps,
                                            source=str(what))  # fmt: skip
    kind = "new action" if created else "one more exemplar of"
    print(f"enrolled {kind} {rec.label!r} ({slug}): {clip.shape[0]} frames = {clip.shape[0] / fps:.1f} s "
          f"(frames {start}..{stop} of the recording at {fps:g} fps) in {store.root}")  # fmt: skip
    return 0
