"""Benchmark: training throughput (samples/s) of one full training step, torch eager on CPU.

A step = forward + losses + backward + SGD (Nesterov, momentum 0.9, weight decay 5e-4), the way
``train.loop.train_step`` runs it. Models, all with the same encoder weights and the same batch:

* ``reference``: the reference-style InfoGCN (``crossglg.model.reference_infogcn``, as published)
  with InfoGCN's loss (label-smoothing CE + MMD + mean-z, via ``compute_losses``);
* ``baseline``: our InfoGCN variant without text guidance (``CrossGLGModel``, g2l and l2g off);
* ``crossglg``: g2l (JID + calibration loss) + l2g (cross-modal branch on text features + L_c);
* ``<name>@<rev>``: the same model with ``infogcn.py``/``crossmodal.py``/``heads.py`` taken
  from each git revision given to ``--before`` (loaded in-process), so code changes are measured
  against their predecessors in the same interleaved run;
* ``<name>+ftz``: the same model with ``torch.set_flush_denormal(True)`` around its step;
* ``<name>+t<k>``: the same model run with ``k`` intra-op threads (``--alt-threads k``).

Rounds interleave every (model, T) pair in a rotating order; medians of wall time and of process
CPU time per step are reported (the box is shared: say the load average next to any figure).
``--profile`` adds a torch.profiler breakdown (top ops by self CPU time, and op families) of one
step per model at the first T. ``--compile-probe`` times the SA-GC attention softmax (forward +
backward, the only elementwise chain big enough to fuse) eager vs ``torch.compile`` at the first T,
with its compile time: whole-model inductor was slower here (DESIGN.md), so only parts qualify.

    .venv/bin/python tools/bench/bench_train_step.py --rounds 6 --profile --json
    .venv/bin/python tools/bench/bench_train_step.py --models baseline crossglg --before HEAD~2 HEAD~1
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from crossglg.model import ModelConfig
from crossglg.model import registry as encoder_registry
from crossglg.model.crossmodal import CrossModalInteraction
from crossglg.model.dual_branch import CrossGLGModel
from crossglg.model.infogcn import attention_softmax
from crossglg.model.losses import compute_losses, orthogonal_prior
from crossglg.model.reference_infogcn import ReferenceInfoGCN, to_fast_state_dict

REPO = Path(__file__).resolve().parents[2]
BEFORE_FILES = ("infogcn", "crossmodal", "heads")
FAMILIES = (  # op-name substrings -> family, first match wins
    ("conv", ("convolution", "conv2d", "mkldnn_conv")), ("gemm", ("addmm", "aten::mm", "linear")),
    ("batched_matmul", ("bmm", "matmul", "baddbmm")), ("batch_norm", ("batch_norm",)),
    ("layer_norm", ("layer_norm",)), ("softmax", ("softmax",)),
    ("copy_layout", ("copy_", "clone", "contiguous", "cat", "index", "_to_copy")),
    ("pooling", ("pool",)), ("optimizer", ("Optimizer", "_foreach", "sgd")),
)


def load_before(rev: str) -> dict[str, object]:
    """Modules ``crossglg.model.{infogcn,crossmodal,heads}`` as of git ``rev``, under private names.

    The encoder registry is swapped out while the old ``infogcn`` registers itself, so the current
    registration stays untouched.
    """
    mods: dict[str, object] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench_before_"))
    saved = dict(encoder_registry._ENCODERS)
    try:
        for name in BEFORE_FILES:
            src = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:crossglg/model/{name}.py"],
                                 check=True, capture_output=True, text=True).stdout
            path = tmp / f"{name}.py"
            path.write_text(src)
            encoder_registry._ENCODERS.clear()
            tag = "".join(ch if ch.isalnum() else "_" for ch in rev)
            spec = importlib.util.spec_from_file_location(f"crossglg.model._before_{tag}_{name}", path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = mod
            spec.loader.exec_module(mod)
            mods[name] = mod
    finally:
        encoder_registry._ENCODERS.clear()
        encoder_registry._ENCODERS.update(saved)
    return mods


def build_ours(cfg: ModelConfig, ref_state: dict[str, torch.Tensor], before: dict[str, object] | None,
               text: torch.Tensor, k_gt: torch.Tensor) -> CrossGLGModel:
    """``CrossGLGModel`` with the reference's encoder/head weights (optionally old module code)."""
    torch.manual_seed(1)
    model = CrossGLGModel(cfg)
    if before is not None:
        sk = model.skeleton
        sk.encoder = before["infogcn"].InfoGCNEncoder(cfg.skeleton_layout, cfg.in_channels, cfg.max_bodies)
        sk.head = before["heads"].InfoBottleneckHead(sk.encoder.out_channels, cfg.embed_dim, cfg.num_classes)
        if cfg.l2g:
            model.cross_modal = before["crossmodal"].CrossModalInteraction(
                cfg.text_dim, sk.encoder.out_channels, sk.num_joints, cfg.interaction_dim, cfg.interaction_layers,
                cfg.interaction_heads, cfg.embed_dim)
    if model.cross_modal is not None:  # the same cross-modal init for the current and every @rev variant
        torch.manual_seed(2)
        fresh = CrossModalInteraction(cfg.text_dim, model.skeleton.encoder.out_channels, model.skeleton.num_joints,
                                      cfg.interaction_dim, cfg.interaction_layers, cfg.interaction_heads, cfg.embed_dim)
        model.cross_modal.load_state_dict(fresh.state_dict())
    missing, unexpected = model.skeleton.load_state_dict(ref_state, strict=False)
    if unexpected or any(not k.startswith("jid.") for k in missing):
        raise RuntimeError(f"weight mapping: missing {missing}, unexpected {unexpected}")
    model.set_text_guidance(text, k_gt)
    return model


