"""``crossglg-calib report``: one-shot accuracy and batch-1 latency of an FP32 and an INT8 ONNX."""

from __future__ import annotations

import argparse
import json

NAME = "report"
HELP = "compare FP32 and INT8 ONNX models: one-shot accuracy on the same protocol and exemplars, CPU latency"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("fp32", nargs="?", default=None, help="FP32 ONNX (default: the installed starter model's FP32 file)")
    p.add_argument("int8", nargs="?", default=None,
                   help="INT8 (Q/DQ) ONNX from `crossglg-calib quantize` (default: the installed INT8 file)")
    p.add_argument("--data-root", required=True, help="folder with one sub-folder per dataset")
    p.add_argument("--protocol", default="realdata", help="one-shot protocol (novel classes are evaluated)")
    p.add_argument("--draws", type=int, default=20, help="random exemplar draws (default 20)")
    p.add_argument("--rounds", type=int, default=50, help="latency repetitions per model (default 50)")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads (default 2)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from calib.installed import model_or_installed
    from calib.report import ReportConfig, compare, summary_table

    fp32 = model_or_installed(args.fp32, "fp32", "report")
    int8 = model_or_installed(args.int8, "int8", "report")
    cfg = ReportConfig(protocol=args.protocol, draws=args.draws, latency_rounds=args.rounds, threads=args.threads)
    report = compare(fp32, int8, args.data_root, cfg, progress=not args.no_progress)
    print(json.dumps(report, indent=1) if args.json else summary_table(report))
    return 0
