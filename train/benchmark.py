"""The real-data one-shot benchmark: one checkpoint against the non-learned baselines on several
protocols, on the same episodes, plus an open-set part; a markdown table for docs/results.md.

Per protocol (:mod:`train.benchmark_protocols`): the checkpoint's embeddings scored with cosine
1-NN, centred cosine (the edge's matcher) and distribution calibration; DTW 1-NN (Sakoe-Chiba band
10%) and resampled-pose cosine (64 frames) on the same samples; each with the fixed exemplars and
over ``draws`` seeded random exemplar draws (the same draws for every method: same seed, same
sample order). The model must never have trained on a protocol's novel classes or their
same-action classes: checked from the class names stored in the checkpoint.

Open set (per protocol, centred cosine as at the edge): ``enroll`` the first half of the novel
classes (one random exemplar each, ``draws`` draws), query with every novel clip; report the
accuracy on enrolled classes, the false-accept rate on never-enrolled classes at the given
threshold and margin, and the AUROC of the top-1 score for known vs unknown.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossglg.oneshot import accuracy_summary, base_statistics, center_from_stats, centered, l2_normalize

from .baselines.dtw import evaluate_dtw
from .baselines.pose_cosine import pose_cosine_features
from .oneshot_eval import cosine_predictor, dc_predictor, evaluate_predictor, public_summary, random_exemplars
from .prepare import ProtocolData, load_protocol_data
from .protocols import Protocol

METHODS = ("cosine", "cosine_centered", "dc", "dtw", "pose_cosine")
LEARNED = ("cosine", "cosine_centered", "dc")
BASELINES = ("dtw", "pose_cosine")


@dataclass(frozen=True)
class OpenSetConfig:
    threshold: float = 0.5
    margin: float = 0.05
    enrolled_fraction: float = 0.5


def check_held_out(trained_on: list[str], protocol: Protocol) -> None:
    """``ValueError`` when any class the protocol holds out (novel or same-action) was trained on."""
    from .benchmark_protocols import same_action

    held = set().union(*(same_action(k) for k in protocol.novel))
    leaked = sorted(set(trained_on) & set(protocol.class_names(held)))
    if leaked:
        raise ValueError(f"protocol {protocol.name}: the checkpoint was trained on held-out classes {leaked[:5]}"
                         f"{' ...' if len(leaked) > 5 else ''}: its figures would not be one-shot")


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve of scores: P(pos > neg) + 0.5 P(tie)."""
    pos, neg = np.asarray(pos, np.float64), np.asarray(neg, np.float64)
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None]).mean()
    ties = (pos[:, None] == neg[None]).mean()
    return float(greater + 0.5 * ties)


