"""The real-data one-shot benchmark: one checkpoint against the non-learned baselines on several
protocols, on the same episodes, plus an open-set part; a markdown table for docs/results.md.

Per protocol (:mod:`train.benchmark_protocols`): the checkpoint's embeddings scored with cosine
1-NN, centred cosine (the edge's matcher), distribution calibration and the centred cosine fused
with resampled-pose features (the edge's fused matcher, its weight set from the model's own base
classes: :mod:`train.fusion`); DTW 1-NN (Sakoe-Chiba band
10%) and resampled-pose cosine (64 frames) on the same samples; each with the fixed exemplars and
over ``draws`` seeded random exemplar draws (the same draws for every method: same seed, same
sample order). The model must never have trained on a protocol's novel classes or their
same-action classes: checked from the class names stored in the checkpoint.

Open set (per protocol, :mod:`train.open_set_eval`): ``open_draws`` episodes, each enrolling half
the novel classes (one random exemplar each) and querying every other novel clip, scored by the
edge's matcher and decided by the edge's rule (:mod:`crossglg.open_set`); known accuracy,
false-accept rate on never-enrolled classes and AUROC at the reference values (the built-in
defaults), per ranking path (DC probabilities with the base statistics, centred cosine). The
episodes of all protocols are then pooled to calibrate the thresholds for a target false-accept
rate (:func:`train.open_set_eval.calibrate`), kept in the results JSON next to the protocols, with
the path ranked by (:func:`train.open_set_eval.choose_ranking`: DC only when its random-draw mean
over the protocols beats centred cosine's) as the primary one.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crossglg.oneshot import BaseStats, base_statistics, center_from_stats
from crossglg.open_set import DEFAULTS, RANKING_NAMES, OpenSetParams
from crossglg.pose_features import Fusion, encode_fusion
from edge.calibration import DCConfig

from .baselines.dtw import evaluate_dtw
from .baselines.pose_cosine import pose_cosine_features
from .fusion import base_fusion, fused_predictor
from .oneshot_eval import cosine_predictor, dc_predictor, evaluate_predictor, public_summary
from .open_set_eval import Episodes, evaluate, open_set_episodes
from .prepare import ProtocolData, load_protocol_data
from .protocols import Protocol

METHODS = ("cosine", "cosine_centered", "dc", "fused", "dtw", "pose_cosine")
LEARNED = ("cosine", "cosine_centered", "dc", "fused")
BASELINES = ("dtw", "pose_cosine")


@dataclass(frozen=True)
class OpenSetConfig:
    """Open-set part: ``reference`` values reported next to the calibrated ones (default: the edge's
    built-in defaults), episodes per protocol (``draws``; 0: no open-set part, which saves a DC fit
    per episode), the matcher's DC settings."""

    reference: OpenSetParams = DEFAULTS
    enrolled_fraction: float = 0.5
    draws: int = 30
    dc: DCConfig = field(default_factory=DCConfig)


def check_held_out(trained_on: list[str], protocol: Protocol) -> None:
    """``ValueError`` when any class the protocol holds out (novel or same-action) was trained on."""
    from .benchmark_protocols import same_action

    held = set().union(*(same_action(k) for k in protocol.novel))
    leaked = sorted(set(trained_on) & set(protocol.class_names(held)))
    if leaked:
        raise ValueError(f"protocol {protocol.name}: the checkpoint was trained on held-out classes {leaked[:5]}"
                         f"{' ...' if len(leaked) > 5 else ''}: its figures would not be one-shot")


def open_set(feats: np.ndarray, labels: np.ndarray, center: np.ndarray | None, stats: BaseStats | None,
             cfg: OpenSetConfig, seed: int, name: str = "", poses: np.ndarray | None = None,
             fusion: Fusion | None = None) -> tuple[dict, Episodes]:  # fmt: skip
    """Open-set episodes of one protocol and its figures at ``cfg.reference``: ``(summary, episodes)``."""
    ep = open_set_episodes(feats, labels, center, stats, cfg.draws, seed, name, cfg.enrolled_fraction, cfg.dc,
                           poses, fusion)  # fmt: skip
    n_known = max(1, int(round(cfg.enrolled_fraction * np.unique(labels).size)))
    ref = cfg.reference
    out = {"enrolled_classes": n_known, "draws": cfg.draws,
           "reference": {"threshold": ref.threshold, "margin": ref.margin, "dc_margin": ref.dc_margin}}  # fmt: skip
    for path in ep.paths:
        out[path] = evaluate(ep, path, ref)
    return out, ep


