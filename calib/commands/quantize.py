"""``crossglg-calib quantize``: FP32 ONNX + real data -> symmetric Q/DQ INT8 ONNX (+ TensorRT-provider table)."""

from __future__ import annotations

import argparse
import json
import logging
import time

NAME = "quantize"
HELP = "calibrate an exported FP32 ONNX on real windows and write a Q/DQ INT8 ONNX (ORT CPU and TensorRT input)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from calib.quantize import CPU_OPS, DEFAULT_OPS, METHODS

    p.add_argument("model", nargs="?", default=None,
                   help="FP32 ONNX exported by `crossglg-train export` (default: the installed starter model's FP32 file)")
    p.add_argument("--data-root", required=True, help="folder with one sub-folder per dataset (e.g. utd_mhad, nw_ucla)")
    p.add_argument("--protocol", default="realdata", help="one-shot protocol whose BASE classes feed calibration")
    p.add_argument("--windows", type=int, default=512,
                   help="calibration windows (default 512: embedding cosine to FP32 0.9955 -> 0.997 over 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of the (deterministic) window selection")
    p.add_argument("--method", choices=sorted(METHODS), default="percentile",
                   help="calibration method (default percentile: min/max ranges are dominated by rare outliers)")
    p.add_argument("--percentile", type=float, default=99.99, help="kept share of |x| for --method percentile (default 99.99)")
    p.add_argument("--ops", default="", help=f"op types to quantise, comma separated (default: {','.join(DEFAULT_OPS)} "
                                             f"for tensorrt, {','.join(CPU_OPS)} for ort-cpu)")
    p.add_argument("--weights-only-matmul", action=argparse.BooleanOptionalAction, default=False,
                   help="keep every MatMul without a constant operand (both attention products) in float32")
    p.add_argument("--float-logits", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the attention logits (Q K^T, the MatMuls feeding a Softmax) in float32 "
                        "and quantise the graph product A x (default: off for tensorrt, on for ort-cpu)")
    p.add_argument("--per-tensor", action="store_true", help="per-tensor weight scales (default per channel)")
    p.add_argument("--target", choices=("tensorrt", "ort-cpu"), default="tensorrt",
                   help="tensorrt (default): symmetric int8 activations, zero points 0, float biases (TensorRT "
                        "explicit quantization; ORT runs it too); ort-cpu: uint8 activations, which ONNX Runtime "
                        "fuses into integer kernels on x86 CPUs without VNNI (TensorRT rejects it)")
    p.add_argument("--int8-stem", action="store_true", help="quantise the stem too (default: the stem on the raw input stays float32)")
    p.add_argument("--int8-head", action="store_true",
                   help="quantise the embedding head too (default: the GEMMs after the last conv stay float32)")
    p.add_argument("--exclude", default="", help="node names to keep in float32, comma separated")
    p.add_argument("--no-preprocess", action="store_true", help="skip ORT's quant_pre_process pass")
    p.add_argument("--out", required=True, help="INT8 ONNX to write")
    p.add_argument("--trt-table", default="", metavar="DIR",
                   help="also write ORT TensorRT-provider calibration files (calibration.flatbuffers/.json/.cache)")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from calib.installed import model_or_installed
    from calib.quantize import QuantConfig, quantize_model
    from calib.table import write_trt_table
    from calib.windows import calibration_windows, model_input_spec, protocol_split

    logging.getLogger().setLevel(logging.ERROR)  # ORT's quantiser logs pre-processing advice at WARNING
    src = model_or_installed(args.model, "fp32", "quantize")
    if not src.is_file():
        raise FileNotFoundError(f"ONNX model not found: {src}")
    ops = tuple(o.strip() for o in args.ops.split(",") if o.strip()) or None
    cfg = QuantConfig(method=args.method, percentile=args.percentile, ops=ops, per_channel=not args.per_tensor,
                      weights_only_matmul=args.weights_only_matmul, float_logits=args.float_logits,
                      preprocess=not args.no_preprocess,
                      float_stem=not args.int8_stem, float_head=not args.int8_head, activations="int8" if args.target == "tensorrt" else "uint8",
                      exclude=tuple(n.strip() for n in args.exclude.split(",") if n.strip()))
    progress = not args.no_progress
    t0 = time.perf_counter()
    spec = model_input_spec(src)
    split = protocol_split(args.protocol, args.data_root)
    windows = calibration_windows(split.train, spec, args.windows, args.seed, progress)
    result = quantize_model(src, args.out, windows, cfg, progress)
    table = write_trt_table(result.ranges, args.trt_table) if args.trt_table else []
    summary = {"int8": str(result.path), "windows": result.windows, "qdq_nodes": result.qdq_nodes,
               "calibrated_tensors": len(list(result.ranges.keys())), "config": cfg.to_dict(),
               "protocol": args.protocol, "trt_table": [str(p) for p in table],
               "seconds": round(time.perf_counter() - t0, 1)}
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"wrote {result.path} ({result.path.stat().st_size / 1e6:.1f} MB): {result.qdq_nodes} Q/DQ nodes, "
              f"{result.windows} windows from {args.protocol} base classes, {args.method} calibration, "
              f"{summary['seconds']} s")
        for p in table:
            print(f"wrote {p}")
        if table:
            print("note: calibration.cache is onnxruntime's text dump, not TensorRT's native calibration cache")
    return 0
