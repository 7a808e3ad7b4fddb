"""Recorded skeleton sequences for replay through the edge pipeline.

``load_skeleton_file(path)`` returns a :class:`SkeletonRecording`: NTU-25 joints
``(T, M, 25, 3)`` (camera frame, metres, y up, NaN missing), optional image points
``(T, M, 25, 2)`` and the frame rate.

Formats: NTU RGB+D ``.skeleton`` text (parsed here, with the colour-image coordinates the
training readers do not need), NumPy ``.npy`` / ``.npz`` arrays ``(T, M, 25, 3)`` or
``(T, 25, 3)``, and any other dataset format through the torch-free readers of
``train.datasets`` (imported lazily, only for those formats).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SourceError

NTU_FPS = 30.0
NTU_IMAGE_SIZE = (1920, 1080)


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


def _fail(path: Path, line: int, what: str) -> SourceError:
    return SourceError(f"{path}:{line}: {what}")


def read_ntu_skeleton(path: str | Path) -> SkeletonRecording:
    """Parse an NTU RGB+D ``.skeleton`` file (format in the dataset's documentation).

    Bodies are slotted by their Kinect body id in order of first appearance. Joint tracking
    state 2 = tracked -> visibility 1, 1 = inferred -> 0.5, 0 = not tracked -> 0.
    """
    path = Path(path)
    try:
        lines = path.read_text().split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read NTU skeleton file {path}: {exc}") from None
    pos = 0

    def next_line() -> list[str]:
        nonlocal pos
        if pos >= len(lines):
            raise _fail(path, pos + 1, "unexpected end of file")
        pos += 1
        return lines[pos - 1].split()

    try:
        frames = int(next_line()[0])
        per_frame: list[dict[int, np.ndarray]] = []
        order: list[int] = []
        for _ in range(frames):
            bodies = {}
            for _b in range(int(next_line()[0])):
                body_id = int(next_line()[0])
                joints = int(next_line()[0])
                rows = np.array([[float(v) for v in next_line()[:12]] for _j in range(joints)], dtype=np.float64)
                if rows.shape != (25, 12):
                    raise _fail(path, pos, f"expected 25 joints of 12 numbers, got {rows.shape}")
                bodies[body_id] = rows
                if body_id not in order:
                    order.append(body_id)
            per_frame.append(bodies)
    except (ValueError, IndexError) as exc:
        raise _fail(path, pos, f"malformed NTU skeleton line ({exc})") from None
    m = max(1, len(order))
    joints = np.full((frames, m, 25, 3), np.nan, dtype=np.float32)
    image = np.full((frames, m, 25, 2), np.nan, dtype=np.float32)
    vis = np.zeros((frames, m, 25), dtype=np.float32)
    for t, bodies in enumerate(per_frame):
        for body_id, rows in bodies.items():
            k = order.index(body_id)
            joints[t, k] = rows[:, 0:3]
            image[t, k] = rows[:, 5:7]
            vis[t, k] = np.select([rows[:, 11] >= 2, rows[:, 11] >= 1], [1.0, 0.5], 0.0)
    return SkeletonRecording(joints, NTU_FPS, image, NTU_IMAGE_SIZE, tuple(range(m)), vis)


def _from_array(path: Path, arr: np.ndarray, fps: float) -> SkeletonRecording:
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[2:] != (25, 3):
        raise SourceError(f"{path}: expected an array shaped (T, M, 25, 3) or (T, 25, 3), got {arr.shape}")
    return SkeletonRecording(arr, fps, body_ids=tuple(range(arr.shape[1])))


def _load_numpy(path: Path, fps: float) -> SkeletonRecording:
    try:
        data = np.load(path, allow_pickle=False)  # user input: never unpickle
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from None
    if isinstance(data, np.ndarray):
        return _from_array(path, data, fps)
    with data:
        key = "joints" if "joints" in data.files else (data.files[0] if len(data.files) == 1 else None)
        if key is None:
            raise SourceError(f"{path}: expected an array named 'joints' (found {data.files})")
        file_fps = float(data["fps"]) if "fps" in data.files else fps
        return _from_array(path, data[key], file_fps)


def _load_with_train_readers(path: Path, fps: float) -> SkeletonRecording:
    try:
        from train.datasets import read_sequence  # torch-free readers owned by the training side
    except ImportError:
        raise SourceError(
            f"{path}: unsupported skeleton format {path.suffix!r} here (supported: .skeleton, .npy, .npz; "
            "other dataset formats need the crossglg `train` package's dataset readers)"
        ) from None
    try:
        seq = read_sequence(path)
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read skeleton file {path}: {exc}") from None
    return _from_array(path, seq, fps)


def load_skeleton_file(path: str | Path, fps: float = NTU_FPS) -> SkeletonRecording:
    """Load a recorded skeleton sequence; the format follows the file suffix."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"skeleton file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".skeleton":
        return read_ntu_skeleton(path)
    if suffix in (".npy", ".npz"):
        return _load_numpy(path, fps)
    return _load_with_train_readers(path, fps)
