"""One ablation table from several runner folders, with each variant's difference from the baseline.

    python tools/ablation_summary.py --part baseline,l2g=runs/ablation_bench \
        --part g2l,crossglg=runs/ablation_bench_jid2 --seeds 0 1 2 \
        --protocols bench-utd9 bench-kard18 bench-kgator bench-florence9 --section ablation-bench-final

``tools/run_ablation.py`` writes one table per output folder. When variants were re-run in another
folder (issue 13: the text variants again after the JID fix, the baseline and +L2G unchanged), this
puts the finished runs side by side, refuses to if their training budgets differ (every
``config.yaml`` must agree except in ``seed`` and ``model.variant``), and adds, per learned method,
each variant's difference from the reference variant on the mean over protocols: mean over seeds,
a Welch 95% interval over seeds and a verdict (gain / loss / not separable). Re-run it after more
seeds finish; it only reads ``benchmark.json`` / ``ablation_state.json`` / ``config.yaml``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.run_ablation import LABELS, VARIANTS, write_results  # noqa: E402
from train import ablation_bench  # noqa: E402
from train.config import from_dict, to_dict  # noqa: E402

SHOWN = ("cosine_centered", "fused")  # the edge's two rankings: the encoder alone, and the product's matcher
IGNORED = (("seed",), ("model", "variant"))  # what may differ between the runs of one ablation


def parse_parts(parts: list[str]) -> dict[str, Path]:
    """``["baseline,l2g=runs/a", "g2l=runs/b"]`` -> ``{variant: folder}``, each variant once."""
    folders: dict[str, Path] = {}
    for part in parts:
        names, sep, folder = part.partition("=")
        if not sep or not folder:
            raise ValueError(f"--part {part!r}: expected VARIANT[,VARIANT...]=FOLDER")
        for v in names.split(","):
            if v not in VARIANTS:
                raise ValueError(f"--part {part!r}: unknown variant {v!r} (expected one of {', '.join(VARIANTS)})")
            if v in folders:
                raise ValueError(f"--part {part!r}: variant {v!r} is already taken from {folders[v]}")
            folders[v] = Path(folder)
    return folders


def _budget(config: Path) -> dict:
    """The run's resolved config as a dict (defaults filled in: a run saved before a field existed
    compares equal to one saved after, when it left the field at its default), minus ``IGNORED``."""
    cfg = to_dict(from_dict(yaml.safe_load(config.read_text()), str(config)))
    for path in IGNORED:
        node = cfg
        for key in path[:-1]:
            node = node.get(key, {})
        node.pop(path[-1], None)
    return cfg


def check_same_budget(folders: dict[str, Path], seeds: list[int]) -> int:
    """Raise ValueError naming the first run whose config differs from the first one found;
    returns how many run configs were compared."""
    ref: tuple[Path, dict] | None = None
    n = 0
    for v, folder in folders.items():
        for seed in seeds:
            config = folder / f"{v}_s{seed}" / "config.yaml"
            if not config.is_file():
                continue
            b, n = _budget(config), n + 1
            if ref is None:
                ref = (config, b)
            elif b != ref[1]:
                keys = sorted(k for k in set(b) | set(ref[1]) if b.get(k) != ref[1].get(k))
                raise ValueError(f"{config}: training budget differs from {ref[0]} in {', '.join(keys)} "
                                 "(an ablation compares variants trained alike)")
    return n


def _state_runs(folders: dict[str, Path]) -> dict:
    runs: dict = {}
    for v, folder in folders.items():
        state = folder / "ablation_state.json"
        if state.is_file():
            runs.update({k: r for k, r in json.loads(state.read_text())["runs"].items() if k.startswith(f"{v}_s")})
    return runs


def difference_table(folders: dict[str, Path], seeds: list[int], protocols: list[str], reference: str) -> list[str]:
    """Markdown lines: per method and variant, the seeds' protocol means and the difference from ``reference``."""
    lines = [f"Difference from {LABELS[reference]} on the mean over the {len(protocols)} protocols (per seed: the "
             "mean of its random-draw means; ± is a Welch 95% interval over seeds; a verdict needs it to exclude 0):",
             "", "| method | variant | seeds | per-seed means | mean | difference | verdict |",
             "|---|---|---|---|---|---|---|"]
    for m in SHOWN:
        ref = ablation_bench.seed_means(folders[reference], reference, seeds, protocols, m)
        for v in (v for v in VARIANTS if v in folders):
            got = ablation_bench.seed_means(folders[v], v, seeds, protocols, m)
            if not got:
                continue
            vals = list(got.values())
            mean = sum(vals) / len(vals)
            if v == reference:
                diff, verdict = "–", "reference"
            else:
                d = ablation_bench.difference(vals, list(ref.values()))
                diff = "–" if d is None else f"{d[0]:+.1f} ({d[1]:+.1f} to {d[2]:+.1f})"
                verdict = ablation_bench.verdict(d)
            per_seed = ", ".join(f"{got[s]:.1f}" for s in sorted(got))
            lines.append(f"| {ablation_bench.METHOD_LABELS[m]} | {LABELS[v]} | {len(vals)} | {per_seed} | {mean:.1f} | "
                         f"{diff} | {verdict} |")
    return lines


def render(folders: dict[str, Path], seeds: list[int], protocols: list[str], reference: str, command: str) -> str:
    if reference not in folders:
        raise ValueError(f"--reference {reference!r}: no --part gives that variant")
    compared = check_same_budget(folders, seeds)
    sources = "; ".join(f"`{f}` ({', '.join(LABELS[v] for v in folders if folders[v] == f)})"
                        for f in dict.fromkeys(folders.values()))
    header = [f"Command: `{command}`  ",
              f"Runs from: {sources}; {compared} run configs compared: the same budget except seed and "
              f"variant. Updated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."]
    variants = [v for v in VARIANTS if v in folders]
    table = ablation_bench.render_table(folders, _state_runs(folders), variants, LABELS, seeds, protocols, header)
    return "\n".join([table, "", *difference_table(folders, seeds, protocols, reference)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", action="append", required=True, metavar="VARIANTS=FOLDER",
                    help="variants (comma-separated) taken from a tools/run_ablation.py --out folder; repeatable")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--protocols", nargs="+", required=True, help="benchmark protocols, in table order")
    ap.add_argument("--reference", default="baseline", help="the variant the others are compared with")
    ap.add_argument("--section", default="ablation-bench-final", help="docs/results.md marker name")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "results.md")
    ap.add_argument("--print", action="store_true", help="print the table instead of writing --doc")
    args = ap.parse_args(argv)
    command = "python tools/ablation_summary.py " + " ".join(
        a if " " not in a else f"'{a}'" for a in (argv if argv is not None else sys.argv[1:]) if a != "--print")
    try:
        text = render(parse_parts(args.part), args.seeds, args.protocols, args.reference, command)
    except ValueError as exc:
        print(f"ablation_summary: {exc}", file=sys.stderr)
        return 2
    if args.print:
        print(text)
    else:
        write_results(args.doc, text, args.section)
        print(f"wrote section {args.section!r} of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
