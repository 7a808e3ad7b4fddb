"""The torch backend of :func:`edge.engines.load_engine` for ``.pt`` files (training machines only).

It lives outside ``edge/`` because it imports torch; ``edge.engines.loader`` reaches it with
``importlib`` only when asked for a ``.pt``. Two file formats load (both with
``torch.load(weights_only=True)``):

1. An inference checkpoint ``{"model_config": dict, "state_dict": dict, "meta": dict}``: the
   :class:`crossglg.model.SkeletonBranch` state dict (with or without its classifier), the
   :class:`crossglg.model.ModelConfig` dict, and :class:`edge.engines.base.ModelMeta` fields.
2. A training checkpoint (``format == "crossglg-ckpt/1"``, see :mod:`train.checkpoint`): the
   ``skeleton.*`` part of its dual-branch state dict is the inference model; metadata comes from
   its ``class_names``, ``layout``, ``preprocess_id`` and ``model_config``.

Missing ``fingerprint`` metadata is computed with :func:`crossglg.model.export.weights_fingerprint`,
the same function the ONNX exporter uses, so a ``.pt`` and its ONNX export share a fingerprint
(support stores made with one are valid for the other).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crossglg.atomic import atomic_path
from crossglg.model import ModelConfig, SkeletonBranch
from crossglg.model.export import weights_fingerprint
from edge.engines.base import EMBEDDING_NAME, LOGITS_NAME, EngineBase, ModelMeta

TRAINING_FORMAT = "crossglg-ckpt/1"
SKELETON_PREFIX = "skeleton."
CLASSIFIER_KEY = "head.classifier.weight"


def _branch_state(ckpt: dict[str, Any], where: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(SkeletonBranch state dict, raw meta dict) from either supported format."""
    if ckpt.get("format") == TRAINING_FORMAT:
        full = ckpt["model"]
        state = {k[len(SKELETON_PREFIX):]: v for k, v in full.items() if k.startswith(SKELETON_PREFIX)}
        if not state:
            raise ValueError(f"{where}: training checkpoint has no '{SKELETON_PREFIX}*' weights")
        cfg = ckpt.get("model_config") or {}
        meta = {"classes": list(ckpt.get("class_names") or []), "layout": ckpt.get("layout", cfg.get("layout", "ntu25")),
                "preprocess_id": ckpt.get("preprocess_id", "")}
        return state, meta
    missing = [k for k in ("model_config", "state_dict") if k not in ckpt]
    if missing:
        raise ValueError(f"{where}: expected keys 'model_config', 'state_dict' and 'meta' "
                         f"(or a {TRAINING_FORMAT} training checkpoint); missing {missing}")
    return dict(ckpt["state_dict"]), dict(ckpt.get("meta") or {})


def build_meta(model: SkeletonBranch, raw: dict[str, Any], path: Path) -> ModelMeta:
    """ModelMeta from a checkpoint's meta dict, completed from the model (config and weights)."""
    cfg = model.cfg
    d = {"layout": cfg.layout, "frames": cfg.frames, "embedding_dim": cfg.embed_dim, "bodies": cfg.max_bodies,
         "model_id": f"crossglg-{cfg.encoder}-{cfg.layout}", **raw}
    if not d.get("fingerprint"):
        d["fingerprint"] = weights_fingerprint(model)
    return ModelMeta.from_dict(d, where=f"{path}: meta")


class TorchEngine(EngineBase):
    """A :class:`crossglg.model.SkeletonBranch` in eval mode behind the Engine interface.

    Args:
        path: the ``.pt`` file.
        device: torch device string (``"cpu"`` default; ``"cuda"`` where available).
        threads: torch intra-op threads (0 = leave torch's setting alone).
    """

    backend = "torch"

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu", threads: int = 0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"torch model not found: {self.path}")
        if threads > 0:
            torch.set_num_threads(threads)
        try:
            ckpt = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle/zip errors: the file is not a weights-only checkpoint
            raise ValueError(f"{self.path}: not a weights-only torch checkpoint ({exc})") from exc
        if not isinstance(ckpt, dict):
            raise ValueError(f"{self.path}: expected a dict checkpoint, got {type(ckpt).__name__}")
        state, raw_meta = _branch_state(ckpt, str(self.path))
        cfg = ModelConfig.from_dict(dict(ckpt["model_config"]))
        self.model = SkeletonBranch(cfg, with_classifier=CLASSIFIER_KEY in state)
        try:
            self.model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"{self.path}: weights do not match model_config ({exc})") from exc
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        meta = build_meta(self.model, raw_meta, self.path)
        super().__init__(meta, joints=cfg.skeleton_layout.num_joints, has_logits=CLASSIFIER_KEY in state)

    @torch.inference_mode()
    def _run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        out = self.model(torch.from_numpy(x).to(self.device))
        emb, logits = out if isinstance(out, tuple) else (out, None)
        res = {EMBEDDING_NAME: emb.float().cpu().numpy()}
        if logits is not None:
            res[LOGITS_NAME] = logits.float().cpu().numpy()
        return res

    def _release(self) -> None:
        self.model = None


def save_inference_checkpoint(path: str | os.PathLike[str], model: SkeletonBranch, meta: dict[str, Any]) -> None:
    """Write format 1 (``model_config`` + ``state_dict`` + ``meta``) atomically."""
    payload = {"model_config": model.cfg.to_dict(), "state_dict": model.state_dict(), "meta": dict(meta)}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
