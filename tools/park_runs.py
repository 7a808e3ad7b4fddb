"""Carry unfinished training runs across sessions: runs/ is machine-local, only commits survive.

    python tools/park_runs.py save runs/bench_heldout_s0 runs/starter_s0   # -> checkpoints/<name>/
    python tools/park_runs.py restore                                       # checkpoints/* -> runs/*

``save`` copies each run's ``last.pt`` (model + optimizer + RNG state: what ``--resume`` needs),
``config.yaml`` and ``metrics.csv`` into ``checkpoints/<run name>/`` (commit that folder). A folder
of runs (``tools/run_ablation.py --out``, holding ``ablation_state.json``) is parked as a whole: its
state file, and per run its config, metrics and results (``benchmark.json`` / ``eval.json``); a run
without results also keeps its ``last.pt`` (finished runs need no weights: the runner skips them);
``restore`` copies them back into ``runs/`` unless the run there is further along (a newer epoch),
after which the run's own command with ``--resume`` continues where the last session stopped.
The benchmark's DTW distance cache (``runs/benchmark/dtw_*.npy``, a few MB, model-independent,
~10 min to rebuild) is parked and restored the same way: ``save runs/benchmark``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARKED = ROOT / "checkpoints"
FILES = ("last.pt", "config.yaml", "metrics.csv")
RESULTS = ("benchmark.json", "eval.json")
STATE = "ablation_state.json"
DTW_CACHE = "dtw_*.npy"  # train/baselines/dtw.py evaluate_dtw's cache files (keyed by sample names)


def _save_group(group: Path, dest: Path) -> None:
    """Park a run_ablation output folder: state + per-run config/metrics/results (+ last.pt if unscored)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(group / STATE, dest / STATE)
    for run in sorted(p for p in group.iterdir() if p.is_dir() and (p / "metrics.csv").is_file()):
        scored = any((run / f).is_file() for f in RESULTS)
        (dest / run.name).mkdir(exist_ok=True)
        for f in ("config.yaml", "metrics.csv", *RESULTS, *(() if scored else ("last.pt",))):
            if (run / f).is_file():
                shutil.copy2(run / f, dest / run.name / f)
        print(f"parked {run} (epoch {_epoch(run)}, {'scored' if scored else 'unscored: last.pt kept'})")


def _restore_group(parked: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if not (dest / STATE).is_file():
        shutil.copy2(parked / STATE, dest / STATE)
    for run in sorted(p for p in parked.iterdir() if p.is_dir()):
        there = dest / run.name
        if _epoch(there) > _epoch(run) or any((there / f).is_file() for f in RESULTS):
            print(f"{there} is at epoch {_epoch(there)}: kept (parked copy: {_epoch(run)})")
            continue
        there.mkdir(parents=True, exist_ok=True)
        for f in run.iterdir():
            shutil.copy2(f, there / f.name)
        print(f"restored {there} at epoch {_epoch(run)}")


def _epoch(run: Path) -> int:
    """Epochs finished by a run, from its metrics.csv (header + one row per epoch)."""
    m = run / "metrics.csv"
    return max(0, len(m.read_text().splitlines()) - 1) if m.is_file() else -1


def _copy_dtw_cache(src: Path, dest: Path) -> int:
    """Copy the DTW cache files of ``src`` that ``dest`` lacks (same name = same samples and band)."""
    n = 0
    for f in sorted(src.glob(DTW_CACHE)):
        if not (dest / f.name).is_file():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest / f.name)
            n += 1
    return n


def save(runs: list[Path]) -> None:
    for run in runs:
        if (run / STATE).is_file():
            _save_group(run, PARKED / run.name)
            continue
        if not (run / "last.pt").is_file() and any(run.glob(DTW_CACHE)):
            print(f"parked {_copy_dtw_cache(run, PARKED / run.name)} new DTW matrices of {run}")
            continue
        if not (run / "last.pt").is_file():
            raise FileNotFoundError(f"{run}: no last.pt to park")
        dest = PARKED / run.name
        dest.mkdir(parents=True, exist_ok=True)
        for f in FILES:
            if (run / f).is_file():
                shutil.copy2(run / f, dest / f)
        print(f"parked {run} (epoch {_epoch(run)}) in {dest}")


def restore(runs_dir: Path) -> None:
    for parked in sorted(p for p in PARKED.iterdir() if p.is_dir()) if PARKED.is_dir() else []:
        dest = runs_dir / parked.name
        if (parked / STATE).is_file():
            _restore_group(parked, dest)
            continue
        if any(parked.glob(DTW_CACHE)):
            print(f"restored {_copy_dtw_cache(parked, dest)} DTW matrices into {dest}")
        if not (parked / "metrics.csv").is_file():
            continue
        if _epoch(dest) >= _epoch(parked):
            print(f"{dest} is at epoch {_epoch(dest)}: kept (parked copy: {_epoch(parked)})")
            continue
        dest.mkdir(parents=True, exist_ok=True)
        for f in FILES:
            if (parked / f).is_file():
                shutil.copy2(parked / f, dest / f)
        print(f"restored {dest} at epoch {_epoch(parked)}: continue it with its train command and --resume")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save")
    s.add_argument("runs", nargs="+", type=Path)
    r = sub.add_parser("restore")
    r.add_argument("--runs-dir", type=Path, default=ROOT / "runs")
    args = ap.parse_args(argv)
    save(args.runs) if args.cmd == "save" else restore(args.runs_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
