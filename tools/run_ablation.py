"""The four-way CrossGLG ablation, resumable, writing docs/results.md.

    python tools/run_ablation.py --data-root ../shared/data --out runs/ablation --seeds 0 1 2

    python tools/run_ablation.py --data-root ../shared/data --out runs/ablation_bench --seeds 0 1 2 \
        --config configs/bench_heldout_cpu.yaml --protocols bench-utd9 bench-kard18 bench-kgator bench-florence9 \
        --bench-cache runs/benchmark [--epochs N]

The first form (the old ``realdata`` protocol) evaluates each run on its own protocol's novel
classes (``evaluate_checkpoint``) and measures DTW once; the table goes between the ``ablation``
markers. With ``--protocols`` (the benchmark form) each finished run is scored on every listed
benchmark protocol by ``train.benchmark.evaluate_protocol`` (the non-learned baselines on the same
episodes; DTW distance matrices cached in ``--bench-cache``), results in ``<run>/benchmark.json``,
and the table (:mod:`train.ablation_bench`) goes between the ``ablation-bench`` markers.
``--epochs N`` shrinks every variant's budget alike and is stated in the table. Before any
training the runner checks that the training protocol holds out every benchmark protocol's
classes and that every base class has its description (text variants).

Runs ``baseline`` (InfoGCN), ``crossglg``, ``g2l`` and ``l2g`` for every seed (seed-major order,
headline pair first, so complete comparisons finish first), each with per-epoch checkpoints. Re-running the same command
skips evaluated runs, evaluates trained ones and resumes interrupted ones from ``last.pt``: it may
span sessions. The DTW 1-NN baseline is measured on the same novel samples. After every run the
table between the ``ablation`` markers of ``docs/results.md`` is regenerated (prose outside the
markers is kept). Wall time is accumulated across invocations in ``<out>/ablation_state.json``.

Several invocations of the same command may run at once (e.g. one per core): each run directory is
claimed with a lock file holding the owner's pid (a dead owner's lock is taken over), and every
invocation merges its own runs into the state file instead of overwriting the others'. Wall time
then adds up the invocations' times (busy time, not elapsed time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("baseline", "g2l", "l2g", "crossglg")  # table order
# run order: the headline comparison (baseline vs full CrossGLG) first, so a short session yields it
RUN_ORDER = ("baseline", "crossglg", "g2l", "l2g")
LABELS = {"baseline": "InfoGCN baseline", "g2l": "+G2L", "l2g": "+L2G", "crossglg": "CrossGLG (G2L+L2G)"}
BEGIN, END = "<!-- ablation:begin -->", "<!-- ablation:end -->"  # the default section's markers
HEADINGS = {"ablation": "Real-data ablation", "ablation-bench": "Benchmark ablation (issue 13)",
            "ablation-bench-final": "Benchmark ablation, the four variants side by side (issue 13)"}


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _load_state(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"runs": {}, "wall_seconds": 0.0, "invocations": []}


def _save_state(path: Path, state: dict) -> None:
    from train.config import atomic_write_text

    atomic_write_text(path, json.dumps(state, indent=1) + "\n")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_run(run_dir: Path) -> bool:
    """Take ``run_dir/.lock`` for this process; False if another live process holds it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = run_dir / ".lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner and owner != os.getpid() and _pid_alive(owner):
                return False
            lock.unlink(missing_ok=True)  # stale: its owner died
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return True
    return False


def release_run(run_dir: Path) -> None:
    lock = run_dir / ".lock"
    try:
        if int(lock.read_text().strip() or 0) == os.getpid():
            lock.unlink()
    except (OSError, ValueError):
        pass


def merge_state(path: Path, mine: dict, touched: set[str], wall_delta: float) -> dict:
    """The state on disk with this invocation's ``touched`` runs and ``wall_delta`` seconds merged in."""
    disk = _load_state(path)
    for name in touched:
        disk["runs"][name] = mine["runs"][name]
    disk["wall_seconds"] = float(disk.get("wall_seconds", 0.0)) + wall_delta
    disk["commit"] = mine.get("commit", disk.get("commit"))
    return disk


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _rand(r: dict | None) -> str:
    return f"{100 * r['mean']:.1f} ± {100 * r['ci95']:.1f}" if r else "–"


def _centred(r: dict) -> str:
    c = r.get("cosine_centered")
    return f"{_pct(c['fixed'])} | {_rand(c['random'])}" if c else "– | –"


