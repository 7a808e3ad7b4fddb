"""Write the benchmark protocols' resolved class lists into docs/protocols.md (between markers).

    python tools/describe_benchmark.py [--docs docs/protocols.md]

For each protocol: its novel classes, and the base classes removed because they name the same
action as a novel class (train/benchmark_protocols.py SAME_ACTION). Regenerate after changing the
protocols or a dataset's class names; the lists are what the code uses, not a copy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from train.benchmark import write_section  # noqa: E402
from train.benchmark_protocols import BENCH_DATASETS, BENCHMARK, bench_heldout, class_keys, starter_all  # noqa: E402


def describe() -> str:
    every = {k for d in BENCH_DATASETS for k in class_keys(d)}
    lines = []
    for make in [*BENCHMARK.values(), bench_heldout, starter_all]:
        p = make()
        removed = sorted(every - set(p.base) - set(p.novel))
        lines += [f"### `{p.name}`", "", p.description + f": {len(p.base)} base / {len(p.novel)} novel classes.", ""]
        if p.novel:
            lines += ["Novel: " + "; ".join(p.class_names(p.novel)) + ".", ""]
        if removed and p.name != "bench-heldout":
            lines += [f"Removed from base (same action as a novel class, {len(removed)}): "
                      + "; ".join(p.class_names(removed)) + ".", ""]
        elif removed:
            lines += [f"Not in base ({len(removed)} classes): every class that any benchmark protocol holds out.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", default=str(ROOT / "docs" / "protocols.md"))
    args = ap.parse_args(argv)
    write_section(args.docs, "protocols", describe())
    print(f"wrote the benchmark protocol lists into {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
