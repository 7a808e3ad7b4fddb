"""A/B latency of several ONNX files in ONNX Runtime, interleaved in one process (graph-rewrite steps).

Every file gets the same random input ``(batch, *input_shape[1:])``; calls rotate through the files
round by round, so slow phases of a shared machine hit all of them alike. Reports per-window median
wall time and process CPU time (all ORT threads; spin-waiting off) and both as ratios to the FIRST
file. ``FILE@key=value`` adds an ORT session config entry to that file's session (e.g.
``m.onnx@session.set_denormal_as_zero=1``); the same file may appear several times.
``--ops`` adds each file's per-op-type milliseconds per run (ORT profile, median per node).

    .venv/bin/python tools/bench/onnx_ab.py --rounds 30 --batch 1 base.onnx new.onnx [--ops --threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ort_profile import gemm_split, op_ms  # noqa: E402


def make_session(spec: str, threads: int, profile_dir: str = "") -> tuple[str, ort.InferenceSession]:
    path, *entries = spec.split("@")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    for kv in entries:
        key, _, value = kv.partition("=")
        opts.add_session_config_entry(key, value)
    if profile_dir:
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(profile_dir) / Path(path).stem)
    return path, ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="ONNX files (FILE[@key=value...]); ratios are to the first")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ops", action="store_true", help="also per-op-type ms per run from ORT profiles")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    prof_dir = tempfile.mkdtemp(prefix="onnx_ab-") if args.ops else ""
    sessions = [make_session(f, args.threads, prof_dir) for f in args.files]
    inp = sessions[0][1].get_inputs()[0]
    x = np.random.default_rng(0).standard_normal((args.batch, *inp.shape[1:])).astype(np.float32)
    for _, s in sessions:
        for _ in range(3):
            s.run(None, {inp.name: x})
    wall: list[list[float]] = [[] for _ in sessions]
    cpu: list[list[float]] = [[] for _ in sessions]
    load_before = os.getloadavg()[0]
    order = list(range(len(sessions)))
    for r in range(args.rounds):
        for i in order[r % len(order):] + order[: r % len(order)]:
            t0, c0 = time.perf_counter(), time.process_time()
            sessions[i][1].run(None, {inp.name: x})
            cpu[i].append((time.process_time() - c0) * 1e3 / args.batch)
            wall[i].append((time.perf_counter() - t0) * 1e3 / args.batch)
    med_w = [statistics.median(v) for v in wall]
    med_c = [statistics.median(v) for v in cpu]
    rows = [{"file": spec, "median_ms": w, "cpu_ms": c, "speedup_wall": med_w[0] / w, "speedup_cpu": med_c[0] / c}
            for spec, w, c in zip(args.files, med_w, med_c, strict=True)]
    if args.ops:
        for row, (_, s) in zip(rows, sessions, strict=True):
            prof = s.end_profiling()
            row["op_ms"] = {k: round(v, 3) for k, v in op_ms(prof, args.rounds + 3).items()}
            row["gemm_split"] = gemm_split(prof)
    result = {"batch": args.batch, "threads": args.threads, "rounds": args.rounds,
              "loadavg_1min": {"before": load_before, "after": os.getloadavg()[0]}, "models": rows}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"batch {args.batch}, {args.threads} threads, load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    for row in rows:
        print(f"{row['median_ms']:9.2f} ms x{row['speedup_wall']:5.2f}   cpu {row['cpu_ms']:9.2f} ms "
              f"x{row['speedup_cpu']:5.2f}   {row['file']}")
    if args.ops:
        ops = sorted({k for r in rows for k in r["op_ms"]}, key=lambda k: -max(r["op_ms"].get(k, 0) for r in rows))
        print("op".ljust(24) + "".join(f"{i:>10d}" for i in range(len(rows))))
        for k in ops:
            print(k.ljust(24) + "".join(f"{r['op_ms'].get(k, 0):10.3f}" for r in rows))
        print("total".ljust(24) + "".join(f"{sum(r['op_ms'].values()):10.3f}" for r in rows))
        for key in ("gemm_ms", "gemm_gflops", "non_gemm_ms", "max_gain_without_non_gemm"):
            print(key.ljust(24) + "".join(f"{r['gemm_split'][key]:10.3f}" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
