"""Recorded skeleton sequences for replay through the edge pipeline.

``load_skeleton_file(path)`` returns a :class:`SkeletonRecording`: NTU-25 joints
``(T, M, 25, 3)`` (camera frame, metres, y up, NaN missing), optional image points
``(T, M, 25, 2)`` and the frame rate.

Formats: NTU RGB+D ``.skeleton`` (with colour-image coordinates), UTD-MHAD ``.mat``, NW-UCLA
``.json``, GTU ``.txt``, IntelliRehabDS ``.csv`` -- all through the core readers of
:mod:`crossglg.datasets` (the ones training uses) -- and NumPy ``.npy`` / ``.npz`` arrays ``(T, M, 25, 3)``
or ``(T, 25, 3)`` (never unpickled). Every format goes through the same value checks as training
(:func:`crossglg.preprocess.validate_sequence`).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossglg import datasets as ds
from crossglg.npy_check import check_npy_sizes
from crossglg.preprocess import validate_sequence

from .errors import SourceError

NTU_FPS = 30.0
NTU_IMAGE_SIZE = (1920, 1080)
MAX_ARRAY_BYTES = 2 << 30  # an hour of 2 bodies at 30 fps is 65 MB; 2 GiB is surely not a recording


@dataclass(frozen=True)
class SkeletonRecording:
    """A recorded sequence.

    Attributes:
        joints: ``(T, M, 25, 3)`` float32, NaN where a body or joint is missing.
        fps: frames per second.
        image_xy: ``(T, M, 25, 2)`` float32 pixels, or None.
        image_size: ``(width, height)`` of the image the pixels refer to, or None.
        body_ids: an identity per body slot M (stable across the clip).
        visibility: ``(T, M, 25)`` float32 in [0, 1], or None (then: finite joints are visible).
    """

    joints: np.ndarray
    fps: float = NTU_FPS
    image_xy: np.ndarray | None = None
    image_size: tuple[int, int] | None = None
    body_ids: tuple[int, ...] = ()
    visibility: np.ndarray | None = None


def read_ntu_skeleton(path: str | Path, max_bodies: int = 2, fps: float | None = None) -> SkeletonRecording:
    """An NTU RGB+D ``.skeleton`` file with its colour-image coordinates (``fps``: default 30).

    Parsing, noise-body filtering and body-slot merging are :mod:`crossglg.datasets`'s. Kinect tracking
    state 2 (tracked) -> visibility 1, 1 (inferred) -> 0.5, otherwise 0.
    """
    try:
        raw = ds.read_ntu_skeleton_full(path, max_bodies)
    except (OSError, ValueError) as exc:  # FormatError is a ValueError naming file and line
        raise SourceError(f"cannot read NTU skeleton file {path}: {exc}") from None
    joints = _validated(path, raw.xyz)
    vis = np.select([raw.tracking >= 2, raw.tracking == 1], [1.0, 0.5], 0.0).astype(np.float32)
    m = raw.xyz.shape[1]
    return SkeletonRecording(joints, fps or ds.FPS["ntu"], raw.color_xy, NTU_IMAGE_SIZE, tuple(range(m)), vis)


def _validated(path: Path, arr: np.ndarray) -> np.ndarray:
    """The checks training applies (:func:`crossglg.preprocess.validate_sequence`: shape, numbers,
    no inf), naming the file; ``(T, M, 25, 3)`` float32."""
    try:
        return validate_sequence(arr)
    except ValueError as exc:
        raise SourceError(f"{path}: {exc}") from None


def _from_array(path: Path, arr: np.ndarray, fps: float) -> SkeletonRecording:
    arr = np.asarray(arr)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[2:] != (25, 3):
        raise SourceError(f"{path}: expected an array shaped (T, M, 25, 3) or (T, 25, 3), got {arr.shape}")
    if not fps > 0 or not np.isfinite(fps):
        raise SourceError(f"{path}: field 'fps': expected a positive frame rate, got {fps}")
    arr = _validated(path, arr)
    return SkeletonRecording(arr, float(fps), body_ids=tuple(range(arr.shape[1])))


def _load_numpy(path: Path, fps: float | None) -> SkeletonRecording:
    """``fps`` (the caller's override) wins over an ``.npz``'s own ``fps`` array, then 30."""
    try:
        check_npy_sizes(path, MAX_ARRAY_BYTES)  # a header claiming 10^9 frames is refused, not allocated
    except ValueError as exc:
        raise SourceError(str(exc)) from None
    try:
        data = np.load(path, allow_pickle=False)  # user input: never unpickle
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # empty/truncated files: EOFError
        raise SourceError(f"cannot read {path}: not a NumPy .npy/.npz file ({exc or type(exc).__name__})") from None
    if isinstance(data, np.ndarray):
        return _from_array(path, data, fps or NTU_FPS)
    with data:
        try:
            key = "joints" if "joints" in data.files else (data.files[0] if len(data.files) == 1 else None)
            if key is None:
                raise SourceError(f"{path}: expected an array named 'joints' (found {data.files})")
            file_fps = float(data["fps"]) if fps is None and "fps" in data.files else (fps or NTU_FPS)
            return _from_array(path, data[key], file_fps)
        except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile) as exc:  # a damaged member
            raise SourceError(f"cannot read {path}: {exc}") from None


# suffix -> (reader name in crossglg.datasets, dataset key for the frame rate)
_DATASET_READERS = {
    ".mat": ("read_utd_mat", "utd_mhad"),
    ".json": ("read_nwucla_json", "nw_ucla"),
    ".txt": ("read_gtu_txt", "gtu3d"),
    ".csv": ("read_irds_csv", "irds"),
}


def _load_with_dataset_readers(path: Path, fps: float | None) -> SkeletonRecording:
    suffix = path.suffix.lower()
    if suffix not in _DATASET_READERS:
        known = ", ".join([".skeleton", ".npy", ".npz", *_DATASET_READERS])
        raise SourceError(f"{path}: unsupported skeleton format {suffix!r} (supported: {known})")
    reader, dataset = _DATASET_READERS[suffix]
    try:
        seq = getattr(ds, reader)(path)
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read skeleton file {path}: {exc}") from None
    return _from_array(path, seq, fps or ds.FPS[dataset])


def load_skeleton_file(path: str | Path, fps: float | None = None) -> SkeletonRecording:
    """Load a recorded skeleton sequence; the format follows the file suffix.

    ``fps`` overrides the frame rate of every format (default: the file's own, else the dataset's,
    30 for NumPy arrays). Every format is checked as training checks its data
    (:func:`crossglg.preprocess.validate_sequence`: no inf, NaN only for missing joints)."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"skeleton file not found: {path}")
    suffix = path.suffix.lower()
    if fps is not None and not (fps > 0 and np.isfinite(fps)):
        raise SourceError(f"{path}: frame rate override: expected a positive number, got {fps}")
    if suffix == ".skeleton":
        return read_ntu_skeleton(path, fps=fps)
    if suffix in (".npy", ".npz"):
        return _load_numpy(path, fps)
    return _load_with_dataset_readers(path, fps)
