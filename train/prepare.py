"""Everything a run needs besides the loop: protocol data, text guidance, the model, embeddings.

- :func:`load_protocol_data`: scan the protocol's datasets under a data root, split them, cap per
  class for quick runs -> :class:`ProtocolData`.
- :func:`text_guidance`: joint text features ``(K, 25, D)`` and ``k_gt (K, 25)`` for the base
  classes from the shipped description files (through the text feature cache).
- :func:`check_descriptions`: every class has its own shipped description (clear error if not).
- :func:`build_model`: ``CrossGLGModel`` for a :class:`TrainConfig` and a class count.
- :func:`embed`: inference-model embeddings ``(N, D)`` (and mean-free ``k_out (N, V)``) of samples.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from crossglg.datasets import DEFAULT_SUBDIRS, Sample, scan_many
from crossglg.model.config import ModelConfig
from crossglg.model.dual_branch import CrossGLGModel
from crossglg.model.losses import LossWeights
from crossglg.preprocess import PreprocessConfig
from crossglg.skeleton.layouts import get_layout
from train.protocols import ClassKey, Protocol, get_protocol

from .augment import mirror_label_map
from .config import TrainConfig
from .data import SkeletonDataset, eval_loader


@dataclass(frozen=True)
class ProtocolData:
    """Samples of one protocol, labels as training / evaluation indices.

    Attributes:
        protocol: the protocol.
        train: base-class samples; ``train_labels (N,)`` their base label.
        novel: exemplars first (one per novel class, in class order), then the queries;
            ``novel_labels (Q,)`` their novel label; ``fixed`` = indices of the fixed exemplars.
    """

    protocol: Protocol
    train: list[Sample]
    train_labels: np.ndarray
    novel: list[Sample]
    novel_labels: np.ndarray
    fixed: np.ndarray

    @property
    def base_names(self) -> list[str]:
        return self.protocol.class_names(self.protocol.base)

    @property
    def novel_names(self) -> list[str]:
        return self.protocol.class_names(self.protocol.novel)


def _cap(samples: list[Sample], per_class: int) -> list[Sample]:
    """At most ``per_class`` samples per class, spread over the class's sorted list (deterministic)."""
    if per_class <= 0:
        return samples
    groups: dict[tuple, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[s.key].append(s)
    out = []
    for group in groups.values():
        idx = np.linspace(0, len(group) - 1, min(per_class, len(group))).round().astype(int)
        out += [group[i] for i in sorted(set(idx))]
    return sorted(out, key=lambda s: (s.dataset, s.name))


def load_protocol_data(
    name: str,
    data_root: str | Path,
    max_per_class: int = 0,
    max_novel_per_class: int = 0,
    cache_dir: str | None = None,
) -> ProtocolData:
    """Scan ``data_root/<dataset folder>`` for the protocol's datasets and split them.

    ``max_per_class`` caps base samples per class, ``max_novel_per_class`` caps queries per novel
    class (the fixed exemplar is always kept); 0 = no cap.
    """
    protocol = get_protocol(name)
    root = Path(data_root)
    roots = {}
    for d in protocol.datasets:
        folder = root / DEFAULT_SUBDIRS.get(d, d)
        if not folder.is_dir():
            raise FileNotFoundError(f"protocol {name}: dataset folder {folder} not found under --data-root {root}")
        roots[d] = folder
    scanned, _skipped = scan_many(roots, cache_dir=cache_dir or None)
    split = protocol.split([s for v in scanned.values() for s in v])
    train = _cap(split.train, max_per_class)
    queries = _cap(split.queries, max_novel_per_class)
    novel = list(split.exemplars) + queries
    return ProtocolData(
        protocol=protocol,
        train=train,
        train_labels=np.array([protocol.base_label(s.key) for s in train], dtype=np.int64),
        novel=novel,
        novel_labels=np.array([protocol.novel_label(s.key) for s in novel], dtype=np.int64),
        fixed=np.arange(len(split.exemplars)),
    )


def check_descriptions(keys: Sequence[ClassKey]) -> None:
    """``ValueError`` unless every class ``(dataset, label)`` has a shipped description of that class.

    Descriptions are looked up by position, so a file whose class order differs from the dataset's
    would silently give one class another's text: names are compared too.
    """
    from crossglg.datasets.classes import CLASS_NAMES
    from crossglg.text.descriptions import load_shipped, shipped_path

    missing = []
    for d in sorted({d for d, _ in keys}):
        try:
            ds = load_shipped(d)
        except FileNotFoundError as exc:
            raise ValueError(f"text guidance: {exc}") from None
        for label in sorted({k for dd, k in keys if dd == d}):
            if not 0 <= label < len(CLASS_NAMES.get(d, ())):
                raise ValueError(f"text guidance: dataset {d!r} has no class {label}")
            expected = CLASS_NAMES[d][label]
            if label >= len(ds.classes):
                missing.append(f"{d} {label} ({expected!r}): {shipped_path(d)} has {len(ds.classes)} classes")
            elif ds.classes[label].name.lower() != expected.lower():
                missing.append(f"{d} {label} ({expected!r}): {shipped_path(d)} class {ds.classes[label].id} "
                               f"is {ds.classes[label].name!r}")
    if missing:
        raise ValueError(f"text guidance: {len(missing)} class(es) without their description: " + "; ".join(missing[:5]))


def text_guidance(protocol: Protocol, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint text features ``(K, 25, D)`` and ``k_gt (K, 25)`` of the protocol's base classes."""
    from crossglg.text.descriptions import load_shipped
    from crossglg.text.encoder import FeatureCache, TextEncoder, text_features

    check_descriptions(protocol.base)
    encoder = TextEncoder() if cfg.text.encoder in ("", "minilm", "default") else TextEncoder(cfg.text.encoder)
    cache = FeatureCache(cfg.text.cache_dir or None)
    by_dataset: dict[str, list[int]] = defaultdict(list)
    for d, label in protocol.base:
        by_dataset[d].append(label)
    feats: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    for d, labels in by_dataset.items():
        ds = load_shipped(d)
        ids = [ds.classes[k].id for k in labels]
        tf = text_features(ds, encoder, cache, class_ids=ids)
        for i, k in enumerate(labels):
            feats[(d, k)] = (tf.joint_feats[i], tf.k_gt[i])
    joint = np.stack([feats[k][0] for k in protocol.base])
    k_gt = np.stack([feats[k][1] for k in protocol.base])
    return torch.from_numpy(joint), torch.from_numpy(k_gt)


def model_config(cfg: TrainConfig, num_classes: int, text_dim: int | None) -> ModelConfig:
    """The architecture for a run: variant switches, data shape, and ``model.params`` extras."""
    g2l, l2g = cfg.guidance
    extra = dict(cfg.model.params)
    if text_dim is not None:
        extra.setdefault("text_dim", text_dim)
    return ModelConfig(
        num_classes=num_classes, layout=cfg.data.layout, frames=cfg.data.frames,
        max_bodies=cfg.data.max_bodies, g2l=g2l, l2g=l2g, **extra,
    )  # fmt: skip


def build_model(mcfg: ModelConfig, cfg: TrainConfig) -> CrossGLGModel:
    """Dual-branch model with the run's loss weights (alpha1, alpha2)."""
    lc = cfg.loss
    return CrossGLGModel(mcfg, LossWeights(calibrate=lc.alpha1, cross_modal=lc.alpha2, metric=lc.metric,
                                           metric_scale=lc.metric_scale, metric_margin=lc.metric_margin))


def preprocess_config(cfg: TrainConfig) -> PreprocessConfig:
    return PreprocessConfig(frames=cfg.data.frames, max_bodies=cfg.data.max_bodies)


def make_dataset(samples: list[Sample], labels: np.ndarray, cfg: TrainConfig, train: bool,
                 class_names: list[str] | None = None) -> SkeletonDataset:
    """A dataset over samples already in memory (scans load eagerly). ``class_names`` (training
    label order, e.g. ``ProtocolData.base_names``) enable the left/right mirror with class swaps."""
    arrays = [s.load() for s in samples]
    mirror_map = mirror_label_map(class_names) if class_names is not None else None
    return SkeletonDataset(arrays.__getitem__, labels, preprocess_config(cfg), cfg.augment, train=train,
                           seed=cfg.seed, layout=get_layout(cfg.data.layout), mirror_map=mirror_map)


@torch.no_grad()
def embed(
    branch: torch.nn.Module, ds: SkeletonDataset, device: torch.device, batch_size: int = 64, progress: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Embeddings ``(N, D)`` (mu) and JID ``k_out (N, V)`` (None without g2l) in eval mode."""
    from tqdm import tqdm

    was = branch.training
    branch.eval()
    embs, ks = [], []
    try:
        for x, _y, _i in tqdm(eval_loader(ds, batch_size), disable=not progress, leave=False, desc="embed"):
            f = branch.features(x.to(device))
            embs.append(f.mu.float().cpu().numpy())
            if f.k_out is not None:
                ks.append(f.k_out.float().cpu().numpy())
    finally:
        branch.train(was)
    return np.concatenate(embs), (np.concatenate(ks) if ks else None)