def open_set(feats: np.ndarray, labels: np.ndarray, center: np.ndarray | None, cfg: OpenSetConfig, draws: int,
             seed: int) -> dict:
    """Enroll a fraction of the classes (one random exemplar each), query with every other clip."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    n_known = max(1, int(round(cfg.enrolled_fraction * classes.size)))
    f = l2_normalize(centered(feats, center))
    acc, far, aucs = [], [], []
    for _ in range(draws):
        known = rng.permutation(classes)[:n_known]
        masked = np.where(np.isin(labels, known), labels, -1)
        support = random_exemplars(masked, rng)
        support = support[masked[support] >= 0]
        q = np.setdiff1d(np.arange(labels.size), support)
        sims = f[q] @ f[support].T  # (Q, K)
        order = np.argsort(-sims, axis=1)
        top1 = sims[np.arange(q.size), order[:, 0]]
        top2 = sims[np.arange(q.size), order[:, 1]] if support.size > 1 else np.full(q.size, -1.0)
        accept = (top1 >= cfg.threshold) & (top1 - top2 >= cfg.margin)
        pred = labels[support][order[:, 0]]
        is_known = np.isin(labels[q], known)
        acc.append(float(np.mean(accept[is_known] & (pred[is_known] == labels[q][is_known]))))
        far.append(float(np.mean(accept[~is_known])))
        aucs.append(auroc(top1[is_known], top1[~is_known]))
    return {"enrolled_classes": n_known, "threshold": cfg.threshold, "margin": cfg.margin,
            "known_accuracy": accuracy_summary(np.array(acc)), "false_accept": accuracy_summary(np.array(far)),
            "auroc": accuracy_summary(np.array(aucs))}  # fmt: skip


def evaluate_protocol(ckpt_path: str | Path | None, protocol: str, data_root: str | Path, draws: int = 20,
                      seed: int = 0, cache_dir: str | Path | None = None, open_cfg: OpenSetConfig | None = None,
                      max_novel_per_class: int = 0) -> dict:
    """Every method of :data:`METHODS` on one protocol's novel samples, plus the open-set part;
    ``ckpt_path`` None: the non-learned baselines only (the bar a model must clear).

    A checkpoint without base statistics (``last.pt`` of a run in progress) gets them from its own
    protocol's training data (test transform), as ``final.pt`` would carry them.
    """
    t0 = time.time()
    data = load_protocol_data(protocol, data_root, max_per_class=1, max_novel_per_class=max_novel_per_class)
    labels = data.novel_labels
    res: dict = {"protocol": protocol, "description": data.protocol.description,
                 "novel_classes": len(data.protocol.novel), "queries": int(labels.size - data.fixed.size),
                 "draws": draws}  # fmt: skip
    pose = cosine_predictor(pose_cosine_features(data.novel), labels)
    res["pose_cosine"] = public_summary(evaluate_predictor(pose, labels, data.fixed, draws, seed))
    res["dtw"] = evaluate_dtw(data, draws=draws, seed=seed, cache_dir=cache_dir)["dtw"]
    if ckpt_path is not None:
        res.update(_learned(ckpt_path, data, data_root, draws, seed, open_cfg or OpenSetConfig()))
    res["seconds"] = round(time.time() - t0, 1)
    return res


def _learned(ckpt_path: str | Path, data: ProtocolData, data_root: str | Path, draws: int, seed: int,
             open_cfg: OpenSetConfig) -> dict:
    """The checkpoint's embeddings scored by cosine, centred cosine, DC, and the open-set part."""
    import torch

    from crossglg.preprocess import PreprocessConfig, check_compatible

    from .checkpoint import load_checkpoint
    from .evaluate import load_model, stats_from_checkpoint
    from .prepare import embed, make_dataset

    ckpt = load_checkpoint(ckpt_path, map_location="cpu")
    check_held_out(list(ckpt["class_names"]), data.protocol)
    model, cfg = load_model(ckpt, "cpu")
    check_compatible(ckpt["preprocess_id"], PreprocessConfig.from_dict(ckpt["preprocess"]).id, str(ckpt_path))
    stats = stats_from_checkpoint(ckpt)
    with torch.inference_mode():
        if stats is None:
            own = load_protocol_data(ckpt["protocol"], data_root, max_per_class=cfg.data.max_per_class)
            base, _ = embed(model.inference_model(), make_dataset(own.train, own.train_labels, cfg, train=False),
                            torch.device("cpu"))
            stats = base_statistics(base, own.train_labels, cfg.eval.dc_beta)
        feats, _ = embed(model.inference_model(), make_dataset(data.novel, data.novel_labels, cfg, train=False),
                         torch.device("cpu"))
    labels, e = data.novel_labels, cfg.eval
    centre = center_from_stats(stats)
    preds = {
        "cosine": cosine_predictor(feats, labels),
        "cosine_centered": cosine_predictor(feats, labels, centre),
        "dc": dc_predictor(feats, labels, stats, e.dc_k, e.dc_alpha, e.dc_samples, seed=seed),
    }
    out: dict = {"base_classes_trained": len(ckpt["class_names"]), "epochs": int(ckpt["epoch"])}
    for name, predict in preds.items():
        out[name] = public_summary(evaluate_predictor(predict, labels, data.fixed, draws, seed))
    out["open_set"] = open_set(feats, labels, centre, open_cfg, draws, seed)
    return out


