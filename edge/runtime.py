"""What `run`, `enroll` and `actions` share: the model, its preprocessing, and the support store.

    engine = open_model("model.onnx")                  # friendly errors, never a traceback
    pp = preprocess_config_for(engine.meta)            # the PreprocessConfig the model was trained with
    store = open_support_store(store_dir, engine)      # created on first use, fingerprint-checked
    emb = embed_clip(engine, pp, clip)                 # raw clip (T, M, 25, 3) -> (D,)
    aids = matching_aids(engine)                       # embedding centre + base statistics (sidecar)

The default store directory is per user: ``$XDG_DATA_HOME/crossglg/support`` or
``~/.local/share/crossglg/support``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from crossglg.basestats import basestats_path, read_base_stats_info
from crossglg.oneshot import BaseStats
from crossglg.preprocess import PREPROCESS_VERSION, PreprocessConfig, preprocess

from .calibration import load_base_stats
from .engines import EngineBase, EngineUnavailableError, ModelMeta, load_engine
from .errors import EdgeError
from .installed_models import resolve_model
from .store import StoreMismatchError, SupportStore


class ModelError(EdgeError):
    """The model file is missing, unreadable, or inconsistent with its own metadata."""


def default_store_dir() -> Path:
    """``$XDG_DATA_HOME/crossglg/support``, else ``~/.local/share/crossglg/support``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "crossglg" / "support"


def open_model(path: str | os.PathLike[str], threads: int = 0,
               base_stats: str | os.PathLike[str] | None = None) -> EngineBase:  # fmt: skip
    """Load an engine by suffix; every failure becomes a :class:`ModelError` naming the file.

    ``base_stats``: the model's base-statistics file when it is not the sidecar next to it (an
    installed model's INT8 and FP32 files share one, see :mod:`edge.installed_models`).
    """
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"model file not found: {p} (export one with `crossglg-train export`)")
    try:
        opts = {"threads": threads} if p.suffix.lower() == ".onnx" else {}
        engine = load_engine(p, **opts)
    except (ValueError, FileNotFoundError, EngineUnavailableError) as exc:
        raise ModelError(str(exc)) from None
    engine.base_stats_path = None if base_stats is None else Path(base_stats)  # type: ignore[attr-defined]
    return engine


def status_line(command: str) -> Callable[[str], None]:
    """A printer of one status line on stderr, prefixed ``crossglg-edge <command>:`` (e.g. which model is used)."""
    return lambda line: print(f"crossglg-edge {command}: {line}", file=sys.stderr, flush=True)


def open_model_arg(value: str | os.PathLike[str] | None, threads: int = 0,
                   say: Callable[[str], None] = lambda _line: None) -> EngineBase:  # fmt: skip
    """``--model`` as the commands take it: a path, the name of an installed model, or None for the
    installed default (announced through ``say``; :class:`edge.installed_models.InstalledModelError`
    when nothing is installed or a shipped file fails its sha256)."""
    resolved = resolve_model(value, say)
    return open_model(resolved.path, threads, resolved.base_stats)


def parse_preprocess_id(text: str) -> PreprocessConfig:
    """Inverse of :attr:`PreprocessConfig.id` (``crossglg-pp/1;frames=64;...``); ValueError if foreign."""
    version, _, rest = text.partition(";")
    if version != PREPROCESS_VERSION:
        raise ValueError(f"preprocessing id {text!r}: version {version!r} is not {PREPROCESS_VERSION!r}")
    types = {f.name: f.type for f in fields(PreprocessConfig)}
    kwargs: dict[str, object] = {}
    for item in filter(None, rest.split(";")):
        key, eq, value = item.partition("=")
        if not eq or key not in types:
            raise ValueError(f"preprocessing id {text!r}: unknown field {key!r}")
        kind = str(types[key])
        if kind in ("int", "<class 'int'>"):
            kwargs[key] = int(value)
        elif kind in ("bool", "<class 'bool'>"):
            if value not in ("True", "False"):
                raise ValueError(f"preprocessing id {text!r}: field {key!r} must be True/False, got {value!r}")
            kwargs[key] = value == "True"
        else:
            kwargs[key] = value
    cfg = PreprocessConfig(**kwargs)  # type: ignore[arg-type]
    if cfg.id != text:
        raise ValueError(f"preprocessing id {text!r} does not round-trip (parsed as {cfg.id!r})")
    return cfg


