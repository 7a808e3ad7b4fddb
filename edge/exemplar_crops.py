"""Window-shaped exemplars: each demonstration also matched as crops of the runtime's window length.

The runtime classifies sliding windows of a fixed duration (``WindowConfig.frames / fps``, 2.1 s by
default) while a demonstration lasts as long as the person took (up to 4 s when recorded live). The
whole demonstration, resampled to the model's T frames, is a time-squeezed version of what a window
sees, and its pose features are anchored at its first frame: a window that starts mid-action lines
up badly with both. So the support also holds crops of every demonstration that lasts clearly longer
than a window, of exactly the window's duration, every ``stride_s`` seconds and one ending at its last
frame. Each crop is one more exemplar row of its action; the matcher already takes the max over an
action's rows, so a window scores against the part of the demonstration it resembles most.

The store is unchanged (it keeps the whole clip and its embedding); crops are embedded when the
support is built and cached per exemplar file (:class:`CropCache`), so adding an action embeds only
its own crops (the key includes the exemplar's stored embedding: a file name reused after a removal
is a new demonstration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from crossglg.pose_features import pose_vector
from crossglg.preprocess import PreprocessConfig

from .engines import EngineBase
from .matcher import SupportSet
from .runtime import embed_clips
from .store import SupportStore


@dataclass(frozen=True)
class CropConfig:
    """``enabled``: add window-length crops; ``stride_s``: seconds between two crop starts;
    ``min_ratio``: crop only demonstrations at least this many windows long (a demonstration about
    one window long is already window-shaped)."""

    enabled: bool = True
    stride_s: float = 0.5
    min_ratio: float = 1.25

    def __post_init__(self) -> None:
        if not (self.stride_s > 0 and math.isfinite(self.stride_s)):
            raise ValueError(f"crops.stride_s: expected seconds > 0, got {self.stride_s!r}")
        if not (self.min_ratio >= 1 and math.isfinite(self.min_ratio)):
            raise ValueError(f"crops.min_ratio: expected a ratio >= 1, got {self.min_ratio!r}")


def crop_starts(n: int, length: int, stride: int) -> list[int]:
    """Start frames of the ``length``-frame crops of an ``n``-frame clip: every ``stride`` frames,
    plus one ending at the last frame; empty when the clip is not longer than a crop."""
    if length < 2 or stride < 1:
        raise ValueError(f"crops: need length >= 2 and stride >= 1, got {length} and {stride}")
    if n <= length:
        return []
    starts = list(range(0, n - length + 1, stride))
    if starts[-1] != n - length:
        starts.append(n - length)
    return starts


def exemplar_crops(clip: np.ndarray, fps: float, window_s: float, cfg: CropConfig) -> list[np.ndarray]:
    """Window-length crops ``(L, M, 25, 3)`` of one demonstration ``clip (T, M, 25, 3)`` recorded at
    ``fps``; ``[]`` when it is shorter than ``cfg.min_ratio`` windows or cropping is off."""
    length = max(2, round(window_s * fps))
    if not cfg.enabled or clip.shape[0] < cfg.min_ratio * length:
        return []
    stride = max(1, round(cfg.stride_s * fps))
    return [clip[s : s + length] for s in crop_starts(clip.shape[0], length, stride)]


class CropCache:
    """Crop embeddings ``(C, D)`` and pose features ``(C, P)`` per exemplar file, for one engine.

    ``window_s``: the runtime window's duration; ``pose_frames``: the fusion's pose resampling
    length (None: no pose features).
    """

    def __init__(self, engine: EngineBase, preprocess: PreprocessConfig, window_s: float, cfg: CropConfig,
                 pose_frames: int | None = None) -> None:  # fmt: skip
        self.engine, self.preprocess, self.window_s, self.cfg = engine, preprocess, window_s, cfg
        self.pose_frames = pose_frames
        self._rows: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}

    def rows(self, store: SupportStore, slug: str, index: int, whole: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
        """``(embeddings (C, D), poses (C, P) or None)`` of exemplar ``index`` of action ``slug``
        whose whole-clip embedding is ``whole (D,)`` (C may be 0). A crop whose embedding or pose
        features are not finite is left out; ``ValueError`` names a damaged clip."""
        file = store.action(slug).exemplars[index].file
        key = file + ":" + np.asarray(whole, np.float32).tobytes().hex()
        if key not in self._rows:
            ex = store.load_exemplar(slug, index)
            crops = exemplar_crops(ex.clip, ex.fps, self.window_s, self.cfg)
            emb = embed_clips(self.engine, self.preprocess, crops) if crops else np.zeros((0, 0), np.float32)
            poses = None
            if self.pose_frames is not None:
                try:
                    poses = (np.stack([pose_vector(c, self.pose_frames) for c in crops]) if crops
                             else np.zeros((0, 0), np.float32))  # fmt: skip
                except ValueError as exc:
                    raise ValueError(f"{store.root / file}: {exc}") from None
            if crops:
                ok = np.isfinite(emb).all(axis=1) & (np.abs(emb).sum(axis=1) > 0)
                if poses is not None:
                    ok &= np.isfinite(poses).all(axis=1)
                emb = emb[ok].astype(np.float32)
                poses = None if poses is None else poses[ok].astype(np.float32)
            self._rows[key] = (emb, poses)
        return self._rows[key]

    def extend(self, store: SupportStore, support: SupportSet) -> SupportSet:
        """``support`` (the store's, whole-clip rows first) with every exemplar's crop rows appended."""
        if (support.poses is None) != (self.pose_frames is None):
            raise ValueError("crops: the support's pose features and the cache's pose_frames disagree")
        embeddings, poses = [], []
        for k, slug in enumerate(support.slugs):
            e_rows, p_rows = [support.embeddings[k]], [None if support.poses is None else support.poses[k]]
            for i in range(len(store.action(slug).exemplars)):
                e, p = self.rows(store, slug, i, support.embeddings[k][i])
                if len(e):
                    e_rows.append(e)
                    p_rows.append(p)
            embeddings.append(np.concatenate(e_rows).astype(np.float32))
            if support.poses is not None:
                poses.append(np.concatenate(p_rows).astype(np.float32))
        return SupportSet(support.slugs, support.labels, tuple(embeddings),
                          None if support.poses is None else tuple(poses))  # fmt: skip
