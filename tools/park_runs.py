"""Carry unfinished training runs across sessions: runs/ is machine-local, only commits survive.

    python tools/park_runs.py save runs/bench_heldout_s0 runs/starter_s0   # -> checkpoints/<name>/
    python tools/park_runs.py restore                                       # checkpoints/* -> runs/*

``save`` copies each run's ``last.pt`` (model + optimizer + RNG state: what ``--resume`` needs),
``config.yaml`` and ``metrics.csv`` into ``checkpoints/<run name>/`` (commit that folder);
``restore`` copies them back into ``runs/`` unless the run there is further along (a newer epoch),
after which the run's own command with ``--resume`` continues where the last session stopped.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARKED = ROOT / "checkpoints"
FILES = ("last.pt", "config.yaml", "metrics.csv")


def _epoch(run: Path) -> int:
    """Epochs finished by a run, from its metrics.csv (header + one row per epoch)."""
    m = run / "metrics.csv"
    return max(0, len(m.read_text().splitlines()) - 1) if m.is_file() else -1


def save(runs: list[Path]) -> None:
    for run in runs:
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