def render_table(out: Path, state: dict, seeds: list[int], command: str, cfg_summary: str, draws: int = 20) -> str:
    """Markdown for the results section from the eval.json files under ``out``."""
    import numpy as np

    lines = [
        f"Command: `{command}`  ",
        f"Commit: `{state.get('commit', '?')}` (last invocation); accumulated wall time "
        f"{state['wall_seconds'] / 60:.0f} min over {len(state['invocations'])} invocation(s); "
        f"updated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.  ",
        f"Budget: {cfg_summary}",
        "",
        "One-shot accuracy (%) on the 9 novel UTD-MHAD classes (a3, a6, ..., a27). *fixed*: exemplars "
        f"subject 1 trial 1; *random*: mean ± 95% CI over {draws} seeded random exemplar draws (the fair "
        "figure). 1-NN = cosine nearest exemplar; DC = distribution calibration with base-class statistics.",
        "",
        "| variant | seed | epochs | train min | 1-NN fixed | 1-NN random | centred 1-NN fixed | centred 1-NN random "
        "| DC fixed | DC random |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    per_variant: dict[str, list[dict]] = {}
    for seed in seeds:
        for v in VARIANTS:
            ev = out / f"{v}_s{seed}" / "eval.json"
            run = state["runs"].get(f"{v}_s{seed}", {})
            if ev.is_file():
                r = json.loads(ev.read_text())
                per_variant.setdefault(v, []).append(r)
                lines.append(
                    f"| {LABELS[v]} | {seed} | {r['epochs']} | {run.get('train_seconds', 0) / 60:.0f} | "
                    f"{_pct(r['cosine']['fixed'])} | {_rand(r['cosine']['random'])} | {_centred(r)} | "
                    f"{_pct(r['dc']['fixed'])} | {_rand(r['dc']['random'])} |"
                )
            else:
                status = run.get("status", "not started")
                lines.append(f"| {LABELS[v]} | {seed} | {run.get('epochs_done', 0)} | – | {status} | | | | | |")
    if per_variant:
        lines += ["", "Mean over the finished seeds (± standard deviation across seeds of the random-draw means):", "",
                  "| variant | seeds | 1-NN fixed | 1-NN random | centred 1-NN random | DC fixed | DC random |",
                  "|---|---|---|---|---|---|---|"]
        for v in VARIANTS:
            rs = per_variant.get(v)
            if not rs:
                continue

            def agg(key: str, field: str, rs: list[dict] = rs) -> str:
                rs = [r for r in rs if key in r]
                if not rs:
                    return "–"
                vals = np.array([r[key]["fixed"] if field == "fixed" else r[key]["random"]["mean"] for r in rs])
                sd = f" ± {100 * vals.std(ddof=1):.1f}" if vals.size > 1 else ""
                return f"{100 * vals.mean():.1f}{sd}"

            lines.append(f"| {LABELS[v]} | {len(rs)} | {agg('cosine', 'fixed')} | {agg('cosine', 'random')} | "
                         f"{agg('cosine_centered', 'random')} | "
                         f"{agg('dc', 'fixed')} | {agg('dc', 'random')} |")
    dtw = out / "dtw" / "eval_dtw.json"
    if dtw.is_file():
        d = json.loads(dtw.read_text())
        lines += ["", "Non-learned bar, measured here on the same novel samples (`crossglg-train eval --baseline dtw`):", "",
                  "| baseline | fixed | random |", "|---|---|---|",
                  f"| DTW 1-NN (band 10%) | {_pct(d['dtw']['fixed'])} | {_rand(d['dtw']['random'])} |"]
    return "\n".join(lines)


def write_results(path: Path, table: str, section: str = "ablation") -> None:
    """Replace the block between ``<!-- <section>:begin/end -->`` in ``path`` (or append it under a heading)."""
    from train.benchmark import replace_block

    if not path.is_file():
        path.write_text("# Results\n")
    replace_block(path, f"<!-- {section}:begin -->", f"<!-- {section}:end -->", f"{table}\n",
                  f"## {HEADINGS.get(section, section)}\n\n")


def budget_summary(c, config: str, overrides: list[str], threads: int, epochs: int | None,
                   config_epochs: int) -> str:  # noqa: ANN001 - TrainConfig
    """One line stating the training budget every variant got (and a shrink, if any)."""
    a = c.augment
    aug = (f"augment scale {a.scale}, shear {a.shear}, jitter {a.jitter}, bone jitter {a.bone_jitter}, "
           f"joint drop {a.joint_drop}, mirror {a.mirror}" + (f", relayout {a.relayout}" if a.relayout else "")
           if any((a.scale, a.shear, a.jitter, a.bone_jitter, a.joint_drop, a.mirror, a.relayout))
           else "InfoGCN augmentation only")
    shrink = (f" (**shrunk from the config's {config_epochs} for every variant alike**, `--epochs {epochs}`)"
              if epochs is not None and epochs != config_epochs else "")
    return (f"protocol `{c.data.protocol}`, T={c.data.frames}, M={c.data.max_bodies}, {c.optim.epochs} epochs{shrink}, "
            f"batch {c.optim.batch_size}, lr {c.optim.lr}, {aug}, metric term {c.loss.metric}, at most "
            f"{c.data.max_per_class or 'all'} training samples per base class, {threads} CPU thread(s) "
            f"(config `{Path(config).name}`" + (f" + {' '.join(overrides)}" if overrides else "") + ").")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--out", default="runs/ablation")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--variants", nargs="+", default=list(RUN_ORDER), choices=VARIANTS)
    ap.add_argument("--config", default=str(ROOT / "configs" / "realdata_cpu.yaml"))
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: leave cores to others)")
    ap.add_argument("--results", default=str(ROOT / "docs" / "results.md"))
    ap.add_argument("--no-dtw", action="store_true")
    ap.add_argument("--eval-only", action="store_true",
                    help="only (re-)evaluate trained runs whose eval.json is missing or older than the evaluator")
    ap.add_argument("--protocols", nargs="+", default=None, metavar="NAME",
                    help="score each run on these benchmark protocols (the benchmark form); default: the "
                    "training protocol's own novel classes")
    ap.add_argument("--bench-cache", default="runs/benchmark", help="DTW matrix cache of the benchmark form "
                    "(default: %(default)s, the one `crossglg-train benchmark` fills)")
    ap.add_argument("--epochs", type=int, default=None, help="train every variant for N epochs instead of the "
                    "config's (stated in the table)")
    ap.add_argument("--max-novel-per-class", type=int, default=0, metavar="N",
                    help="benchmark form: cap the queries per novel class (quick checks only; 0 = all)")
    ap.add_argument("--open-set-draws", type=int, default=None, metavar="N",
                    help="benchmark form: open-set episodes per protocol (default: the benchmark's; not in the table)")
    ap.add_argument("--section", default=None, help="results.md marker name (default: ablation, or "
                    "ablation-bench with --protocols)")
    args = ap.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        ap.error(f"--epochs must be >= 1, got {args.epochs}")
    bench = args.protocols is not None
    section = args.section or ("ablation-bench" if bench else "ablation")
    overrides = [*args.overrides, *([f"optim.epochs={args.epochs}"] if args.epochs is not None else [])]

    import torch

    torch.set_num_threads(args.threads)
    from train import ablation_bench
    from train.baselines.dtw import evaluate_dtw
    from train.config import VARIANTS as SWITCHES
    from train.config import load_config
    from train.evaluate import evaluate_checkpoint, novel_k_gt, write_json
    from train.prepare import check_descriptions, load_protocol_data
    from train.protocols import get_protocol
    from train.trainer import run_training

    config_epochs = load_config(args.config, args.overrides).optim.epochs
    base_cfg = load_config(args.config, overrides)
    c = base_cfg
    try:  # before anything is trained: a leak or a missing description fails now, not hours in
        base_keys = get_protocol(c.data.protocol).base
        if bench:
            ablation_bench.preflight(get_protocol(c.data.protocol).class_names(base_keys), args.protocols)
        if any(any(SWITCHES[v]) for v in args.variants):
            check_descriptions(base_keys)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "ablation_state.json"
    state = _load_state(state_path)
    state["commit"] = _git_commit()
    shown = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--eval-only"]
    command = "python tools/run_ablation.py " + " ".join(shown)  # the documented command (eval-only is a refresh)
    touched: set[str] = set()
    state = merge_state(state_path, state, touched, 0.0)
    state["invocations"].append({"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": state["commit"],
                                 "pid": os.getpid()})
    _save_state(state_path, state)
    last_save = time.time()
    if bench:
        cfg_summary = budget_summary(c, args.config, args.overrides, args.threads, args.epochs, config_epochs)
    else:  # the old table's wording, kept so its block does not change meaning
        cfg_summary = (f"T={c.data.frames}, M={c.data.max_bodies}, {c.optim.epochs} epochs, batch {c.optim.batch_size}, "
                       f"lr {c.optim.lr}, at most {c.data.max_per_class or 'all'} training samples per base class, "
                       f"{args.threads} CPU thread(s) (config `{Path(args.config).name}`"
                       + (f" + {' '.join(overrides)}" if overrides else "") + ").")
    data = load_protocol_data(c.data.protocol, args.data_root, c.data.max_per_class)
    k_gt = None if bench else novel_k_gt(data)
    results = Path(args.results)

    def checkpoint_state() -> None:
        nonlocal state, last_save
        now = time.time()
        state = merge_state(state_path, state, touched, now - last_save)
        last_save = now
        _save_state(state_path, state)
        if bench:
            header = [f"Command: `{command}`  ",
                      f"Commit: `{state.get('commit', '?')}` (last invocation); accumulated wall time "
                      f"{state['wall_seconds'] / 60:.0f} min over {len(state['invocations'])} invocation(s); "
                      f"updated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.  ",
                      f"Budget: {cfg_summary}  ",
                      f"Scored on {', '.join(args.protocols)} (`train.benchmark.evaluate_protocol`, {c.eval.draws} "
                      f"seeded random exemplar draws, draw seed {c.eval.draw_seed}"
                      + (f", at most {args.max_novel_per_class} queries per novel class" if args.max_novel_per_class
                         else "") + ")."]
            table = ablation_bench.render_table(out, state["runs"], VARIANTS, LABELS, args.seeds, args.protocols, header)
        else:
            table = render_table(out, state, args.seeds, command, cfg_summary, c.eval.draws)
        write_results(results, table, section)

    def finished(run_dir: Path) -> bool:
        if bench:
            return not ablation_bench.missing_protocols(run_dir, args.protocols, c.eval.draws, args.max_novel_per_class)
        ev = run_dir / "eval.json"
        return ev.is_file() and "cosine_centered" in json.loads(ev.read_text())

    if not bench and not args.no_dtw and not (out / "dtw" / "eval_dtw.json").is_file():
        full = load_protocol_data(c.data.protocol, args.data_root, 1)
        res = evaluate_dtw(full, draws=c.eval.draws, seed=c.eval.draw_seed, cache_dir=out / "dtw")
        write_json(res, out / "dtw" / "eval_dtw.json")
        print(f"DTW: fixed {res['dtw']['fixed']:.3f} random {res['dtw']['random']['mean']:.3f}", flush=True)
        checkpoint_state()
    for seed in args.seeds:
        for variant in args.variants:
            name = f"{variant}_s{seed}"
            run_dir = out / name
            run = state["runs"].setdefault(name, {"train_seconds": 0.0, "eval_seconds": 0.0})
            if finished(run_dir):
                continue
            if args.eval_only and not (run_dir / "final.pt").is_file():
                continue
            if not claim_run(run_dir):
                print(f"{name}: another invocation is on it; skipping", flush=True)
                continue
            touched.add(name)
            cfg = load_config(args.config, [*overrides, f"seed={seed}", f"model.variant={variant}",
                                            f"num_threads={args.threads}"])
            try:
                if not (run_dir / "final.pt").is_file():
                    run["status"] = "training"
                    checkpoint_state()
                    resume = (run_dir / "last.pt").is_file()
                    run_training(cfg, data, run_dir, resume=resume, progress=sys.stderr.isatty())
                run["status"] = "evaluating"
                checkpoint_state()
                t0 = time.time()
                if bench:
                    ablation_bench.evaluate_run(run_dir / "final.pt", args.protocols, args.data_root, c.eval.draws,
                                                c.eval.draw_seed, args.bench_cache, args.max_novel_per_class,
                                                args.open_set_draws, log=lambda line: print(line, flush=True))
                else:
                    res = evaluate_checkpoint(run_dir / "final.pt", data, out_dir=run_dir, k_gt=k_gt)
                    write_json(res, run_dir / "eval.json")
                    print(f"{name}: cosine fixed {res['cosine']['fixed']:.3f} random "
                          f"{res['cosine']['random']['mean']:.3f}; DC fixed {res['dc']['fixed']:.3f} random "
                          f"{res['dc']['random']['mean']:.3f}", flush=True)
                run["eval_seconds"] += time.time() - t0
                run["status"] = "done"
            except (ValueError, FileNotFoundError, RuntimeError) as exc:  # keep going with the other runs
                run["status"] = f"failed: {type(exc).__name__}: {exc}"[:200]
                print(f"{name}: {run['status']}", file=sys.stderr, flush=True)
            finally:
                if (run_dir / "metrics.csv").is_file():
                    import csv

                    with (run_dir / "metrics.csv").open() as fh:
                        rows = list(csv.DictReader(fh))
                    run["epochs_done"] = len(rows)
                    run["train_seconds"] = sum(float(r.get("seconds") or 0) for r in rows)
                checkpoint_state()
                release_run(run_dir)
    checkpoint_state()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
