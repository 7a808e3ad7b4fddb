"""CrossGLG model package (torch): encoders, JID, cross-modal interaction, dual-branch model, losses.

Public API (imported lazily, so ``from crossglg.model import SkeletonBranch`` pulls in nothing of
the text side)::

    ModelConfig                        frozen architecture config (to_dict / from_dict)
    CrossGLGModel(cfg, loss_weights)   training model; .set_text_guidance, .losses, .inference_model()
    SkeletonBranch(cfg)                inference model: (N, C, T, V, M) -> (embedding (N, D), logits (N, K))
    build_encoder(name, layout=...)    registered encoders: "infogcn", "stgcn"
    compute_losses, LossWeights        loss terms
    count_parameters, count_flops      model-info figures

ONNX export lives in :mod:`crossglg.model.export`; its torch-free metadata reader in
:mod:`crossglg.model_meta`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ModelConfig": "config",
    "CrossGLGModel": "dual_branch",
    "CrossGLGOutput": "dual_branch",
    "LossWeights": "losses",
    "compute_losses": "losses",
    "SkeletonEncoder": "registry",
    "available_encoders": "registry",
    "build_encoder": "registry",
    "register_encoder": "registry",
    "SkeletonBranch": "skeleton_branch",
    "SkeletonFeatures": "skeleton_branch",
    "count_flops": "stats",
    "count_parameters": "stats",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crossglg.model' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