def best(res: dict, methods: tuple[str, ...]) -> tuple[str, float]:
    """The method with the highest random-draw mean among ``methods``."""
    name = max(methods, key=lambda m: res[m]["random"]["mean"])
    return name, res[name]["random"]["mean"]


def summary(results: list[dict]) -> dict:
    """Per protocol: best learned vs best baseline (random-draw means); and their mean gap."""
    rows = []
    for r in results:
        if not all(m in r for m in LEARNED):
            continue
        lm, lv = best(r, LEARNED)
        bm, bv = best(r, BASELINES)
        rows.append({"protocol": r["protocol"], "learned": lm, "learned_mean": lv, "baseline": bm,
                     "baseline_mean": bv, "gap": lv - bv})
    gaps = [r["gap"] for r in rows]
    return {"rows": rows, "mean_gap": float(np.mean(gaps)) if gaps else float("nan"),
            "wins_everywhere": bool(gaps) and min(gaps) > 0}


def _pct(r: dict) -> str:
    rnd = r["random"]
    return f"{100 * r['fixed']:.1f} | {100 * rnd['mean']:.1f} ± {100 * rnd['ci95']:.1f}"


def markdown(results: list[dict], model: str, command: str) -> str:
    """The benchmark table (fixed | random mean ± 95% CI per method and protocol) and open-set rows."""
    lines = [f"Model: `{model}`. Command: `{command}`.", "",
             "| protocol | novel | queries | method | fixed % | random-draw mean ± 95% CI % |", "|---|---|---|---|---|---|"]
    for r in results:
        for m in (m for m in METHODS if m in r):
            lines.append(f"| {r['protocol']} | {r['novel_classes']} | {r['queries']} | {m} | {_pct(r[m])} |")
    s = summary(results)
    if not s["rows"]:
        return "\n".join(lines) + "\n"
    lines += ["", "| protocol | best learned | best baseline | gap (points) |", "|---|---|---|---|"]
    for row in s["rows"]:
        lines.append(f"| {row['protocol']} | {row['learned']} {100 * row['learned_mean']:.1f} | "
                     f"{row['baseline']} {100 * row['baseline_mean']:.1f} | {100 * row['gap']:+.1f} |")
    lines.append(f"| mean | | | {100 * s['mean_gap']:+.1f} |")
    lines += ["", "Open set (centred cosine; half the novel classes enrolled, all novel clips queried):", "",
              "| protocol | enrolled | threshold / margin | known accuracy % | false accepts % | AUROC |",
              "|---|---|---|---|---|---|"]
    for r in (r for r in results if "open_set" in r):
        o = r["open_set"]
        lines.append(f"| {r['protocol']} | {o['enrolled_classes']} | {o['threshold']} / {o['margin']} | "
                     f"{100 * o['known_accuracy']['mean']:.1f} ± {100 * o['known_accuracy']['ci95']:.1f} | "
                     f"{100 * o['false_accept']['mean']:.1f} ± {100 * o['false_accept']['ci95']:.1f} | "
                     f"{o['auroc']['mean']:.3f} |")
    return "\n".join(lines) + "\n"


def write_section(doc: str | Path, section: str, body: str) -> None:
    """Replace (or append) the block between ``<!-- bench:<section> -->`` markers in ``doc``, atomically."""
    from .config import atomic_write_text

    path = Path(doc)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    start, end = f"<!-- bench:{section} -->", f"<!-- /bench:{section} -->"
    block = f"{start}\n{body}{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{block}\n"
    atomic_write_text(path, text)


def save_json(obj: dict | list, path: str | Path) -> None:
    from .config import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=1) + "\n")
