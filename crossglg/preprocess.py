"""The one preprocessing function shared by training and the edge runtime.

``preprocess(seq)`` turns a raw skeleton sequence ``(T, M, V, 3)`` (metres, camera frame, y up,
missing joints NaN) into a model input ``(3, T_out, V, M_out)`` float32 with no NaN.

Its behaviour is versioned: :data:`PREPROCESS_VERSION` plus the :class:`PreprocessConfig` form the
preprocessing id stored in checkpoints, ONNX metadata and support stores. Changing what this module
computes means bumping the version; :func:`check_compatible` turns a mismatch into an error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .skeleton.layouts import NTU25, Layout

PREPROCESS_VERSION = "crossglg-pp/1"
CENTER_MODES = ("first_frame", "per_frame")


@dataclass(frozen=True)
class PreprocessConfig:
    """How raw sequences become model inputs.

    Attributes:
        frames: output length T (the model's window).
        max_bodies: output bodies M; extra bodies are dropped (least motion first), missing ones
            are zero.
        center: ``"first_frame"`` subtracts the main body's root joint of the first valid frame
            (global translation inside the clip is kept); ``"per_frame"`` subtracts it in every
            frame (root-relative, as MediaPipe world landmarks are).
        align: rotate so the first valid frame's hip/shoulder line is the x axis and its spine the
            y axis (camera view removed). 3D layouts only.
        scale: divide by the main body's median torso length (SpineBase-SpineShoulder), so people
            of any size look alike.
    """

    frames: int = 64
    max_bodies: int = 1
    center: str = "first_frame"
    align: bool = True
    scale: bool = True

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ValueError(f"preprocess.frames must be >= 2, got {self.frames}")
        if self.max_bodies < 1:
            raise ValueError(f"preprocess.max_bodies must be >= 1, got {self.max_bodies}")
        if self.center not in CENTER_MODES:
            raise ValueError(f"preprocess.center must be one of {CENTER_MODES}, got {self.center!r}")

    def to_dict(self) -> dict:
        return {"version": PREPROCESS_VERSION, **asdict(self)}

    @property
    def id(self) -> str:
        """Stable text id, e.g. ``crossglg-pp/1;frames=64;max_bodies=1;...``."""
        fields = ";".join(f"{k}={v}" for k, v in asdict(self).items())
        return f"{PREPROCESS_VERSION};{fields}"

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessConfig:
        d = dict(d)
        version = d.pop("version", PREPROCESS_VERSION)
        if version != PREPROCESS_VERSION:
            raise ValueError(
                f"preprocessing version {version!r} is not supported by this build "
                f"({PREPROCESS_VERSION!r}); re-export or re-train with this version"
            )
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown preprocessing fields {sorted(unknown)}")
        return cls(**d)


def check_compatible(expected: str, found: str, where: str) -> None:
    """Raise ``ValueError`` when two preprocessing ids differ (no silent difference)."""
    if expected != found:
        raise ValueError(
            f"{where}: preprocessing mismatch: expected {expected!r}, found {found!r}. "
            "Data prepared one way must not be fed to a model trained another way."
        )


def validate_sequence(seq: np.ndarray, layout: Layout = NTU25) -> np.ndarray:
    """Check a raw sequence's shape and values; return it as float32 ``(T, M, V, C)``.

    Raises ``ValueError`` naming what was expected. NaN is allowed (missing joints), inf is not.
    """
    arr = np.asarray(seq)
    if arr.ndim != 4:
        raise ValueError(f"skeleton sequence: expected rank 4 (T, M, {layout.num_joints}, 3), got shape {arr.shape}")
    t, m, v, c = arr.shape
    if v != layout.num_joints:
        raise ValueError(f"skeleton sequence: expected {layout.num_joints} joints ({layout.name}), got {v}")
    if c != 3:
        raise ValueError(f"skeleton sequence: expected 3 channels per joint, got {c}")
    if t < 1 or m < 1:
        raise ValueError(f"skeleton sequence: empty sequence shape {arr.shape}")
    if arr.dtype.kind not in "iuf":  # not complex (a cast warning), timedelta or bool
        raise ValueError(f"skeleton sequence: expected real numbers (int or float), got dtype {arr.dtype}")
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: refused below
        arr = arr.astype(np.float32, copy=False)
    bad = np.isinf(arr)
    if bad.any():
        t, m, v, _ = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"skeleton sequence: contains inf ({int(bad.any(-1).sum())} joints, first at frame {t}, "
                         f"body {m}, joint {v}); use NaN for missing joints")  # fmt: skip
    return arr


def _interpolate_time(x: np.ndarray) -> np.ndarray:
    """Fill NaN along axis 0 by linear interpolation (edges: nearest valid). ``(T, K)``."""
    out = x.copy()
    t = np.arange(x.shape[0])
    for k in range(x.shape[1]):
        col = x[:, k]
        ok = np.isfinite(col)
        if ok.all() or not ok.any():
            continue
        out[:, k] = np.interp(t, t[ok], col[ok])
    return out


def fill_missing(body: np.ndarray, layout: Layout = NTU25) -> np.ndarray:
    """Fill missing joints of one body ``(T, V, C)`` (NaN) -> ``(T, V, C)`` finite.

    Joints missing in some frames are interpolated in time; a joint never seen takes its parent's
    position; a body never seen is all zeros.
    """
    t, v, c = body.shape
    flat = _interpolate_time(body.reshape(t, v * c)).reshape(t, v, c)
    missing = ~np.isfinite(flat).all(axis=(0, 2))
    if missing.all():
        return np.zeros_like(body)
    # Walk from the root outwards so parents are filled before children.
    order = sorted(range(v), key=lambda j: _depth(layout, j))
    for j in order:
        if missing[j]:
            p = layout.parents[j]
            if p >= 0 and not missing[p]:
                flat[:, j] = flat[:, p]
                missing[j] = False
    # Anything still missing (a missing root with missing children): use the mean of seen joints.
    if missing.any():
        flat[:, missing] = np.nanmean(flat[:, ~missing], axis=1, keepdims=True)
    return np.nan_to_num(flat, nan=0.0)


def _depth(layout: Layout, j: int) -> int:
    d = 0
    while layout.parents[j] >= 0:
        j = layout.parents[j]
        d += 1
    return d


def _body_present(seq: np.ndarray) -> np.ndarray:
    """``(T, M)`` bool: a body is present in a frame when any of its joints is finite."""
    return np.isfinite(seq).all(axis=-1).any(axis=-1)


def select_bodies(seq: np.ndarray, max_bodies: int) -> np.ndarray:
    """Keep the ``max_bodies`` bodies that are present longest and move most. ``(T, M, V, C)``."""
    m = seq.shape[1]
    if m <= max_bodies:
        return seq
    present = _body_present(seq).sum(axis=0)
    with np.errstate(invalid="ignore"):
        motion = np.nan_to_num(np.nanstd(seq, axis=0).sum(axis=(-1, -2)))
    # present frames dominate; motion breaks ties and drops static noise bodies
    score = present * 1e3 + motion
    keep = np.sort(np.argsort(-score, kind="stable")[:max_bodies])
    return seq[:, keep]


def valid_range(seq: np.ndarray) -> tuple[int, int]:
    """First and one-past-last frame in which any body is present. Raises on an empty clip."""
    any_body = _body_present(seq).any(axis=1)
    idx = np.flatnonzero(any_body)
    if idx.size == 0:
        raise ValueError("skeleton sequence: no frame holds a valid joint")
    return int(idx[0]), int(idx[-1]) + 1


def resample(seq: np.ndarray, frames: int) -> np.ndarray:
    """Linear resampling along time: ``(T, ...)`` -> ``(frames, ...)``."""
    t = seq.shape[0]
    if t == frames:
        return seq.copy()
    if t == 1:
        return np.repeat(seq, frames, axis=0)
    pos = np.linspace(0.0, t - 1, frames)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    w = (pos - lo).reshape((-1,) + (1,) * (seq.ndim - 1)).astype(seq.dtype)
    return seq[lo] * (1 - w) + seq[hi] * w


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 and np.isfinite(n) else None


def alignment_rotation(frame: np.ndarray, layout: Layout = NTU25) -> np.ndarray:
    """Rotation ``(3, 3)`` making a body's left->right line the x axis and its spine the y axis.

    ``frame`` is one body ``(V, 3)``. Falls back to the identity when the body is degenerate.
    """
    hl, hr = layout.hip_pair
    sl, sr = layout.shoulder_pair
    across = (frame[hr] - frame[hl]) + (frame[sr] - frame[sl])
    lo, up = layout.spine_pair
    spine = frame[up] - frame[lo]
    x = _unit(across)
    if x is None or lo == up:
        return np.eye(3, dtype=np.float32)
    y = _unit(spine - np.dot(spine, x) * x)
    if y is None:
        return np.eye(3, dtype=np.float32)
    z = np.cross(x, y)
    return np.stack([x, y, z]).astype(np.float32)


def normalize(seq: np.ndarray, cfg: PreprocessConfig, layout: Layout = NTU25) -> np.ndarray:
    """Centre, align and scale a filled sequence ``(T, M, V, C)``; body 0 is the reference.

    Absent bodies (all zero) stay zero.
    """
    out = seq.copy()
    present = np.abs(seq).sum(axis=(-1, -2)) > 0  # (T, M)
    main = out[:, 0]
    root = layout.center
    is_3d = layout.channels == "xyz"
    dims = slice(0, 3) if is_3d else slice(0, 2)
    if cfg.center == "first_frame":
        offset = np.broadcast_to(main[0, root], (out.shape[0], out.shape[-1])).copy()
    else:
        offset = main[:, root].copy()
    offset[:, dims.stop :] = 0.0
    out = out - offset[:, None, None, :]
    if is_3d and cfg.align:
        rot = alignment_rotation(out[0, 0], layout)
        out = out @ rot.T
    if is_3d and cfg.scale:
        lo, up = layout.spine_pair
        torso = np.linalg.norm(out[:, 0, up] - out[:, 0, lo], axis=-1)
        torso = torso[present[:, 0] & (torso > 1e-4)]
        if torso.size:
            out[..., dims] /= float(np.median(torso))
    out[~present] = 0.0
    return out


def preprocess(
    seq: np.ndarray,
    cfg: PreprocessConfig | None = None,
    layout: Layout = NTU25,
    crop: tuple[int, int] | None = None,
) -> np.ndarray:
    """Raw sequence ``(T, M, V, 3)`` -> model input ``(3, cfg.frames, V, cfg.max_bodies)`` float32.

    Steps: validate; keep the main bodies; trim to frames where someone is present (or use
    ``crop = (start, stop)`` inside that range, for augmentation); fill missing joints; centre,
    align, scale; resample to ``cfg.frames``; pad bodies with zeros. The output is finite.
    """
    cfg = cfg or PreprocessConfig()
    arr = validate_sequence(seq, layout)
    arr = select_bodies(arr, cfg.max_bodies)
    start, stop = valid_range(arr)
    if crop is not None:
        c0, c1 = crop
        if not 0 <= c0 < c1 <= stop - start:
            raise ValueError(f"crop {crop} outside the valid range of {stop - start} frames")
        start, stop = start + c0, start + c1
    arr = arr[start:stop]
    present = _body_present(arr)
    filled = np.zeros_like(arr)
    for b in range(arr.shape[1]):
        if present[:, b].any():
            body = arr[:, b].copy()
            filled[:, b] = fill_missing(body, layout)
            # Only frames before a body appears or after it leaves are absent (zeros); a dropout
            # inside its span is missing data, filled by interpolation like a missing joint.
            seen = np.flatnonzero(present[:, b])
            filled[: seen[0], b] = 0.0
            filled[seen[-1] + 1 :, b] = 0.0
    # the main body must be body 0: if it is absent in frame 0, move the first present one there
    if not present[0, 0] and present[0].any():
        first = int(np.argmax(present[0]))
        filled[:, [0, first]] = filled[:, [first, 0]]
    out = normalize(filled, cfg, layout)
    out = resample(out, cfg.frames)
    m = out.shape[1]
    if m < cfg.max_bodies:
        pad = np.zeros((cfg.frames, cfg.max_bodies - m) + out.shape[2:], dtype=np.float32)
        out = np.concatenate([out, pad], axis=1)
    result = np.ascontiguousarray(out.transpose(3, 0, 2, 1), dtype=np.float32)
    if not np.isfinite(result).all():  # defensive: nothing NaN reaches the model
        raise ValueError("preprocess produced non-finite values; the input is degenerate")
    return result
