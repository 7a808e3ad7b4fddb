"""Per-window latency of the reference InfoGCN vs our model (torch, ONNX FP32, ONNX INT8), one run.

Measures, in one process with all models interleaved round by round (2 threads by default):

* ``reference_torch``: the reference-style InfoGCN forward in torch eager;
* ``reference_ort``: the same model exported (dynamo) and run in ONNX Runtime: the best deployment
  of the reference, and the baseline of the ratios; ``reference_ort_guarded``: the same with our
  subnormal guard on its attention (separates our structural speed-up from the numerical one);
* ``reference_ort_daz``: the unguarded reference with ORT's ``session.set_denormal_as_zero`` (the
  numerical fix as a session option instead of a graph change);
* ``ours_torch`` / ``ours_fp32`` / ``ours_int8``: our CrossGLG inference model (InfoGCN encoder +
  JID + head) in torch eager, exported to ONNX (``crossglg.model.export_fused``: the default export),
  and quantised by ``calib``; ``ours_fp32_module`` = the same weights exported from the training
  module's own eval graph (``fused=False``: the export before the rewrite); ``ours_int8`` = the
  TensorRT-compatible file (symmetric int8), ``ours_int8_cpu`` = ``--target ort-cpu`` (uint8
  activations, fused into integer kernels by ORT on x86 without VNNI); calibrated on real windows
  when ``--data-root`` exists, else on random ones;

at batch 1 and batch 8 (per-window figures = call time / batch), T = 64, M = 1, on random inputs
(``--input random``, as the reference figures in DESIGN.md) or real windows (``--input real``:
peaked attention, where the unguarded reference hits subnormal floats). It also measures
the fp32 GEMM rate (torch matmul of 2048 x 2048 matrices) in the same run, so the arithmetic floor
of a window (FLOPs / GEMM rate) is a same-conditions figure. Besides wall time it records the
process CPU time of each call (``cpu_ms``: all ORT threads; no spin-waiting), which is far less
sensitive to other processes on a shared machine than wall time. ``--profile DIR`` adds ORT profiles of
the ONNX models: each one's time per op type and its GEMM / non-GEMM split (``ort_profile.gemm_split``:
GEMM-like time, FLOPs and rate, and the most that removing all other work could gain). ``--spin``
adds a second timing of the ORT models with spin-waiting allowed (ORT's default and the edge
engine's), block by block (``time_all(block=...)``), under keys ``batch<B>_spin``. Weights: the reference's
BatchNorms are calibrated on random batches; ours gets the reference's weights where they match
(``to_fast_state_dict``; JID random), so activations have realistic magnitudes.

    .venv/bin/python tools/bench/model_latency.py --json [--rounds 20] [--profile /tmp/prof]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_infogcn_onnx import _calibrate_bn, _RefWrapper  # noqa: E402  (same baseline set-up)
from ort_profile import gemm_split, op_ms  # noqa: E402

from crossglg.model import ModelConfig, SkeletonBranch, count_flops  # noqa: E402
from crossglg.model.export import export_onnx  # noqa: E402
from crossglg.model.reference_infogcn import ReferenceInfoGCN, to_fast_state_dict  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def session(path: Path, threads: int, profile: str = "", level: str = "all", daz: bool = False,
            spin: bool = False) -> ort.InferenceSession:
    """CPU session as the edge engine configures it (all optimisations, inter-op 1), without
    spin-waiting: several sessions and torch share 2 cores here, and a session's spinning workers
    would steal the cores from whichever model runs next."""
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    if daz:  # flush subnormals to zero on ORT's threads (x86 MXCSR FTZ/DAZ)
        opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    opts.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if level == "all"
                                     else ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED)  # no NCHWc layouts
    if profile:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def gemm_gflops(threads: int, n: int = 2048, reps: int = 5) -> float:
    """Best-of-``reps`` fp32 GEMM rate (GFLOP/s) of torch on ``threads`` threads."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def op_shares(profile_json: str) -> dict[str, float]:
    """Share of node time per op type from an ORT profile (kernel events only)."""
    per_op = op_ms(profile_json, runs=1)
    total = sum(per_op.values()) or 1.0
    return dict(sorted(((k, v / total) for k, v in per_op.items()), key=lambda kv: -kv[1]))


def node_counts(path: Path, work: Path) -> dict[str, dict[str, int]]:
    """Op-type counts of the ONNX file and of ORT's optimised graph (what actually runs)."""
    import collections

    import onnx

    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(work / (path.stem + ".ort-optimised.onnx"))
    opts.log_severity_level = 3  # the NCHWc serialisation warning
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    count = lambda m: dict(collections.Counter(n.op_type for n in m.graph.node).most_common())  # noqa: E731
    return {"file": count(onnx.load(str(path))), "optimised": count(onnx.load(opts.optimized_model_filepath))}


