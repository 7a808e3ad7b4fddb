"""Benchmark: scanning the real datasets cold (empty cache: every file parsed) vs warm (cache hits).

Usage: ``python tools/bench/bench_dataset_scan.py [--data ../shared/data] [--repeat 2]``

Prints per-dataset file counts, the cold and warm wall times and their ratio, all measured in
this run with a fresh temporary cache directory (removed afterwards).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from train.datasets import DEFAULT_SUBDIRS, SkeletonCache, scan_dataset


def _scan_all(data: Path, cache_dir: Path) -> tuple[dict[str, tuple[int, float]], SkeletonCache]:
    cache = SkeletonCache(cache_dir)
    per: dict[str, tuple[int, float]] = {}
    for name, sub in DEFAULT_SUBDIRS.items():
        t0 = time.perf_counter()
        samples, skipped = scan_dataset(name, data / sub, cache=cache)
        per[name] = (len(samples) + len(skipped), time.perf_counter() - t0)
    return per, cache


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    ap.add_argument("--repeat", type=int, default=2, help="warm scans to time (best is reported)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crossglg-scan-bench-"))
    try:
        cold, cache = _scan_all(args.data, tmp)
        assert cache.hits == 0
        warm_runs = [_scan_all(args.data, tmp)[0] for _ in range(args.repeat)]
        warm = min(warm_runs, key=lambda r: sum(t for _, t in r.values()))
        print(f"{'dataset':10s} {'files':>6s} {'cold s':>8s} {'warm s':>8s} {'cold/warm':>10s}")
        for name in cold:
            n, tc = cold[name]
            tw = warm[name][1]
            print(f"{name:10s} {n:6d} {tc:8.2f} {tw:8.2f} {tc / tw:10.1f}")
        tc, tw = sum(t for _, t in cold.values()), sum(t for _, t in warm.values())
        total = sum(n for n, _ in cold.values())
        print(f"{'total':10s} {total:6d} {tc:8.2f} {tw:8.2f} {tc / tw:10.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
