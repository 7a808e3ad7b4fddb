"""The four-way ablation scored by the multi-protocol benchmark: per-run evaluation and the table.

A run (one variant, one seed, trained on e.g. ``bench-heldout``) is scored on every benchmark
protocol by :func:`train.benchmark.evaluate_protocol`, which puts the non-learned baselines (DTW
1-NN, resampled-pose cosine) on the same episodes; results go to ``<run>/benchmark.json``, one
entry per protocol, saved after each protocol so an interrupted evaluation resumes where it stopped.
:func:`render_table` turns the finished runs under an output folder into markdown: per run, and per
variant / method / protocol the mean over seeds of the random-draw means (± the mean of their 95%
CIs) with the across-seed standard deviation and range.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .benchmark import BASELINES, LEARNED, OpenSetConfig, check_held_out, evaluate_protocol, save_json

RESULT = "benchmark.json"
METHOD_LABELS = {"cosine": "cosine 1-NN", "cosine_centered": "centred cosine 1-NN (edge)", "dc": "DC",
                 "fused": "centred cosine fused with pose cosine",
                 "dtw": "DTW 1-NN (non-learned)", "pose_cosine": "pose cosine (non-learned)"}


def preflight(base_names: Sequence[str], protocols: Sequence[str]) -> None:
    """``ValueError`` before any training when the training protocol's base classes include a class
    some benchmark protocol holds out (its figures would not be one-shot)."""
    from .benchmark_protocols import BENCHMARK
    from .protocols import get_protocol

    for name in protocols:
        if name not in BENCHMARK:
            raise ValueError(f"--protocols: {name!r} is not a benchmark protocol; expected some of {list(BENCHMARK)}")
        check_held_out(list(base_names), get_protocol(name))


def load_results(run_dir: Path) -> list[dict]:
    path = run_dir / RESULT
    return json.loads(path.read_text()) if path.is_file() else []


def missing_protocols(run_dir: Path, protocols: Sequence[str], draws: int, max_novel: int) -> list[str]:
    """Protocols not yet scored for this run at these settings."""
    done = {r["protocol"] for r in load_results(run_dir)
            if r.get("draws") == draws and r.get("max_novel_per_class", 0) == max_novel and "dc" in r}
    return [p for p in protocols if p not in done]


def evaluate_run(ckpt: Path, protocols: Sequence[str], data_root: str | Path, draws: int, seed: int,
                 cache_dir: str | Path | None, max_novel: int = 0, open_draws: int | None = None,
                 log=print) -> list[dict]:  # noqa: ANN001
    """Score ``ckpt`` on the protocols still missing from ``<run>/benchmark.json``; returns all entries.

    ``open_draws``: open-set episodes per protocol (default: the benchmark's); the table does not
    use them, the JSON keeps them as ``crossglg-train benchmark`` would.
    """
    run_dir = ckpt.parent
    open_cfg = OpenSetConfig() if open_draws is None else OpenSetConfig(draws=open_draws)
    for name in missing_protocols(run_dir, protocols, draws, max_novel):
        r, _episodes = evaluate_protocol(ckpt, name, data_root, draws=draws, seed=seed, cache_dir=cache_dir,
                                         open_cfg=open_cfg, max_novel_per_class=max_novel)
        r["max_novel_per_class"] = max_novel
        kept = [x for x in load_results(run_dir) if x["protocol"] != name]
        save_json([*kept, r], run_dir / RESULT)
        log(f"{run_dir.name} {name}: " + ", ".join(f"{m} {100 * r[m]['random']['mean']:.1f}" for m in LEARNED))
    return load_results(run_dir)


def _by_protocol(run_dir: Path, protocols: Sequence[str]) -> dict[str, dict]:
    return {r["protocol"]: r for r in load_results(run_dir) if r["protocol"] in protocols and "dc" in r}


def _mean_ci(rs: list[dict]) -> str:
    """``mean ± ci`` (%) of random-draw summaries; several seeds: mean of means ± mean CI, then sd and range."""
    means = np.array([r["random"]["mean"] for r in rs]) * 100
    ci = float(np.mean([r["random"]["ci95"] for r in rs])) * 100
    text = f"{means.mean():.1f} ± {ci:.1f}"
    if means.size > 1:
        text += f" (sd {means.std(ddof=1):.1f}; {means.min():.1f}–{means.max():.1f})"
    return text


def render_table(out: Path | Mapping[str, Path], runs: dict, variants: Sequence[str], labels: dict[str, str],
                 seeds: Sequence[int], protocols: Sequence[str], header: Sequence[str]) -> str:
    """Markdown: ``header`` lines, a per-run table and the per-variant summary over finished seeds.

    ``out``: the runner's output folder, or a folder per variant (a table combining several runners'
    folders, :mod:`tools.ablation_summary`). ``runs``: the state files' run records (status,
    epochs_done, train_seconds) keyed ``<variant>_s<seed>``. A run counts for a protocol once
    ``<folder>/<variant>_s<seed>/benchmark.json`` has that protocol.
    """
    folders = out if isinstance(out, Mapping) else {v: out for v in variants}
    lines = [*header, "",
             "Per run: random-draw mean % (centred cosine / DC); a protocol not yet scored is blank.", "",
             "| variant | seed | epochs | train min | status | " + " | ".join(protocols) + " |",
             "|---|---|---|---|---|" + "---|" * len(protocols)]
    finished: dict[str, dict[str, list[dict]]] = {}  # variant -> protocol -> per-seed results
    baseline: dict[str, dict] = {}
    for seed in seeds:
        for v in variants:
            name = f"{v}_s{seed}"
            run = runs.get(name, {})
            res = _by_protocol(folders[v] / name, protocols)
            cells = []
            for p in protocols:
                r = res.get(p)
                if r is None:
                    cells.append("")
                    continue
                finished.setdefault(v, {}).setdefault(p, []).append(r)
                baseline.setdefault(p, r)
                cells.append(f"{100 * r['cosine_centered']['random']['mean']:.1f} / {100 * r['dc']['random']['mean']:.1f}")
            epochs = next((r["epochs"] for r in res.values()), run.get("epochs_done", 0))
            lines.append(f"| {labels[v]} | {seed} | {epochs} | {run.get('train_seconds', 0) / 60:.0f} | "
                         f"{run.get('status', 'not started')} | " + " | ".join(cells) + " |")
    if not finished:
        return "\n".join(lines)
    lines += ["", "Per variant over the finished seeds: random-draw mean % ± 95% CI (the mean of the seeds' CIs); with "
              "several seeds, (sd over seeds; min–max). Mean: over the protocols, for variants scored on all of them. "
              "The non-learned baselines ran on the same episodes (same exemplar draws).", "",
              "| method | variant | seeds | " + " | ".join(protocols) + " | mean |",
              "|---|---|---|" + "---|" * (len(protocols) + 1)]
    for m in LEARNED:
        for v in variants:
            per = finished.get(v)
            if not per:
                continue
            seed_counts = sorted({len(per[p]) for p in per})
            complete = all(p in per for p in protocols)
            mean = f"{np.mean([np.mean([r[m]['random']['mean'] for r in per[p]]) for p in protocols]) * 100:.1f}" \
                if complete else ""
            cells = [_mean_ci([r[m] for r in per[p]]) if p in per else "" for p in protocols]
            lines.append(f"| {METHOD_LABELS[m]} | {labels[v]} | {'/'.join(map(str, seed_counts))} | "
                         + " | ".join(cells) + f" | {mean} |")
    for m in BASELINES:
        cells = [_mean_ci([baseline[p][m]]) if p in baseline else "" for p in protocols]
        complete = all(p in baseline for p in protocols)
        mean = f"{np.mean([baseline[p][m]['random']['mean'] for p in protocols]) * 100:.1f}" if complete else ""
        lines.append(f"| {METHOD_LABELS[m]} | – | – | " + " | ".join(cells) + f" | {mean} |")
    return "\n".join(lines)


def seed_means(folder: Path, variant: str, seeds: Sequence[int], protocols: Sequence[str],
               method: str) -> dict[int, float]:
    """Per finished seed, the mean over ``protocols`` of the random-draw means (%) of ``method``;
    a seed not scored on every protocol is left out."""
    out: dict[int, float] = {}
    for seed in seeds:
        res = _by_protocol(folder / f"{variant}_s{seed}", protocols)
        if all(p in res and method in res[p] for p in protocols):
            out[seed] = 100 * float(np.mean([res[p][method]["random"]["mean"] for p in protocols]))
    return out


def difference(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float, float] | None:
    """``mean(a) - mean(b)`` with a Welch t interval over seeds: ``(diff, low, high)``; None unless
    both have at least two seeds (one seed has no spread to judge a difference by)."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 2 or b.size < 2:
        return None
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff, se = float(a.mean() - b.mean()), float(np.sqrt(va + vb))
    if se == 0.0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return diff, diff - half, diff + half


def verdict(d: tuple[float, float, float] | None) -> str:
    """``gain`` / ``loss`` when the interval excludes 0, ``not separable`` otherwise."""
    if d is None:
        return "too few seeds"
    return "gain" if d[1] > 0 else "loss" if d[2] < 0 else "not separable"
