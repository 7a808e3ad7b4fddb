"""`crossglg-edge build-engine`: compile an ONNX model into a cached TensorRT engine on this device.

Exit codes: 0 engine built (or found in the cache; its path is printed on stdout), 2 bad input
(missing file, bad option, int8 without Q/DQ), 3 TensorRT or a GPU is not available here, 1 the
build itself failed. No traceback for any of these.
"""

from __future__ import annotations

import argparse
import sys

from ..engines.base import EngineUnavailableError
from ..engines.trt_plan import PRECISIONS, default_cache_dir

NAME = "build-engine"
HELP = "Build a TensorRT engine from an ONNX model (on the device that will run it) and cache it."
EXIT_UNAVAILABLE = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL.onnx", help="exported model (int8: a Q/DQ model from crossglg-calib)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="engine precision (default fp32)")
    parser.add_argument("--max-batch", type=int, default=8, metavar="N", help="largest batch the engine accepts (default 8)")
    parser.add_argument("--opt-batch", type=int, default=1, metavar="N", help="batch size TensorRT tunes for (default 1)")
    parser.add_argument("--cache-dir", default=None, metavar="DIR",
                        help=f"engine cache directory (default {default_cache_dir()})")
    parser.add_argument("--out", default=None, metavar="PATH", help="also copy the engine (+ .json sidecar) here")
    parser.add_argument("--workspace-mb", type=int, default=1024, metavar="MB", help="builder workspace limit (default 1024)")
    parser.add_argument("--gpu-name", default=None, help="name of the GPU for the cache key (default: detected)")
    parser.add_argument("--force", action="store_true", help="rebuild even when a cached engine exists")


def run(args: argparse.Namespace) -> int:
    if args.max_batch < 1:
        raise ValueError(f"--max-batch must be >= 1, got {args.max_batch}")
    if args.workspace_mb < 1:
        raise ValueError(f"--workspace-mb must be >= 1, got {args.workspace_mb}")
    if args.out is not None and not args.out.endswith((".engine", ".plan")):
        raise ValueError(f"--out must end in .engine or .plan (the suffix selects the backend), got {args.out}")
    from ..engines.tensorrt import build_engine  # keeps `crossglg-edge --help` light

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    try:
        path = build_engine(args.model, precision=args.precision, cache_dir=args.cache_dir,
                            max_batch=args.max_batch, opt_batch=args.opt_batch, out=args.out,
                            workspace_mb=args.workspace_mb, gpu_name=args.gpu_name, force=args.force, log=log)
    except EngineUnavailableError as exc:
        print(f"crossglg-edge {NAME}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except RuntimeError as exc:
        print(f"crossglg-edge {NAME}: build failed: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
