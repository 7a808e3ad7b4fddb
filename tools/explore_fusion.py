"""Does the learned embedding add to the resampled-pose features? Score fusion on the benchmark.

    python tools/explore_fusion.py runs/bench_heldout_s0/final.pt --data-root ../shared/data \
        [--protocols bench-utd9 ...] [--weights 0 0.25 0.5 0.75 1] [--draws 20] [--json out.json]

Per protocol, the similarity of a query to an exemplar is ``w * s_learned + (1 - w) * s_pose``: the
learned model's centred cosine (the edge's matcher) and the resampled-pose cosine baseline
(:mod:`train.baselines.pose_cosine`), each divided by the standard deviation of its off-diagonal
similarities on that protocol so that neither dominates by scale alone. 1-NN over the fused
similarity, fixed exemplars and the benchmark's seeded random draws (the same episodes as
``crossglg-train benchmark``). ``w = 1`` is the learned model alone, ``w = 0`` the baseline.

Weights are reported as a grid; choosing one from these figures is tuning on the test protocols, so
the figure to quote is the a-priori ``w = 0.5`` (or a leave-one-protocol-out choice, also printed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossglg.oneshot import center_from_stats, centered, l2_normalize  # noqa: E402


def scaled_similarity(feats: np.ndarray) -> np.ndarray:
    """Cosine similarity ``(N, N)`` of L2-normalised rows, divided by its off-diagonal std."""
    f = l2_normalize(feats)
    sim = f @ f.T
    off = sim[~np.eye(sim.shape[0], dtype=bool)]
    return sim / max(float(off.std()), 1e-8)


def similarity_predictor(sim: np.ndarray, labels: np.ndarray):
    """1-NN over a similarity matrix ``(N, N)`` (larger = closer), in the benchmark's predictor form."""

    def predict(support: np.ndarray, queries: np.ndarray) -> np.ndarray:
        return labels[support][np.argmax(sim[np.ix_(queries, support)], axis=1)]

    return predict


def fuse_protocol(ckpt: Path, protocol: str, data_root: Path, weights: list[float], draws: int, seed: int) -> dict:
    """Fixed and random-draw accuracy per fusion weight on one protocol."""
    from train.baselines.pose_cosine import pose_cosine_features
    from train.benchmark import learned_features
    from train.oneshot_eval import evaluate_predictor, public_summary
    from train.prepare import load_protocol_data

    data = load_protocol_data(protocol, data_root, max_per_class=1)
    lf = learned_features(ckpt, data, data_root)
    s_learned = scaled_similarity(centered(lf.feats, center_from_stats(lf.stats)))
    s_pose = scaled_similarity(pose_cosine_features(data.novel))
    out = {"protocol": protocol, "weights": {}}
    for w in weights:
        predict = similarity_predictor(w * s_learned + (1 - w) * s_pose, data.novel_labels)
        res = public_summary(evaluate_predictor(predict, data.novel_labels, data.fixed, draws, seed))
        out["weights"][str(w)] = {"fixed": res["fixed"], "random": res["random"]}
    return out


def leave_one_out(results: list[dict]) -> dict[str, tuple[str, float]]:
    """Per protocol: the weight with the best mean random accuracy on the OTHER protocols, and its score there."""
    picks = {}
    for r in results:
        others = [o for o in results if o is not r]
        if not others:
            continue
        ws = list(r["weights"])
        best = max(ws, key=lambda w: np.mean([o["weights"][w]["random"]["mean"] for o in others]))
        picks[r["protocol"]] = (best, r["weights"][best]["random"]["mean"])
    return picks


def main(argv: list[str] | None = None) -> int:
    from train.benchmark_protocols import BENCHMARK

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--data-root", type=Path, required=True)
    ap.add_argument("--protocols", nargs="+", default=list(BENCHMARK))
    ap.add_argument("--weights", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75, 1.0])
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    results = []
    for p in args.protocols:
        r = fuse_protocol(args.checkpoint, p, args.data_root, args.weights, args.draws, args.seed)
        results.append(r)
        row = "  ".join(f"w={w}: {100 * v['random']['mean']:.1f}±{100 * v['random']['ci95']:.1f}"
                        for w, v in r["weights"].items())
        print(f"{p}: {row}", flush=True)
    for w in map(str, args.weights):
        print(f"mean over protocols, w={w}: {100 * np.mean([r['weights'][w]['random']['mean'] for r in results]):.1f}")
    for p, (w, v) in leave_one_out(results).items():
        print(f"leave-one-protocol-out: {p} gets w={w} (chosen on the others): {100 * v:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
