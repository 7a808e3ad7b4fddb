"""`crossglg-train calibrate-open-set BENCHMARK.json --into MODEL.onnx`: store the benchmark's
calibrated open-set values (threshold, margin, DC margin) and its ranking decision (DC only when it
beat centred cosine on the protocols) in ONNX models' metadata, where the edge picks them up;
``--target-far``, or a file calibrated before the ranking decision for another primary path, is
recalibrated from the episodes the benchmark saved next to it.
Torch-free: reads JSON and episode arrays, rewrites metadata only (the fingerprint stays)."""

from __future__ import annotations

import argparse

NAME = "calibrate-open-set"
HELP = "store a benchmark's calibrated open-set thresholds in ONNX models' metadata"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", metavar="BENCHMARK.json", help="results of `crossglg-train benchmark CHECKPOINT`")
    parser.add_argument("--into", action="append", required=True, metavar="MODEL.onnx",
                        help="model file to write the values into (repeatable)")  # fmt: skip
    parser.add_argument("--target-far", type=float, default=None, metavar="F",
                        help="recalibrate for this false-accept rate (default: the benchmark's own target)")


def run(args: argparse.Namespace) -> int:
    from train.open_set_meta import calibration_from_results, describe, write_open_set

    if args.target_far is not None and not 0.0 <= args.target_far <= 1.0:
        raise ValueError(f"--target-far must be in [0, 1], got {args.target_far}")
    cal = calibration_from_results(args.results, args.target_far)
    if not cal.get("target_met", True):
        print(f"crossglg-train calibrate-open-set: warning: false accepts <= {100 * cal['target_far']:g}% were "
              "not reached on the threshold grid; the most conservative values are stored")  # fmt: skip
    for model in args.into:
        print(f"wrote open-set values into {model}: {describe(write_open_set(model, cal))}")
    return 0
