"""How small can the base-statistics sidecar be? Distribution-calibration accuracy with full vs
compact covariances on real embeddings (docs/model-card.md, "Base statistics").

    python tools/basestats_compact.py --model tests/assets/crossglg_realdata.onnx \
        --data-root ../shared/data --protocol realdata --draws 20 --ranks 4,8,16,32,64

Embeds the protocol's base and novel samples with the model (ONNX Runtime), computes the base
statistics once, writes each sidecar form with the shipping writer (``crossglg.basestats``), reads
it back with the edge's reader, and scores DC on the same episodes (fixed exemplars + seeded random
draws). Sizes are measured on the written files and scaled to ``--classes`` base classes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from calib.windows import labelled_windows, model_input_spec, protocol_split  # noqa: E402
from crossglg.basestats import load_base_stats_file, write_base_stats  # noqa: E402
from crossglg.oneshot import base_statistics, center_from_stats  # noqa: E402
from edge.runtime import open_model  # noqa: E402
from train.oneshot_eval import dc_predictor, evaluate_predictor  # noqa: E402


def embed(model: Path, windows: np.ndarray, threads: int, batch: int = 32) -> np.ndarray:
    """Windows ``(N, C, T, V, M)`` -> embeddings ``(N, D)``."""
    with open_model(model, threads=threads) as engine:
        return np.concatenate([engine.embed(windows[i : i + batch]) for i in range(0, len(windows), batch)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data-root", type=Path, required=True)
    ap.add_argument("--protocol", default="realdata")
    ap.add_argument("--draws", type=int, default=20)
    ap.add_argument("--ranks", default="4,8,16,32,64")
    ap.add_argument("--classes", type=int, default=165, help="base classes to scale the file sizes to")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    spec = model_input_spec(args.model)
    split = protocol_split(args.protocol, args.data_root)
    keys = sorted({s.key for s in split.train})
    base_ids = np.array([keys.index(s.key) for s in split.train])
    novel = split.exemplars + split.queries
    nkeys = sorted({s.key for s in novel})
    novel_ids = np.array([nkeys.index(s.key) for s in novel])
    xb, yb, _ = labelled_windows(split.train, base_ids, spec)
    xn, yn, kept = labelled_windows(novel, novel_ids, spec)
    fb = embed(args.model, xb, args.threads)
    fn = embed(args.model, xn, args.threads)
    full = base_statistics(fb, yb)
    center = center_from_stats(full)
    n_ex = len(split.exemplars)
    fixed = np.array([int(np.flatnonzero(kept == i)[0]) for i in range(n_ex) if (kept == i).any()])
    forms = [("full", 0), ("diag", 0)] + [("lowrank", int(r)) for r in args.ranks.split(",") if r.strip()]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for form, rank in forms:
            path = Path(tmp) / f"{form}{rank}.basestats.npz"
            write_base_stats(path, full, center, "fp", form=form, rank=max(rank, 1))
            stats = load_base_stats_file(path)
            res = evaluate_predictor(dc_predictor(fn, yn, stats), yn, fixed, args.draws, seed=0)
            size = path.stat().st_size
            rows.append({"form": form, "rank": rank if form == "lowrank" else None, "fixed": res["fixed"],
                         "random_mean": res["random"]["mean"], "random_ci95": res["random"]["ci95"],
                         "bytes": size, "bytes_scaled": int(size * args.classes / len(keys))})  # fmt: skip
            print(f"{form}{rank or ''}: fixed {100 * res['fixed']:.1f}, random {100 * res['random']['mean']:.1f} "
                  f"+- {100 * res['random']['ci95']:.1f}, {size / 1e6:.2f} MB", file=sys.stderr, flush=True)  # fmt: skip
    out = {"model": str(args.model), "protocol": args.protocol, "base_classes": len(keys), "base_samples": len(fb),
           "novel_classes": len(nkeys), "novel_samples": len(fn), "embedding_dim": int(fb.shape[1]),
           "draws": args.draws, "scaled_to_classes": args.classes, "rows": rows,
           "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{out['base_classes']} base classes ({out['base_samples']} samples), {out['novel_classes']} novel "
              f"({out['novel_samples']}), D={out['embedding_dim']}, {args.draws} draws")  # fmt: skip
        print(f"| form | DC fixed | DC random (95% CI) | file MB | at {args.classes} classes, MB |")
        print("|---|---|---|---|---|")
        for r in rows:
            name = f"low rank r={r['rank']} + diagonal" if r["form"] == "lowrank" else r["form"]
            print(f"| {name} | {100 * r['fixed']:.1f} | {100 * r['random_mean']:.1f} +- {100 * r['random_ci95']:.1f} "
                  f"| {r['bytes'] / 1e6:.2f} | {r['bytes_scaled'] / 1e6:.2f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