StepFn = Callable[[], None]


def make_steps(args: argparse.Namespace) -> dict[str, tuple[StepFn, int]]:
    """``{variant: (step closure, T)}`` for every requested model, variant and window length."""
    k = args.classes
    torch.manual_seed(0)
    ref = ReferenceInfoGCN(k, num_person=1)
    ref_state = to_fast_state_dict(ref)
    text = torch.randn(k, 25, 384)
    k_gt = torch.softmax(torch.randn(k, 25) * 2.0, dim=-1)
    prior = orthogonal_prior(k, 256)
    befores = {rev: load_before(rev) for rev in args.before}
    steps: dict[str, tuple[StepFn, int]] = {}
    for frames in args.frames:
        gen = torch.Generator().manual_seed(frames)
        x = torch.randn(args.batch, 3, frames, 25, 1, generator=gen)
        y = torch.randint(0, k, (args.batch,), generator=gen)
        for name in args.models:
            variants: list[tuple[str, dict[str, object] | None]] = [(name, None)]
            if name != "reference":
                variants += [(f"{name}@{rev}", mods) for rev, mods in befores.items()]
            for vname, bef in variants:
                if name == "reference":
                    model: nn.Module = ReferenceInfoGCN(k, num_person=1)
                    model.load_state_dict(ref.state_dict())
                else:
                    g = name == "crossglg"
                    model = build_ours(ModelConfig(num_classes=k, frames=frames, g2l=g, l2g=g), ref_state, bef,
                                       text, k_gt)
                model.train()
                opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
                step = _step_fn(model, opt, x, y, prior, reference=name == "reference")
                steps[f"{vname}/T{frames}"] = (step, frames)
                if args.ftz and bef is None:
                    steps[f"{vname}+ftz/T{frames}"] = (_with_ftz(step), frames)
                if args.alt_threads and bef is None:
                    steps[f"{vname}+t{args.alt_threads}/T{frames}"] = (
                        _with_threads(step, args.alt_threads, args.threads), frames)
    return steps