def evaluate_protocol(ckpt_path: str | Path | None, protocol: str, data_root: str | Path, draws: int = 20,
                      seed: int = 0, cache_dir: str | Path | None = None, open_cfg: OpenSetConfig | None = None,
                      max_novel_per_class: int = 0) -> tuple[dict, Episodes | None]:
    """Every method of :data:`METHODS` on one protocol's novel samples, plus the open-set part:
    ``(result, open-set episodes)``; ``ckpt_path`` None: the non-learned baselines only (the bar a
    model must clear; no episodes).

    A checkpoint without base statistics (``last.pt`` of a run in progress) gets them from its own
    protocol's training data (test transform), as ``final.pt`` would carry them.
    """
    t0 = time.time()
    data = load_protocol_data(protocol, data_root, max_per_class=1, max_novel_per_class=max_novel_per_class)
    labels = data.novel_labels
    res: dict = {"protocol": protocol, "description": data.protocol.description,
                 "novel_classes": len(data.protocol.novel), "queries": int(labels.size - data.fixed.size),
                 "draws": draws}  # fmt: skip
    poses = pose_cosine_features(data.novel)
    res["pose_cosine"] = public_summary(evaluate_predictor(cosine_predictor(poses, labels), labels, data.fixed,
                                                           draws, seed))  # fmt: skip
    res["dtw"] = evaluate_dtw(data, draws=draws, seed=seed, cache_dir=cache_dir)["dtw"]
    episodes = None
    if ckpt_path is not None:
        learned, episodes = _learned(ckpt_path, data, data_root, draws, seed, open_cfg or OpenSetConfig(), poses)
        res.update(learned)
    res["seconds"] = round(time.time() - t0, 1)
    return res, episodes


@dataclass(frozen=True)
class LearnedFeatures:
    """A checkpoint's view of a protocol: novel embeddings ``feats (N, D)``, base ``stats``, its
    config, and its score fusion (from its own base classes; None when not asked for)."""

    feats: np.ndarray
    stats: BaseStats
    cfg: object  # train.config.TrainConfig
    ckpt: dict
    fusion: Fusion | None = None


def learned_features(ckpt_path: str | Path, data: ProtocolData, data_root: str | Path,
                     with_fusion: bool = False) -> LearnedFeatures:  # fmt: skip
    """Embed ``data``'s novel samples with the checkpoint (test transform), after checking it never
    trained on the protocol's held-out classes; base statistics from the checkpoint, or recomputed
    from its own protocol's training data when it carries none (``last.pt``); ``with_fusion``: also
    its score fusion (:func:`train.fusion.base_fusion`)."""
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
    fusion = None
    if with_fusion:
        try:
            fusion = base_fusion(ckpt, model, cfg, data_root, center_from_stats(stats))
        except ValueError as exc:  # the other methods are still scored; the results say why fused is missing
            print(f"{ckpt_path}: no fused score: {exc}", file=sys.stderr, flush=True)
    return LearnedFeatures(feats, stats, cfg, ckpt, fusion)