def profile(paths: dict[str, Path], x: np.ndarray, threads: int, out_dir: Path, runs: int = 20) -> dict:
    """ORT profiles of ``paths`` (batch of ``x``), the models' runs interleaved; returns ``{name:
    {"share": {op_type: share}, "ms": {op_type: ms per run}, "nodes": node_counts}}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sessions = {name: session(p, threads, str(out_dir / name)) for name, p in paths.items()}
    for _ in range(runs):
        for s in sessions.values():
            s.run(None, {"skeleton": x})
    result = {}
    for name, s in sessions.items():
        prof = s.end_profiling()
        result[name] = {"share": {k: round(v, 4) for k, v in op_shares(prof).items()},
                        "ms": {k: round(v, 3) for k, v in op_ms(prof, runs).items()},
                        "gemm_split": gemm_split(prof),
                        "nodes": node_counts(paths[name], out_dir)}
    return result


def calibration_windows(frames: int, data_root: Path, count: int) -> tuple[np.ndarray, str]:
    """Real base-class windows when the data is there (as users calibrate), else random ones."""
    if (data_root / "utd_mhad").is_dir():
        from calib.windows import InputSpec, protocol_split
        from calib.windows import calibration_windows as real_windows
        from crossglg.preprocess import PreprocessConfig
        from crossglg.skeleton.layouts import get_layout

        spec = InputSpec(PreprocessConfig(frames=frames), get_layout("ntu25"))
        return real_windows(protocol_split("realdata", data_root).train, spec, count), "realdata"
    return np.random.default_rng(1).standard_normal((count, 3, frames, 25, 1)).astype(np.float32), "random"


def time_all(fns: dict[str, callable], rounds: int, warmup: int, block: int = 1, pause_s: float = 0.0
             ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and process-CPU milliseconds per call of each function, interleaved; the order rotates
    every round. ``block > 1`` is for sessions that spin-wait (ORT's default, and the edge engine's):
    each model then runs ``block`` calls in a row after a pause of ``pause_s`` in which the previous
    model's spinning workers park, and the first call of every block is dropped (it may still share
    the cores with them)."""
    for f in fns.values():
        for _ in range(warmup):
            f()
    names = list(fns)
    times: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        for k in names[r % len(names):] + names[: r % len(names)]:
            if pause_s:
                time.sleep(pause_s)
            for i in range(block):
                t0, c0 = time.perf_counter(), time.process_time()
                fns[k]()
                if block == 1 or i:
                    cpu[k].append((time.process_time() - c0) * 1e3)
                    times[k].append((time.perf_counter() - t0) * 1e3)
    return times, cpu


