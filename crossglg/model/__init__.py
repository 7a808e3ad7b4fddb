"""CrossGLG model package (torch): encoders, JID, cross-modal interaction, dual-branch model, losses.

Public API::

    ModelConfig                        frozen architecture config (to_dict / from_dict)
    CrossGLGModel(cfg)                 training model; .set_text_guidance, .losses, .inference_model()
    SkeletonBranch(cfg)                inference model: (N, C, T, V, M) -> (embedding (N, D), logits (N, K))
    build_encoder(name, layout=...)    registered encoders: "infogcn", "stgcn"
    compute_losses, LossWeights        loss terms
    count_parameters, count_flops      model-info figures

ONNX export lives in :mod:`crossglg.model.export`; its torch-free metadata reader in
:mod:`crossglg.model_meta`.
"""

from .config import ModelConfig
from .dual_branch import CrossGLGModel, CrossGLGOutput
from .losses import LossWeights, compute_losses
from .registry import SkeletonEncoder, available_encoders, build_encoder, register_encoder
from .skeleton_branch import SkeletonBranch, SkeletonFeatures
from .stats import count_flops, count_parameters

__all__ = [
    "CrossGLGModel", "CrossGLGOutput", "LossWeights", "ModelConfig", "SkeletonBranch", "SkeletonEncoder",
    "SkeletonFeatures", "available_encoders", "build_encoder", "compute_losses", "count_flops",
    "count_parameters", "register_encoder",
]