def _learned(ckpt_path: str | Path, data: ProtocolData, data_root: str | Path, draws: int, seed: int,
             open_cfg: OpenSetConfig, poses: np.ndarray) -> tuple[dict, Episodes | None]:
    """The checkpoint's embeddings scored by cosine, centred cosine, DC, fused with the novel
    clips' pose features ``poses (N, P)``, and the open-set part."""
    lf = learned_features(ckpt_path, data, data_root, with_fusion=True)
    feats, stats, cfg, ckpt = lf.feats, lf.stats, lf.cfg, lf.ckpt
    labels, e = data.novel_labels, cfg.eval
    centre = center_from_stats(stats)
    preds = {
        "cosine": cosine_predictor(feats, labels),
        "cosine_centered": cosine_predictor(feats, labels, centre),
        "dc": dc_predictor(feats, labels, stats, e.dc_k, e.dc_alpha, e.dc_samples, seed=seed),
    }
    out: dict = {"base_classes_trained": len(ckpt["class_names"]), "epochs": int(ckpt["epoch"])}
    if lf.fusion is not None:
        preds["fused"] = fused_predictor(feats, centre, poses, labels, lf.fusion.weight)
        out["fusion"] = json.loads(encode_fusion(lf.fusion))
    for name, predict in preds.items():
        out[name] = public_summary(evaluate_predictor(predict, labels, data.fixed, draws, seed))
    if open_cfg.draws < 1:  # no open-set part (e.g. recipe ablations that only compare accuracy)
        return out, None
    out["open_set"], episodes = open_set(feats, labels, centre, stats, open_cfg, seed, data.protocol.name,
                                         poses, lf.fusion)  # fmt: skip
    return out, episodes


def best(res: dict, methods: tuple[str, ...]) -> tuple[str, float]:
    """The method with the highest random-draw mean among ``methods``."""
    name = max(methods, key=lambda m: res[m]["random"]["mean"])
    return name, res[name]["random"]["mean"]


def summary(results: list[dict]) -> dict:
    """Per protocol: best learned vs best baseline (random-draw means); and their mean gap."""
    rows = []
    for r in results:
        if not all(m in r for m in LEARNED if m != "fused"):  # fused: results of earlier versions lack it
            continue
        lm, lv = best(r, tuple(m for m in LEARNED if m in r))
        bm, bv = best(r, BASELINES)
        rows.append({"protocol": r["protocol"], "learned": lm, "learned_mean": lv, "baseline": bm,
                     "baseline_mean": bv, "gap": lv - bv})
    gaps = [r["gap"] for r in rows]
    return {"rows": rows, "mean_gap": float(np.mean(gaps)) if gaps else float("nan"),
            "wins_everywhere": bool(gaps) and min(gaps) > 0}


def _pct(r: dict) -> str:
    rnd = r["random"]
    return f"{100 * r['fixed']:.1f} | {100 * rnd['mean']:.1f} ± {100 * rnd['ci95']:.1f}"


def markdown(results: list[dict], model: str, command: str, calibration: dict | None = None) -> str:
    """The benchmark table (fixed | random mean ± 95% CI per method and protocol), the learned vs
    baseline gaps, and the open-set table (:func:`open_set_markdown`) when ``calibration`` is given."""
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
    if calibration is not None:
        lines += ["", open_set_markdown(calibration).rstrip("\n")]
    return "\n".join(lines) + "\n"


def _rate(r: dict | None, scale: float = 100.0, digits: int = 1) -> str:
    return "-" if r is None else f"{scale * r['mean']:.{digits}f} ± {scale * r['ci95']:.{digits}f}"


def _values(p: dict, path: str) -> str:
    return f"{p['threshold']:g} / {p['dc_margin' if path == 'dc' else 'margin']:g}"


def _open_row(label: str, path: str, values: dict, figures: dict) -> str:
    return (f"| {label} | {path} | {_values(values, path)} | {_rate(figures['known_accuracy'])} | "
            f"{_rate(figures['false_accept'])} | {_rate(figures['auroc'], 1.0, 3)} |")


def ranking_markdown(ranking: dict) -> str:
    """The ranking decision as a one-row table: each compared method's random-draw mean over the
    protocols and the choice."""
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    cols = [(m, n) for m, n in (("cosine_centered", "centred cosine"), ("dc", "DC"), ("fused", "fused"))
            if f"{m}_mean" in ranking]  # fmt: skip
    return "\n".join([
        "Ranking: the edge ranks by the method with the best random-draw mean over the protocols (centred cosine, "
        "distribution calibration, or centred cosine fused with pose features; stored in the model with the "
        "open-set values).", "",
        "| ranking decision | " + " | ".join(f"{n} mean %" for _, n in cols) + " | chosen |",
        "|---|" + "---|" * len(cols) + "---|",
        f"| {len(ranking['protocols'])} protocol(s) | " + " | ".join(pct(ranking[f"{m}_mean"]) for m, _ in cols)
        + f" | {RANKING_NAMES[ranking['chosen']]} |"]) + "\n"  # fmt: skip