def _step_fn(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, prior: torch.Tensor,
             reference: bool) -> StepFn:
    def step() -> None:
        if reference:
            logits, z = model(x)
            loss = compute_losses(logits=logits, z=z, labels=y, prior=prior)["total"]
        else:
            out = model(x, y)
            loss = model.losses(out, y)["total"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def _around(step: StepFn, enter: StepFn, leave: StepFn) -> StepFn:
    """``step`` with a process setting switched on before it and back after it."""
    def wrapped() -> None:
        enter()
        try:
            step()
        finally:
            leave()
    return wrapped


def _with_ftz(step: StepFn) -> StepFn:
    return _around(step, lambda: torch.set_flush_denormal(True), lambda: torch.set_flush_denormal(False))


def _with_threads(step: StepFn, threads: int, default: int) -> StepFn:
    return _around(step, lambda: torch.set_num_threads(threads), lambda: torch.set_num_threads(default))


def family(op: str) -> str:
    for fam, keys in FAMILIES:
        if any(k in op for k in keys):
            return fam
    return "elementwise_other"


def profile_step(step: StepFn, top: int) -> dict[str, object]:
    """One profiled step: top ops and op families by self CPU time (ms and share)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    rows = [(e.key, e.self_cpu_time_total / 1e3, e.count) for e in prof.key_averages()]
    total = sum(r[1] for r in rows) or 1.0
    rows.sort(key=lambda r: -r[1])
    fams: dict[str, float] = {}
    for op, ms, _ in rows:
        fams[family(op)] = fams.get(family(op), 0.0) + ms
    return {
        "self_cpu_ms_total": round(total, 1),
        "top_ops": [{"op": op, "self_cpu_ms": round(ms, 1), "share": round(ms / total, 4), "calls": n}
                    for op, ms, n in rows[:top]],
        "families": {f: round(ms / total, 4) for f, ms in sorted(fams.items(), key=lambda kv: -kv[1])},
    }


def compile_probe(batch: int, frames: int, reps: int = 5) -> dict[str, float]:
    """Attention softmax of the first SA-GC blocks ``(N, T, 3, 25, 25)``, fwd + bwd: eager vs compiled."""
    gen = torch.Generator().manual_seed(5)
    dots = (3.0 * torch.randn(batch, frames, 3, 25, 25, generator=gen)).requires_grad_()
    grad = torch.randn(batch, frames, 3, 25, 25, generator=gen)
    compiled = torch.compile(attention_softmax, dynamic=False)
    c0 = time.perf_counter()
    compiled(dots, True).backward(grad)
    compile_s = time.perf_counter() - c0

    def timed(fn: Callable[[torch.Tensor, bool], torch.Tensor]) -> float:
        times = []
        for _ in range(reps):
            c = time.process_time()
            fn(dots, True).backward(grad)
            times.append(time.process_time() - c)
        return statistics.median(times)

    eager_s, comp_s = timed(attention_softmax), timed(compiled)
    with torch.no_grad():
        diff = float((compiled(dots, True) - attention_softmax(dots, True)).abs().max())
    return {"eager_cpu_ms": round(eager_s * 1e3, 2), "compiled_cpu_ms": round(comp_s * 1e3, 2),
            "speedup": round(eager_s / comp_s, 3), "compile_s": round(compile_s, 1), "max_abs_diff": diff}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, nargs="+", default=[64, 32])
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--models", nargs="+", default=["reference", "baseline", "crossglg"],
                    choices=["reference", "baseline", "crossglg"])
    ap.add_argument("--before", nargs="*", default=[],
                    help="git revisions whose model code is benchmarked as '<model>@<rev>'")
    ap.add_argument("--ftz", action="store_true", help="add '<model>+ftz' variants (set_flush_denormal)")
    ap.add_argument("--alt-threads", type=int, default=0, help="add '<model>+t<k>' variants run with k threads")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--profile", action="store_true", help="torch.profiler breakdown at the first T")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--compile-probe", action="store_true", help="attention softmax: eager vs torch.compile")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(False)
    load0 = os.getloadavg()
    steps = make_steps(args)
    names = list(steps)
    for _ in range(args.warmup):
        for name in names:
            steps[name][0]()
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            w0, c0 = time.perf_counter(), time.process_time()
            steps[name][0]()
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
    result: dict[str, object] = {
        "threads": args.threads, "batch": args.batch, "frames": args.frames, "rounds": args.rounds,
        "before": args.before, "torch": torch.__version__, "loadavg_start": load0,
    }
    table = {}
    for name in names:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        table[name] = {"wall_s_per_step": round(w, 4), "samples_per_s": round(args.batch / w, 3),
                       "cpu_s_per_step": round(c, 4), "samples_per_cpu_s": round(args.batch / c, 3)}
    result["steps"] = table
    ratios, cpu_ratios = {}, {}
    for name in names:  # each variant against the reference, every @rev and its non-ftz twin (same T)
        model, t = name.split("/")
        others = [f"reference/{t}"]
        if "+" in model:
            others.append(f"{model.split('+')[0]}/{t}")
        elif "@" not in model:
            others += [f"{model}@{rev}/{t}" for rev in args.before]
        for other in others:
            if other in table and other != name:
                ratios[f"{name} vs {other}"] = round(table[other]["wall_s_per_step"] / table[name]["wall_s_per_step"], 3)
                cpu_ratios[f"{name} vs {other}"] = round(table[other]["cpu_s_per_step"] / table[name]["cpu_s_per_step"], 3)
    result["speedup_wall"] = ratios
    result["speedup_cpu"] = cpu_ratios  # process CPU time: robust to preemption when threads == 1
    if args.profile:
        t0 = args.frames[0]
        result["profile"] = {name: profile_step(steps[name][0], args.top) for name in names if name.endswith(f"/T{t0}")}
    if args.compile_probe:
        result["compile_probe"] = compile_probe(args.batch, args.frames[0])
    result["loadavg_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"threads {args.threads}, batch {args.batch}, rounds {args.rounds}, load {load0} -> {result['loadavg_end']}")
        for name, row in table.items():
            print(f"{name:28s} {row['samples_per_s']:8.2f} samples/s  ({row['samples_per_cpu_s']:.2f} per CPU-s)")
        for k, v in ratios.items():
            print(f"{k:50s} x{v} wall, x{cpu_ratios[k]} CPU")
        if "compile_probe" in result:
            print("attention softmax eager vs torch.compile:", result["compile_probe"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
