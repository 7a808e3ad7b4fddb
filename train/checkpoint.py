"""Checkpoints: atomic saves that load with ``torch.load(weights_only=True)``.

A checkpoint is a dict of tensors and plain Python types only (no pickled classes):

- ``format``: ``"crossglg-ckpt/1"``; ``epoch``: epochs completed; ``global_step``.
- ``model``: the full dual-branch state dict; ``optimizer``: SGD state (for ``--resume``).
- ``rng``: torch / numpy / python RNG states (tensors, ints, lists) so a resumed run continues as
  an uninterrupted one would.
- ``config``: the resolved training config (nested dict); ``model_config``: the model's config dict.
- ``class_names`` (base classes the classifier was trained on), ``layout`` (name),
  ``preprocess`` (dict incl. version) and ``preprocess_id``.
- ``base_stats``: ``{"means": (B, D), "covs": (B, D, D), "beta": float, "classes": [...]}`` of
  the base-class embeddings (distribution calibration), or ``None`` before the final epoch.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crossglg.atomic import atomic_path

FORMAT = "crossglg-ckpt/1"
REQUIRED = ("format", "epoch", "model", "config", "class_names", "layout", "preprocess", "preprocess_id")


def rng_state() -> dict[str, Any]:
    """Current torch, numpy (legacy global) and python RNG states as weights-only-safe values."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": np_state[0],
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": py_version, "internal": list(py_internal), "gauss": py_gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (temp file in the same folder + ``os.replace``)."""
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise ValueError(f"checkpoint payload is missing {missing}")
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check its format and required keys."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt / non-checkpoint files
        raise ValueError(f"{path}: not a loadable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} checkpoint")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing:
        raise ValueError(f"{path}: checkpoint lacks {missing}")
    return ckpt


def stats_to_payload(means: np.ndarray, covs: np.ndarray, beta: float, classes: list[str]) -> dict[str, Any]:
    """Base-class statistics as tensors for the checkpoint."""
    return {
        "means": torch.from_numpy(np.asarray(means, dtype=np.float32)),
        "covs": torch.from_numpy(np.asarray(covs, dtype=np.float32)),
        "beta": float(beta),
        "classes": list(classes),
    }


def latest_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    """``<out_dir>/last.pt`` if it exists."""
    p = Path(out_dir) / "last.pt"
    return p if p.is_file() else None