def open_set_markdown(cal: dict) -> str:
    """The open-set table: the ranking decision (when recorded), per protocol and pooled, each
    ranking path at the reference (default) and the calibrated values, then the
    leave-one-protocol-out check."""
    c, d = cal["params"], cal["defaults"]
    lines = [ranking_markdown(cal["ranking"]).rstrip("\n"), ""] if cal.get("ranking") else []
    lines += [f"Open set: half the novel classes enrolled (one random exemplar each), every other novel clip "
             f"queried, {cal['episodes']} episodes pooled over {len(cal['protocols'])} protocol(s); the edge's "
             f"matcher and rule (ranking dc = distribution calibration, the edge's path with base statistics "
             f"and >= 2 actions; cosine = centred cosine; fused = centred cosine fused with pose features). Values: threshold / margin (cosine units; DC margin "
             f"in probability). Calibrated for false accepts <= {100 * cal['target_far']:g}% (pooled mean"
             f"{'' if cal['target_met'] else ', NOT reached on the grid'}): threshold {c['threshold']:g}, "
             f"margin {c['margin']:g}, DC margin {c['dc_margin']:g}, chosen for the {cal['primary']} ranking; "
             f"built-in defaults {d['threshold']:g}, {d['margin']:g}, {d['dc_margin']:g}. Mean ± 95% CI over "
             "episodes.", "",
             "| protocol | ranking | threshold / margin | known accuracy % | false accepts % | AUROC |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    blocks = [*((name, v) for name, v in cal["per_protocol"].items()), ("**pooled**", cal["pooled"])]
    for name, v in blocks:
        for path in (p for p in ("dc", "cosine", "fused") if p in v["defaults"]):
            lines.append(_open_row(f"{name} (defaults)", path, d, v["defaults"][path]))
            lines.append(_open_row(f"{name} (calibrated)", path, c, v["calibrated"][path]))
    if cal["held_out"]:
        lines += ["", "Held-out check: values calibrated on the other protocols, applied to this one "
                  f"(ranking {cal['primary']}):", "",
                  "| protocol | threshold / margin | known accuracy % | false accepts % |", "|---|---|---|---|"]  # fmt: skip
        for h in cal["held_out"]:
            f = h[cal["primary"]]
            lines.append(f"| {h['protocol']} | {_values(h['params'], cal['primary'])} | "
                         f"{_rate(f['known_accuracy'])} | {_rate(f['false_accept'])} |")
    return "\n".join(lines) + "\n"


def replace_block(doc: str | Path, begin: str, end: str, block: str, appendix: str = "") -> None:
    """In ``doc``, replace the text from marker ``begin`` to marker ``end`` (both kept, ``block``
    between them); when the markers are missing, append ``appendix`` (e.g. a heading) and the
    marked block. A locked, atomic read-modify-write (:func:`crossglg.atomic.atomic_update_text`)."""
    from crossglg.atomic import atomic_update_text

    marked = f"{begin}\n{block}{end}"

    def edit(text: str) -> str:
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            return head + marked + rest.split(end, 1)[1]
        return text.rstrip("\n") + f"\n\n{appendix}{marked}\n"

    atomic_update_text(doc, edit)


def write_section(doc: str | Path, section: str, body: str) -> None:
    """Replace (or append) the block between ``<!-- bench:<section> -->`` markers in ``doc``."""
    replace_block(doc, f"<!-- bench:{section} -->", f"<!-- /bench:{section} -->", body)


def save_json(obj: dict | list, path: str | Path) -> None:
    from .config import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=1) + "\n")
