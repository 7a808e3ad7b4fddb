"""Model configuration: one frozen dataclass that fully determines the architecture.

A checkpoint stores ``ModelConfig.to_dict()`` next to the weights; ``ModelConfig.from_dict``
rebuilds the same model (unknown keys are an error, not silently dropped).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from crossglg.skeleton.layouts import Layout, get_layout

JID_VERSIONS = (1, 2)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the dual-branch CrossGLG model (and of its skeleton-only inference model).

    Attributes:
        encoder: registry name of the skeleton encoder (``"infogcn"``, ``"stgcn"``).
        num_classes: classes of the shared classifier (base classes during training).
        layout: skeleton layout name (``"ntu25"``, ``"kinetics18"``); fixes V.
        in_channels: C of the input ``(N, C, T, V, M)`` (3: xyz, or x, y, score).
        frames: window length T used for export and FLOP counts (the torch model accepts any T).
        max_bodies: M; fixed because the input BatchNorm runs over ``M * V * C0`` channels.
        embed_dim: size of the information-bottleneck latent z (= the inference embedding).
        g2l: global-to-local guidance (Joint Importance Discriminator + calibration loss).
        l2g: local-to-global guidance (cross-modal interaction branch + its CE loss).
        n_pre: encoder blocks before the JID; k_out reweights blocks ``n_pre .. end``.
        jid_hidden: hidden width of the JID's two-layer MLP.
        jid_mix: how strongly k_out reweights the later blocks: weights ``1 - mix + mix * V * k_out``.
            1.0 is the bare ``V * k_out`` (a collapsed k_out then silences 24 of 25 joints); 0.5 keeps
            every joint at half weight or more. Checkpoints saved before this field load with 1.0.
        jid_version: the JID's MLP (:mod:`crossglg.model.jid`). 1: ReLU on the raw pooled features,
            whose hidden units all died in the 10-epoch benchmark ablation (k_out became a constant);
            2: the pooled features layer-normalised, then LeakyReLU (no unit can stop learning).
            Checkpoints saved before this field load with 1.
        text_dim: D of the joint text features ``(num_classes, V, D)`` (384 for all-MiniLM-L6-v2).
        interaction_layers / interaction_dim / interaction_heads: the cross-modal module.
        num_heads: SA-GC attention heads (InfoGCN: 3).
        prior_gain: gain of the orthogonal class prior for the MMD loss (InfoGCN: 3).
    """

    encoder: str = "infogcn"
    num_classes: int = 100
    layout: str = "ntu25"
    in_channels: int = 3
    frames: int = 64
    max_bodies: int = 1
    embed_dim: int = 256
    g2l: bool = True
    l2g: bool = True
    n_pre: int = 5
    jid_hidden: int = 32
    jid_mix: float = 0.5
    jid_version: int = 2
    text_dim: int = 384
    interaction_layers: int = 2
    interaction_dim: int = 256
    interaction_heads: int = 4
    num_heads: int = 3
    prior_gain: float = 3.0

    def __post_init__(self) -> None:
        for name in ("num_classes", "in_channels", "frames", "max_bodies", "embed_dim", "n_pre", "jid_hidden",
                     "text_dim", "interaction_dim", "interaction_heads", "num_heads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ModelConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < float(self.jid_mix) <= 1.0:
            raise ValueError(f"ModelConfig.jid_mix must be in (0, 1], got {self.jid_mix}")
        if self.jid_version not in JID_VERSIONS:
            raise ValueError(f"ModelConfig.jid_version must be one of {JID_VERSIONS}, got {self.jid_version}")
        if self.interaction_layers < 0:
            raise ValueError(f"ModelConfig.interaction_layers must be >= 0, got {self.interaction_layers}")
        if self.interaction_dim % self.interaction_heads:
            raise ValueError(
                f"ModelConfig.interaction_dim ({self.interaction_dim}) must be divisible by "
                f"interaction_heads ({self.interaction_heads})"
            )
        get_layout(self.layout)  # raises ValueError naming the known layouts

    @property
    def skeleton_layout(self) -> Layout:
        return get_layout(self.layout)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"ModelConfig: unknown fields {sorted(unknown)}; expected a subset of {sorted(known)}")
        if "jid_mix" not in d:  # saved before the field existed: those models used the bare V * k_out
            d = {**d, "jid_mix": 1.0}
        if "jid_version" not in d:  # saved before the field existed: the ReLU-on-raw-features JID
            d = {**d, "jid_version": 1}
        return cls(**d)
