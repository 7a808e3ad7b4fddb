"""Raw vs centred cosine vs distribution calibration on real UTD-MHAD clips, through the edge path.

Enrolls subject 1 trial 1 of some actions into a temporary support store exactly as
``crossglg-edge enroll --skeleton`` does (whole clip, trimmed to motion, embedded by the exported
model), embeds every other clip of those actions (known queries) and every clip of never-enrolled
actions (unknown queries) the same way, and reports for each matching variant: the cosine ranges,
top-1 accuracy of the known queries, the open-set outcome with the matcher's default thresholds
(known: accepted with the right label; unknown: rejected), and the threshold-free AUROC of
"known vs unknown" by best cosine.

    .venv/bin/python tools/oneshot_centering.py MODEL.onnx --data ../shared/data \\
        --enroll 3,6,24 --unknown 21 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from edge.enrollment import EnrollRecorder, store_demonstration
from edge.matcher import Matcher, MatcherConfig
from edge.runtime import embed_clips, matching_aids, open_model, open_support_store, preprocess_config_for
from edge.sources import Source


def utd(root: Path, action: int, subject: int, trial: int) -> Path:
    return root / "utd_mhad" / "Skeleton" / f"a{action}_s{subject}_t{trial}_skeleton.mat"


def clip_of(path: Path) -> tuple[np.ndarray, float]:
    """A recording as enrollment sees it: the whole file on the 30 fps grid, trimmed to motion."""
    rec = EnrollRecorder("probe", 0.0, 30.0, whole_source=True)
    with Source.from_skeleton_file(path) as src:
        for frame in src:
            rec.feed(frame)
    rec.stop()
    clip, fps, _ = rec.result()
    return clip, fps


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a known query > score of an unknown one), ties count half."""
    if not pos.size or not neg.size:
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def summarize(m: Matcher, emb_known: np.ndarray, y_known: np.ndarray, emb_unknown: np.ndarray) -> dict:
    """Figures for one matcher; ``y_known`` indexes ``m.support``."""
    rank_k, cos_k = m.scores(emb_known)
    rank_u, cos_u = m.scores(emb_unknown) if len(emb_unknown) else (np.zeros((0, len(m.support))),) * 2
    top = rank_k.argmax(axis=1)
    right = cos_k[np.arange(len(y_known)), y_known]
    wrong = np.where(np.eye(cos_k.shape[1], dtype=bool)[y_known], -np.inf, cos_k).max(axis=1)
    res_k = [m.result(rank_k[i], cos_k[i]) for i in range(len(y_known))]
    res_u = [m.result(rank_u[i], cos_u[i]) for i in range(len(rank_u))]
    return {
        "method": m.method,
        "top1": float(np.mean(top == y_known)),
        "cos_all": [float(min(cos_k.min(), cos_u.min() if cos_u.size else 1)), float(max(cos_k.max(), cos_u.max() if cos_u.size else -1))],
        "cos_right_mean": float(right.mean()), "cos_best_wrong_mean": float(wrong.mean()),
        "cos_best_known_median": float(np.median(cos_k.max(axis=1))),
        "cos_best_unknown_median": float(np.median(cos_u.max(axis=1))) if cos_u.size else None,
        "known_accepted_right": float(np.mean([r.state == "action" and r.index == y for r, y in zip(res_k, y_known, strict=True)])),
        "known_accepted_wrong": float(np.mean([r.state == "action" and r.index != y for r, y in zip(res_k, y_known, strict=True)])),
        "unknown_rejected": float(np.mean([r.state == "unknown" for r in res_u])) if res_u else None,
        "auroc_known_vs_unknown": auroc(cos_k.max(axis=1), cos_u.max(axis=1)) if cos_u.size else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--enroll", default="3,6,24", help="UTD-MHAD action numbers to enroll (subject 1 trial 1)")
    ap.add_argument("--unknown", default="21", help="never-enrolled action numbers")
    ap.add_argument("--threshold", type=float, default=MatcherConfig.threshold)
    ap.add_argument("--margin", type=float, default=MatcherConfig.margin)
    ap.add_argument("--center", action="append", default=[], metavar="NAME=FILE.npy",
                    help="also evaluate centred cosine with this (D,) centre (experiments)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    root = Path(args.data)
    enroll = [int(a) for a in args.enroll.split(",") if a]
    unknown = [int(a) for a in args.unknown.split(",") if a]
    cfg = MatcherConfig(threshold=args.threshold, margin=args.margin)
    with open_model(args.model, threads=2) as engine, tempfile.TemporaryDirectory() as tmp:
        pp = preprocess_config_for(engine.meta)
        aids = matching_aids(engine)
        store = open_support_store(Path(tmp) / "store", engine)
        for a in enroll:
            clip, fps = clip_of(utd(root, a, 1, 1))
            store_demonstration(store, engine, pp, f"a{a}", clip, fps, f"a{a}_s1_t1")
        support = store.support()
        known, y, unk = [], [], []
        for a in enroll + unknown:
            for s in range(1, 9):
                for t in range(1, 5):
                    p = utd(root, a, s, t)
                    if not p.exists() or (a in enroll and (s, t) == (1, 1)):
                        continue
                    clip = clip_of(p)[0]
                    if a in enroll:
                        known.append(clip)
                        y.append(support.labels.index(f"a{a}"))
                    else:
                        unk.append(clip)
        emb_k = embed_clips(engine, pp, known)
        emb_u = embed_clips(engine, pp, unk) if unk else np.zeros((0, support.dim), np.float32)
        y_arr = np.array(y)
        out = {"model": str(args.model), "model_id": engine.meta.model_id, "enrolled": [f"a{a}" for a in enroll],
               "unknown": [f"a{a}" for a in unknown], "known_queries": len(known), "unknown_queries": len(unk),
               "threshold": cfg.threshold, "margin": cfg.margin, "dc_margin": cfg.dc_margin,
               "has_center": aids.center is not None, "has_base_stats": aids.base_stats is not None}
        out["raw"] = summarize(Matcher(support, cfg), emb_k, y_arr, emb_u)
        if aids.center is not None:
            out["centred"] = summarize(Matcher(support, cfg, center=aids.center), emb_k, y_arr, emb_u)
        for item in args.center:
            name, _, file = item.partition("=")
            out[f"centred_{name}"] = summarize(Matcher(support, cfg, center=np.load(file)), emb_k, y_arr, emb_u)
        if aids.base_stats is not None and len(support) >= 2:
            out["dc_centred"] = summarize(Matcher(support, cfg, aids.base_stats, aids.center), emb_k, y_arr, emb_u)
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