def per_window_stats(times: dict[str, list[float]], cpu: dict[str, list[float]], batch: int) -> dict[str, dict]:
    """Call times (ms) -> per-window median, p95 and median CPU time of each model."""
    return {k: {"median_ms": statistics.median(v) / batch, "p95_ms": float(np.percentile(v, 95)) / batch,
                "cpu_ms": statistics.median(cpu[k]) / batch} for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--batches", default="1,8", help="batch sizes, comma separated")
    ap.add_argument("--data-root", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--calib-windows", type=int, default=64)
    ap.add_argument("--input", choices=("random", "real"), default="random", help="timed inputs (see above)")
    ap.add_argument("--keep", default="", help="keep the ONNX files in this folder")
    ap.add_argument("--profile", default="", help="write ORT profiles here and report op time shares")
    ap.add_argument("--profile-threads", type=int, default=1,
                    help="ORT threads of the profiled sessions (default 1: per-op times are then CPU times)")
    ap.add_argument("--extended", action="store_true",
                    help="also time reference/ours FP32/ours INT8-cpu with ORT_ENABLE_EXTENDED (no NCHWc reorders)")
    ap.add_argument("--only-batch1-torch", action="store_true", help="time the torch models at batch 1 only")
    ap.add_argument("--spin", action="store_true",
                    help="also time the ORT models with spin-waiting allowed (ORT's default), in blocks")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)  # ORT quantiser advice
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    shape = (1, 3, args.frames, 25, 1)

    ref = ReferenceInfoGCN(args.classes, num_person=1)
    _calibrate_bn(ref, shape)
    ref_guard = ReferenceInfoGCN(args.classes, num_person=1, flush_subnormal=True)
    ref_guard.load_state_dict(ref.state_dict())
    ref_guard.eval()
    ours = SkeletonBranch(ModelConfig(num_classes=args.classes, frames=args.frames, g2l=True))
    missing = ours.load_state_dict(to_fast_state_dict(ref), strict=False).missing_keys
    if any(not k.startswith("jid.") for k in missing):
        raise RuntimeError(f"reference weights do not cover our encoder: {missing}")
    ours.eval()
    flops = count_flops(ours, shape)
    flops_ref = count_flops(_RefWrapper(ref).eval(), shape)

    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="model_latency-"))
    tmp.mkdir(parents=True, exist_ok=True)
    paths = {
        "reference_ort": export_onnx(_RefWrapper(ref).eval(), tmp / "reference.onnx", dynamo=True,
                                     input_shape=(2, *shape[1:]), output_names=["embedding", "logits"]),
        "reference_ort_guarded": export_onnx(_RefWrapper(ref_guard).eval(), tmp / "reference_guarded.onnx",
                                             dynamo=True, input_shape=(2, *shape[1:]),
                                             output_names=["embedding", "logits"]),
        "ours_fp32": export_onnx(ours, tmp / "ours.onnx", dynamo=True),
        "ours_fp32_module": export_onnx(ours, tmp / "ours_module.onnx", dynamo=True, fused=False),
    }
    from calib.quantize import QuantConfig, quantize_model

    win, win_src = calibration_windows(args.frames, Path(args.data_root), args.calib_windows)
    paths["ours_int8"] = quantize_model(paths["ours_fp32"], tmp / "ours.int8.onnx", win, QuantConfig()).path
    paths["ours_int8_cpu"] = quantize_model(paths["ours_fp32"], tmp / "ours.int8cpu.onnx", win,
                                            QuantConfig(activations="uint8")).path
    sessions = {k: session(p, args.threads) for k, p in paths.items()}
    sessions["reference_ort_daz"] = session(paths["reference_ort"], args.threads, daz=True)
    if args.extended:  # session-setting experiment: ORT without its NCHWc layout transformer
        for k in ("reference_ort", "ours_fp32", "ours_int8_cpu"):
            sessions[f"{k}_extended"] = session(paths[k], args.threads, level="extended")

    batches = [int(b) for b in args.batches.split(",")]
    rng = np.random.default_rng(0)
    if args.input == "real":
        inputs = {b: win[rng.integers(0, len(win), size=b)] for b in batches}
    else:
        inputs = {b: rng.standard_normal((b, *shape[1:])).astype(np.float32) for b in batches}
    # parity: the ONNX files compute what torch computes (same weights, same input)
    with torch.no_grad():
        xt = torch.from_numpy(inputs[batches[0]])
        emb_ours = ours(xt)[0].numpy()
        emb_ref = ref(xt)[1].numpy()
    parity = {
        "ours_fp32_vs_torch": float(np.abs(sessions["ours_fp32"].run(["embedding"], {"skeleton": inputs[batches[0]]})[0]
                                           - emb_ours).max() / np.abs(emb_ours).max()),
        "reference_ort_vs_torch": float(np.abs(sessions["reference_ort"].run(["embedding"], {"skeleton": inputs[batches[0]]})[0]
                                               - emb_ref).max() / np.abs(emb_ref).max()),
    }
    gemm = gemm_gflops(args.threads)
    load_before = os.getloadavg()[0]
    per_window: dict[str, dict] = {}
    for b in batches:
        x = inputs[b]
        xt = torch.from_numpy(x)
        fns = {} if (args.only_batch1_torch and b > 1) else {
            "reference_torch": lambda xt=xt: ref(xt), "ours_torch": lambda xt=xt: ours(xt)}
        fns.update({k: (lambda x=x, s=s: s.run(None, {"skeleton": x})) for k, s in sessions.items()})
        with torch.no_grad():
            times, cpu = time_all(fns, args.rounds, args.warmup)
        per_window[f"batch{b}"] = per_window_stats(times, cpu, b)
    if args.spin:  # one spinning session alive per model; blocks keep their spinning apart
        spin_names = ("reference_ort", "reference_ort_guarded", "ours_fp32", "ours_int8_cpu")
        spinning = {k: session(paths[k], args.threads, spin=True) for k in spin_names}
        for b in batches:
            x = inputs[b]
            fns = {k: (lambda x=x, s=s: s.run(None, {"skeleton": x})) for k, s in spinning.items()}
            times, cpu = time_all(fns, max(4, args.rounds // 2), 1, block=6, pause_s=0.05)
            per_window[f"batch{b}_spin"] = per_window_stats(times, cpu, b)
        del spinning
    gemm_after = gemm_gflops(args.threads)  # the machine is shared: bracket the run
    floor_ms = flops / (max(gemm, gemm_after) * 1e9) * 1e3
    ratios = {}
    for key, res in per_window.items():
        base = res["reference_ort"]["median_ms"]
        guarded = res["reference_ort_guarded"]["median_ms"]
        if key.endswith("_spin"):
            ratios[key] = {"speedup_fp32": base / res["ours_fp32"]["median_ms"],
                           "speedup_int8_cpu": base / res["ours_int8_cpu"]["median_ms"],
                           "speedup_fp32_vs_guarded": guarded / res["ours_fp32"]["median_ms"],
                           "floor_ratio": {k: v["median_ms"] / floor_ms for k, v in res.items()}}
            continue
        ratios[key] = {
            "speedup_fp32": base / res["ours_fp32"]["median_ms"],
            "speedup_int8": base / res["ours_int8"]["median_ms"],
            "speedup_int8_cpu": base / res["ours_int8_cpu"]["median_ms"],
            "speedup_fp32_vs_guarded": guarded / res["ours_fp32"]["median_ms"],
            "speedup_int8_vs_guarded": guarded / res["ours_int8"]["median_ms"],
            "speedup_int8_cpu_vs_guarded": guarded / res["ours_int8_cpu"]["median_ms"],
            "speedup_fp32_vs_daz": res["reference_ort_daz"]["median_ms"] / res["ours_fp32"]["median_ms"],
            "fused_vs_module": res["ours_fp32_module"]["median_ms"] / res["ours_fp32"]["median_ms"],
            "cpu_time": {  # the same ratios on process CPU time (robust to other load)
                "speedup_fp32": res["reference_ort"]["cpu_ms"] / res["ours_fp32"]["cpu_ms"],
                "speedup_fp32_vs_guarded": res["reference_ort_guarded"]["cpu_ms"] / res["ours_fp32"]["cpu_ms"],
                "speedup_int8_vs_guarded": res["reference_ort_guarded"]["cpu_ms"] / res["ours_int8"]["cpu_ms"],
                "speedup_int8_cpu_vs_guarded": res["reference_ort_guarded"]["cpu_ms"] / res["ours_int8_cpu"]["cpu_ms"],
                "fused_vs_module": res["ours_fp32_module"]["cpu_ms"] / res["ours_fp32"]["cpu_ms"],
            },
            **({"speedup_torch_vs_reference_torch": res["reference_torch"]["median_ms"] / res["ours_torch"]["median_ms"],
                "reference_ort_vs_reference_torch": res["reference_torch"]["median_ms"] / base}
               if "reference_torch" in res else {}),
            "floor_ratio": {k: v["median_ms"] / floor_ms for k, v in res.items()},  # 1.0 = at the floor
        }
    result = {
        "threads": args.threads, "frames": args.frames, "input": args.input, "rounds": args.rounds, "bodies": 1,
        "per_window": per_window, "ratios": ratios,
        "flops_per_window": {"ours": flops, "reference": flops_ref},
        "gemm_gflops": {"before": gemm, "after": gemm_after},
        "floor_ms": floor_ms, "calibration": win_src, "parity_rel": parity,
        "onnxruntime": ort.__version__, "torch": torch.__version__,
        "loadavg_1min": {"before": load_before, "after": os.getloadavg()[0]},
    }
    if args.profile:
        result["profile_batch1"] = profile(paths, inputs[batches[0]], args.profile_threads, Path(args.profile))
        result["profile_threads"] = args.profile_threads
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for key, res in per_window.items():
            print(f"{key}: " + ", ".join(f"{k} {v['median_ms']:.2f} ms (p95 {v['p95_ms']:.2f})" for k, v in res.items()))
            r = ratios[key]
            if key.endswith("_spin"):
                print(f"  spinning: speedup_fp32 x{r['speedup_fp32']:.2f}, ort-cpu int8 x{r['speedup_int8_cpu']:.2f}")
                continue
            print(f"  speedup_fp32 x{r['speedup_fp32']:.2f}, speedup_int8 x{r['speedup_int8']:.2f} "
                  f"(ort-cpu x{r['speedup_int8_cpu']:.2f}) vs reference in ORT; vs guarded: fp32 "
                  f"x{r['speedup_fp32_vs_guarded']:.2f}, int8 x{r['speedup_int8_vs_guarded']:.2f} "
                  f"(ort-cpu x{r['speedup_int8_cpu_vs_guarded']:.2f}); "
                  f"floor {floor_ms:.2f} ms -> ours_fp32 at x{r['floor_ratio']['ours_fp32']:.2f} of the floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