def preprocess_config_for(meta: ModelMeta) -> PreprocessConfig:
    """The model's preprocessing: from its ``preprocess_id`` (or the defaults at its T when absent)."""
    if not meta.preprocess_id:
        return PreprocessConfig(frames=meta.frames, max_bodies=meta.bodies)
    try:
        cfg = parse_preprocess_id(meta.preprocess_id)
    except ValueError as exc:
        raise ModelError(f"model {meta.model_id or '?'}: {exc}") from None
    if (cfg.frames, cfg.max_bodies) != (meta.frames, meta.bodies):
        raise ModelError(f"model {meta.model_id or '?'}: preprocessing says T={cfg.frames}, M={cfg.max_bodies} "
                         f"but the model takes T={meta.frames}, M={meta.bodies}")
    return cfg


def store_keys(engine: EngineBase) -> tuple[str, str]:
    """``(model fingerprint, preprocessing id)`` a support store is keyed on."""
    return engine.meta.fingerprint, preprocess_config_for(engine.meta).id


def open_support_store(root: str | os.PathLike[str], engine: EngineBase, create: bool = True) -> SupportStore:
    """Open (or create) the store at ``root`` for this model; a store of another model raises
    :class:`edge.store.StoreMismatchError` (a ValueError saying how to re-embed)."""
    fingerprint, pp_id = store_keys(engine)
    try:
        if create:
            return SupportStore.open_or_create(root, fingerprint, pp_id)
        return SupportStore.open(root, fingerprint, pp_id)
    except StoreMismatchError as exc:
        raise StoreMismatchError(f"{exc} From the command line: crossglg-edge actions reembed --model "
                                 f"{getattr(engine, 'path', 'MODEL')} --store {root}") from None


def embed_clips(engine: EngineBase, cfg: PreprocessConfig, clips: list[np.ndarray]) -> np.ndarray:
    """Raw clips, each ``(T_i, M, 25, 3)`` -> embeddings ``(N, D)`` (one batched engine call)."""
    batch = np.stack([preprocess(c, cfg) for c in clips]).astype(np.float32)  # (N, 3, T, 25, M)
    return engine.embed(batch)


def embed_clip(engine: EngineBase, cfg: PreprocessConfig, clip: np.ndarray) -> np.ndarray:
    """One raw clip ``(T, M, 25, 3)`` -> embedding ``(D,)``."""
    return embed_clips(engine, cfg, [clip])[0]


@dataclass(frozen=True)
class MatchingAids:
    """What the model ships for matching: ``center`` ``(D,)`` (centred cosine) and ``base_stats``
    (distribution calibration), each None when absent; ``stats_path`` the sidecar used, if any."""

    center: np.ndarray | None
    base_stats: BaseStats | None
    stats_path: Path | None = None


def matching_aids(engine: EngineBase, model_path: str | os.PathLike[str] | None = None) -> MatchingAids:
    """The embedding centre (model metadata, else the sidecar's) and the base statistics from
    ``<model>.basestats.npz`` next to the model file (or the ``base_stats`` given to
    :func:`open_model`), when it exists.

    A sidecar made for other weights (fingerprint differs from the model's and from its
    ``source_fingerprint``, e.g. an INT8 model's FP32 origin) or unreadable is a :class:`ModelError`.
    """
    meta = engine.meta
    try:
        center = meta.embedding_center
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    path = model_path if model_path is not None else getattr(engine, "path", None)
    side = basestats_path(path) if path is not None else None
    if model_path is None and getattr(engine, "base_stats_path", None) is not None:
        side = engine.base_stats_path  # type: ignore[attr-defined]
    if side is None or not side.is_file():
        return MatchingAids(center, None)
    try:
        info = read_base_stats_info(side)
        stats = load_base_stats(side)
    except ValueError as exc:
        raise ModelError(f"{exc} (re-export the model with `crossglg-train export`, or delete the file)") from None
    owners = {meta.fingerprint, str(meta.extra.get("source_fingerprint", ""))} - {""}
    if info.fingerprint not in owners:
        raise ModelError(f"{side}: base statistics belong to another model (fingerprint {info.fingerprint[:12]}, "
                         f"model {meta.fingerprint[:12]}); re-export the model or delete the file")  # fmt: skip
    if stats.means.shape[1] != meta.embedding_dim:
        raise ModelError(f"{side}: base statistics have dimension {stats.means.shape[1]}, "
                         f"the model's embedding has {meta.embedding_dim}")  # fmt: skip
    if center is None and info.center is not None and info.center.shape == (meta.embedding_dim,):
        center = info.center
    return MatchingAids(center, stats, side)
