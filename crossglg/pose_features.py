"""Resampled-pose features and their fusion with the learned embedding (numpy; training and edge).

The pose feature of a clip is the resampled-pose cosine baseline's vector: the main body centred
on the first valid frame's hip centre (SpineBase), scaled by the median torso length
(SpineBase-SpineShoulder), rotated about the vertical axis so the first frame's hip line lies on
x (:func:`normalize_pose`, also DTW's normalisation), linearly resampled to ``frames`` (64)
frames and flattened: ``(frames * 75,)``. No learning: it needs no model.

Fusion (:class:`Fusion`): the similarity of a window to an exemplar is
``weight * s_learned + (1 - weight) * s_pose``, ``s_learned`` the centred cosine of the
embeddings (the matcher's), ``s_pose`` the cosine of the pose features. ``weight`` comes from
:func:`fusion_weight`: each similarity divided by its own spread (the standard deviation of its
off-diagonal values over base-class clips), averaged with weights ``w`` and ``1 - w``, rescaled so
the result is again a weighted mean of two cosines (in [-1, 1], what the open-set threshold is
calibrated on). Why: on the benchmark's protocols the learned encoder alone trails the pose
baseline on some sensors and leads on others; the fused score beats both on every protocol
(docs/results.md). The weight travels in the ONNX metadata ``crossglg.fusion``
(:func:`encode_fusion` / :func:`decode_fusion`); :data:`FEATURES_ID` versions the features, so a
model's fusion and the edge's feature code must agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .model_meta import meta_json
from .oneshot import l2_normalize
from .preprocess import fill_missing, resample, select_bodies, valid_range, validate_sequence
from .skeleton.layouts import NTU25, Layout

FRAMES = 64
FEATURES_ID = "pose-resample64/1"
FUSION_KEY = "fusion"  # metadata key (without the "crossglg." prefix)


def normalize_pose(seq: np.ndarray, layout: Layout = NTU25) -> np.ndarray:
    """Raw ``(T, M, V, 3)`` (NaN = missing) -> normalised main body ``(T', V*3)`` float32 over its
    valid frames. ``ValueError`` for a sequence of the wrong shape, with inf, or with no valid frame."""
    arr = select_bodies(validate_sequence(seq, layout), 1)
    start, stop = valid_range(arr)
    body = fill_missing(arr[start:stop, 0].copy(), layout)  # (T, V, 3)
    hip = layout.index("SpineBase") if layout is NTU25 else layout.center
    body = body - body[0, hip]
    lo, up = layout.spine_pair
    torso = np.linalg.norm(body[:, up] - body[:, lo], axis=-1)
    torso = torso[torso > 1e-4]
    if torso.size:
        body = body / float(np.median(torso))
    hl, hr = layout.hip_pair
    d = body[0, hr] - body[0, hl]
    ang = np.arctan2(d[2], d[0])  # angle of the hip line in the x-z (ground) plane
    c, s = np.cos(ang), np.sin(ang)
    rot_y = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=np.float32)  # maps d onto +x
    body = body @ rot_y.T
    return np.ascontiguousarray(body.reshape(body.shape[0], -1), dtype=np.float32)


def pose_vector(seq: np.ndarray, frames: int = FRAMES) -> np.ndarray:
    """Raw ``(T, M, 25, 3)`` -> normalised, resampled, flattened main body ``(frames * 75,)`` float32."""
    return resample(normalize_pose(seq), frames).reshape(-1).astype(np.float32)


def pose_matrix(seqs: Sequence[np.ndarray], frames: int = FRAMES) -> np.ndarray:
    """Pose features ``(N, frames * 75)`` of raw sequences, each ``(T, M, 25, 3)``."""
    return np.stack([pose_vector(s, frames) for s in seqs]) if len(seqs) else np.zeros((0, frames * 75), np.float32)


def off_diagonal_std(feats: np.ndarray) -> float:
    """Standard deviation of the off-diagonal cosine similarities of rows ``(N, D)`` (N >= 2)."""
    f = l2_normalize(feats)
    if f.shape[0] < 2:
        raise ValueError("fusion: the spread of similarities needs at least 2 clips")
    sim = f @ f.T
    return float(sim[~np.eye(sim.shape[0], dtype=bool)].std())


@dataclass(frozen=True)
class Fusion:
    """How a model's matcher fuses scores: ``weight`` of the learned centred cosine (the pose
    cosine gets ``1 - weight``), in (0, 1]; ``frames`` of the pose features; ``features`` their id;
    ``spreads`` the two similarity spreads it was derived from and ``w`` the prior weight (records)."""

    weight: float
    frames: int = FRAMES
    features: str = FEATURES_ID
    spreads: tuple[float, float] | None = None
    w: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.weight, bool) or not (0.0 < float(self.weight) <= 1.0):
            raise ValueError(f"fusion: weight must be in (0, 1], got {self.weight!r}")
        if isinstance(self.frames, bool) or not isinstance(self.frames, int) or not 2 <= self.frames <= 512:
            raise ValueError(f"fusion: frames must be an integer in [2, 512], got {self.frames!r}")


def fusion_weight(spread_learned: float, spread_pose: float, w: float = 0.5) -> float:
    """Weight of the learned cosine in ``w * s_l / spread_l + (1 - w) * s_p / spread_p``, rescaled to a
    weighted mean: ``(w / spread_l) / (w / spread_l + (1 - w) / spread_p)``."""
    if not (spread_learned > 0 and spread_pose > 0) or not (0 < w <= 1):
        raise ValueError(f"fusion: spreads must be > 0 and w in (0, 1], got {spread_learned}, {spread_pose}, {w}")
    a, b = w / spread_learned, (1 - w) / spread_pose
    return float(a / (a + b))


def fuse(learned: np.ndarray, pose: np.ndarray, weight: float) -> np.ndarray:
    """Fused similarity of two same-shape similarity arrays (learned centred cosine, pose cosine)."""
    return weight * np.asarray(learned) + (1.0 - weight) * np.asarray(pose)


def encode_fusion(f: Fusion) -> str:
    """The metadata value of :data:`FUSION_KEY`: compact JSON."""
    obj: dict = {"weight": round(float(f.weight), 6), "frames": f.frames, "features": f.features, "source": f.source}
    if f.spreads is not None:
        obj["spreads"] = [round(float(s), 6) for s in f.spreads]
    if f.w is not None:
        obj["w"] = float(f.w)
    return json.dumps(obj, sort_keys=True)


def decode_fusion(meta: Mapping[str, str], where: str = "model metadata") -> Fusion | None:
    """The :data:`FUSION_KEY` entry of ``meta`` (None when absent); ``ValueError`` naming ``where``
    and the field when it is damaged or names pose features this code does not compute."""
    obj = meta_json(meta, FUSION_KEY, where)
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: {FUSION_KEY} must be a JSON object with weight, frames and features")
    weight, frames, features = obj.get("weight"), obj.get("frames", FRAMES), obj.get("features", FEATURES_ID)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
        raise ValueError(f"{where}: {FUSION_KEY}.weight must be a number in (0, 1], got {weight!r}")
    if features != FEATURES_ID:
        raise ValueError(f"{where}: {FUSION_KEY}.features is {features!r}; this runtime computes {FEATURES_ID!r} "
                         "(update crossglg-edge, or re-export the model)")  # fmt: skip
    spreads = obj.get("spreads")
    ok = (isinstance(spreads, list) and len(spreads) == 2
          and all(isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s) for s in spreads))  # fmt: skip
    w = obj.get("w")
    try:
        return Fusion(float(weight), frames, features, tuple(float(s) for s in spreads) if ok else None,
                      float(w) if isinstance(w, int | float) and not isinstance(w, bool) else None,
                      str(obj.get("source", ""))[:300])  # fmt: skip
    except ValueError as exc:
        raise ValueError(f"{where}: {FUSION_KEY}: {str(exc).removeprefix('fusion: ')}") from None
