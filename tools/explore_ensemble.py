"""Do several benchmark models matched together beat each alone? (issue 12 item 3, session 10)

    python tools/explore_ensemble.py --data-root ../shared/data --out runs/ensemble \
        --model r0=runs/bench_heldout_relayout_s0/final.pt --model r1=runs/bench_heldout_relayout_s1/final.pt \
        --model p1=runs/bench_heldout_s1/final.pt --combo r0+r1 --combo r0+r1+p1

On the benchmark's own episodes (:func:`train.benchmark.load_protocol_data`, the fixed exemplars
and the same seeded random draws as ``crossglg-train benchmark``), each model's novel embeddings
are centred on its own base mean and L2-normalised; a combination concatenates them divided by
sqrt(K), so its cosine is the mean of the members' centred cosines. The fused score uses the mean
of the members' own fusion weights (each from its base clips, never from novel ones). Output: the
random-draw mean of centred cosine and fused per protocol, each model and each combination, next
to the best non-learned baseline of that benchmark's JSON when ``--baselines`` names one.
Features are cached per model and protocol in ``--out`` (``feats_<name>_<protocol>.npz``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def model_view(path: Path, name: str, protocol: str, data, data_root: Path, out: Path) -> tuple[np.ndarray, float]:  # noqa: ANN001
    """``(centred unit embeddings (N, D), fusion weight)`` of one model on one protocol (cached)."""
    from crossglg.oneshot import center_from_stats, centered, l2_normalize
    from train.benchmark import learned_features

    cache = out / f"feats_{name}_{protocol}.npz"
    if cache.is_file():
        z = np.load(cache)
        return z["e"], float(z["w"])
    lf = learned_features(path, data, data_root, with_fusion=True)
    if lf.fusion is None:
        raise SystemExit(f"{path}: no fusion weight on {protocol}")
    e = l2_normalize(centered(lf.feats, center_from_stats(lf.stats))).astype(np.float32)
    np.savez(cache, e=e, w=np.float64(lf.fusion.weight))
    return e, float(lf.fusion.weight)


def combine(views: list[tuple[np.ndarray, float]]) -> tuple[np.ndarray, float]:
    """Members' centred unit embeddings ``(N, D_k)`` -> ``(N, sum D_k)`` whose cosine is the mean of
    the members' cosines, and the mean of their fusion weights."""
    if len({e.shape[0] for e, _ in views}) != 1:
        raise ValueError(f"combine: the members embed different clip counts {[e.shape[0] for e, _ in views]}")
    return np.concatenate([e for e, _ in views], axis=1) / np.sqrt(len(views)), float(np.mean([w for _, w in views]))


def score(e: np.ndarray, w: float, poses: np.ndarray, data, draws: int, seed: int) -> dict[str, float]:  # noqa: ANN001
    """Random-draw means of centred cosine and fused for unit embeddings ``e (N, D)``."""
    from train.fusion import fused_predictor
    from train.oneshot_eval import cosine_predictor, evaluate_predictor

    labels = data.novel_labels
    out = {}
    for m, pred in (("cosine_centered", cosine_predictor(e, labels)), ("fused", fused_predictor(e, None, poses, labels, w))):
        r = evaluate_predictor(pred, labels, data.fixed, draws, seed)["random"]
        out[m] = r["mean"]
        out[m + "_ci95"] = r["ci95"]
    return out


def main(argv: list[str] | None = None) -> int:
    from train.baselines.pose_cosine import pose_cosine_features
    from train.benchmark import load_protocol_data
    from train.benchmark_protocols import BENCHMARK

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("runs/ensemble"))
    ap.add_argument("--model", action="append", required=True, metavar="NAME=PATH", help="a benchmark model (repeatable)")
    ap.add_argument("--combo", action="append", default=[], metavar="A+B", help="models matched together (repeatable)")
    ap.add_argument("--protocols", nargs="+", default=list(BENCHMARK))
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baselines", type=Path, default=None, metavar="BENCHMARK.json",
                    help="a benchmark JSON whose best non-learned baseline per protocol is printed alongside")
    args = ap.parse_args(argv)
    models = {}
    for spec in args.model:
        name, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            raise SystemExit(f"--model {spec!r}: expected NAME=PATH to an existing checkpoint")
        models[name] = Path(path)
    combos = [c.split("+") for c in args.combo]
    for c in combos:
        if unknown := [m for m in c if m not in models]:
            raise SystemExit(f"--combo {'+'.join(c)}: unknown model(s) {unknown}; known: {list(models)}")
    baselines = {}
    if args.baselines is not None:
        for r in json.loads(args.baselines.read_text())["protocols"]:
            baselines[r["protocol"]] = max(r["dtw"]["random"]["mean"], r["pose_cosine"]["random"]["mean"])
    args.out.mkdir(parents=True, exist_ok=True)
    table: dict[str, dict] = {}
    for protocol in args.protocols:
        data = load_protocol_data(protocol, args.data_root, max_per_class=1)
        poses = pose_cosine_features(data.novel)
        views = {n: model_view(p, n, protocol, data, args.data_root, args.out) for n, p in models.items()}
        rows = {n: score(e, w, poses, data, args.draws, args.seed) for n, (e, w) in views.items()}
        for c in combos:
            rows["+".join(c)] = score(*combine([views[m] for m in c]), poses, data, args.draws, args.seed)
        table[protocol] = rows
        line = ", ".join(f"{n} {100 * r['cosine_centered']:.1f}/{100 * r['fused']:.1f}" for n, r in rows.items())
        print(f"{protocol} (centred/fused): {line}" + (f"; best baseline {100 * baselines[protocol]:.1f}"
                                                        if protocol in baselines else ""), flush=True)  # fmt: skip
    names = list(next(iter(table.values())))
    print("mean over protocols (centred/fused" + (", fused - best baseline" if baselines else "") + "):")
    for n in names:
        c = np.mean([table[p][n]["cosine_centered"] for p in table])
        f = np.mean([table[p][n]["fused"] for p in table])
        gap = np.mean([table[p][n]["fused"] - baselines[p] for p in table]) if baselines else None
        print(f"  {n}: {100 * c:.1f} / {100 * f:.1f}" + (f" / {100 * gap:+.1f}" if gap is not None else ""))
    (args.out / "ensemble.json").write_text(json.dumps({"models": {n: str(p) for n, p in models.items()},
                                                        "protocols": table, "baselines": baselines}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
