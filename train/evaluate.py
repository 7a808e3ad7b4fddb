"""One-shot evaluation of a checkpoint on its protocol's novel classes.

Embeds the novel samples with the inference model (skeleton branch, test transform), then reports
cosine 1-NN and distribution-calibration accuracy with the protocol's fixed exemplars and as mean
and 95% CI over seeded random exemplar draws. Writes a confusion-matrix PNG (fixed exemplars,
cosine 1-NN) and, for models with the global-to-local guidance, the mean k_out per novel class.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from crossglg.model.config import ModelConfig
from crossglg.oneshot import BaseStats, base_statistics, center_from_stats
from crossglg.preprocess import PreprocessConfig, check_compatible

from .checkpoint import load_checkpoint
from .config import TrainConfig, from_dict
from .oneshot_eval import confusion, cosine_predictor, dc_predictor, evaluate_predictor, public_summary
from .plots import confusion_png, joint_importance_png
from .prepare import ProtocolData, build_model, embed, make_dataset, preprocess_config


def load_model(ckpt: dict, device: torch.device | str = "cpu"):  # noqa: ANN201 - CrossGLGModel
    """Rebuild the dual-branch model of a checkpoint (weights loaded, eval mode)."""
    cfg = from_dict(ckpt["config"])
    model = build_model(ModelConfig.from_dict(ckpt["model_config"]), cfg)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), cfg


def stats_from_checkpoint(ckpt: dict) -> BaseStats | None:
    s = ckpt.get("base_stats")
    if not s:
        return None
    return BaseStats(s["means"].numpy(), s["covs"].numpy(), float(s["beta"]))


def evaluate_checkpoint(
    path: str | Path,
    data: ProtocolData,
    draws: int | None = None,
    out_dir: str | Path | None = None,
    device: str = "cpu",
    progress: bool = False,
    k_gt: np.ndarray | None = None,
) -> dict:
    """Evaluate ``path`` on ``data`` (the novel part; the base part only if stats are missing).

    Returns a JSON-ready dict: ``checkpoint``, ``variant``, ``seed``, ``epochs``, ``protocol``,
    ``novel_classes``, ``num_queries``, ``cosine``, ``cosine_centered`` (base mean embedding
    subtracted, as the edge matcher does) and ``dc`` (each ``fixed`` accuracy, ``random``
    {mean, std, ci95, n} and per-draw ``draws``), ``figures`` and ``seconds``.
    """
    t0 = time.time()
    dev = torch.device(device)
    ckpt = load_checkpoint(path, map_location=dev)
    model, cfg = load_model(ckpt, dev)
    pcfg = preprocess_config(cfg)
    check_compatible(ckpt["preprocess_id"], PreprocessConfig.from_dict(ckpt["preprocess"]).id, f"{path}")
    check_compatible(ckpt["preprocess_id"], pcfg.id, f"{path} (config vs stored preprocessing)")
    if ckpt.get("protocol") and ckpt["protocol"] != data.protocol.name:
        raise ValueError(f"{path} was trained for protocol {ckpt['protocol']!r}, data is {data.protocol.name!r}")
    branch = model.inference_model()
    ds = make_dataset(data.novel, data.novel_labels, cfg, train=False)
    feats, k_out = embed(branch, ds, dev, progress=progress)
    stats = stats_from_checkpoint(ckpt)
    if stats is None:  # an intermediate checkpoint: compute the base statistics now
        base_ds = make_dataset(data.train, data.train_labels, cfg, train=False)
        base_feats, _ = embed(branch, base_ds, dev, progress=progress)
        stats = base_statistics(base_feats, data.train_labels, cfg.eval.dc_beta)
    n_draws = cfg.eval.draws if draws is None else draws
    labels = data.novel_labels
    e = cfg.eval
    cos = evaluate_predictor(cosine_predictor(feats, labels), labels, data.fixed, n_draws, e.draw_seed)
    # the edge matches centred cosines (base-class mean embedding removed): report that too
    centre = center_from_stats(stats)
    cos_c = evaluate_predictor(cosine_predictor(feats, labels, centre), labels, data.fixed, n_draws, e.draw_seed)
    dc = evaluate_predictor(
        dc_predictor(feats, labels, stats, e.dc_k, e.dc_alpha, e.dc_samples, seed=e.draw_seed),
        labels, data.fixed, n_draws, e.draw_seed,
    )  # fmt: skip
    result: dict = {
        "checkpoint": str(path),
        "variant": cfg.model.variant,
        "seed": cfg.seed,
        "epochs": int(ckpt["epoch"]),
        "protocol": data.protocol.name,
        "frames": cfg.data.frames,
        "novel_classes": data.novel_names,
        "num_queries": int(labels.size - data.fixed.size),
        "cosine": public_summary(cos),
        "cosine_centered": public_summary(cos_c),
        "dc": public_summary(dc),
        "figures": {},
    }
    if out_dir is not None:
        out = Path(out_dir)
        q = cos["fixed_queries"]
        cm = confusion(labels[q], cos["fixed_pred"], len(data.novel_names))
        png = out / "confusion.png"
        confusion_png(cm, data.novel_names, png, f"{cfg.model.variant} seed {cfg.seed}: cosine 1-NN, fixed exemplars "
                      f"({100 * cos['fixed']:.1f}%)")
        result["figures"]["confusion"] = str(png)
        if k_out is not None:
            per_class = np.stack([k_out[labels == c].mean(axis=0) for c in range(len(data.novel_names))])
            png = out / "joint_importance.png"
            joint_importance_png(per_class, data.novel_names, png, k_gt=k_gt)
            result["figures"]["joint_importance"] = str(png)
        result["confusion_matrix"] = cm.tolist()
    result["seconds"] = round(time.time() - t0, 1)
    return result


def novel_k_gt(data: ProtocolData) -> np.ndarray | None:
    """k_gt ``(K_novel, 25)`` from the novel classes' descriptions (for the picture), if shipped."""
    try:
        from crossglg.text.descriptions import load_shipped
        from crossglg.text.lexicon import k_gt_matrix
    except ImportError:
        return None
    rows = []
    for d, label in data.protocol.novel:
        try:
            rows.append(k_gt_matrix([load_shipped(d).classes[label]])[0])
        except (ValueError, FileNotFoundError, IndexError):
            return None
    return np.stack(rows)


def write_json(result: dict, path: str | Path) -> None:
    from .config import atomic_write_text

    atomic_write_text(path, json.dumps(result, indent=1) + "\n")


__all__ = ["evaluate_checkpoint", "load_model", "novel_k_gt", "write_json", "TrainConfig"]
