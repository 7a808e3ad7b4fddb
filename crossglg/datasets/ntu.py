"""NTU RGB+D readers: raw ``.skeleton`` text, pyskl annotation pickles, CTR-GCN ``.npz``.

Raw ``.skeleton`` layout (see ``../shared/data/README.md``): frame count; per frame a body count;
per body a 10-field info line (bodyID first), a joint count (25) and 25 lines of 12 numbers
(x y z, depthX depthY, colorX colorY, orientation wxyz, trackingState).

Body selection (``select_bodies``), applied to every raw file so that ``M <= max_bodies``:

1. a body (one bodyID) seen in fewer than ``MIN_BODY_FRAMES`` (11) frames is noise;
2. a body that is wider than tall (x spread > ``SPREAD_RATIO`` (0.8) x y spread of its joints) in
   more than ``NOISY_FRAME_FRACTION`` (69 %) of its frames is an object (chair, table), not a person;
   rules 1 and 2 never drop every body: if they would, the longest body is kept;
3. the remaining bodies are ranked by motion (sum over joints and axes of the variance over time,
   NTU's "main actor" heuristic); in that order each body goes into the first slot whose frames
   it does not overlap, else into a new slot (Kinect often gives one person several bodyIDs in
   turn); slots are then ranked by the motion of their merged tracks and the first
   ``max_bodies`` kept: slot 0 is the main actor.

Joints whose x, y and z are all exactly zero are missing (NaN); empty slots are NaN too.

The pyskl pickle and CTR-GCN npz readers are for users who already hold preprocessed NTU. Pickle
can run arbitrary code: :func:`read_pyskl_pickle` refuses unless ``trusted=True`` (only files you
made or got from a source you trust). The npz reader never unpickles (``allow_pickle=False``).
"""

from __future__ import annotations

import pickle
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossglg.npy_check import check_npy_sizes

from .classes import FPS
from .sample import FormatError, Sample

V = 25
MIN_BODY_FRAMES = 11
SPREAD_RATIO = 0.8
NOISY_FRAME_FRACTION = 0.69
FLOAT32_MAX = float(np.finfo(np.float32).max)
NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


@dataclass(frozen=True)
class NtuSkeleton:
    """Everything a raw NTU file holds for the kept bodies.

    Attributes:
        xyz: ``(T, M, 25, 3)`` float32 camera space in metres, NaN where missing.
        color_xy: ``(T, M, 25, 2)`` float32 pixels in the 1920x1080 colour frame (NaN where missing).
        depth_xy: ``(T, M, 25, 2)`` float32 pixels in the 512x424 depth frame (NaN where missing).
        tracking: ``(T, M, 25)`` int8 Kinect tracking state (2 tracked, 1 inferred, 0 not tracked),
            -1 where the slot is empty.
        body_ids: per slot, the Kinect bodyIDs merged into it (in time order).
    """

    xyz: np.ndarray
    color_xy: np.ndarray
    depth_xy: np.ndarray
    tracking: np.ndarray
    body_ids: tuple[tuple[str, ...], ...]


@dataclass
class _Track:
    frames: list[int]
    rows: list[np.ndarray]  # each (25, 12)


def _int_line(path: Path, lines: list[str], i: int, what: str) -> int:
    if i >= len(lines):
        raise FormatError(path, f"file ends early: expected {what}", line=i + 1)
    fields = lines[i].split()
    try:
        if len(fields) != 1:
            raise ValueError
        return int(fields[0])
    except ValueError:
        raise FormatError(path, f"expected {what} (an integer), got {lines[i][:60]!r}", line=i + 1) from None


def _joint_block(path: Path, lines: list[str], i: int) -> np.ndarray:
    """25 joint lines starting at ``i`` -> ``(25, 12)`` float64; errors name the bad line."""
    block = lines[i : i + V]
    if len(block) < V:
        raise FormatError(path, f"file ends early: expected {V} joint lines", line=len(lines) + 1)
    tokens = " ".join(block).split()
    if len(tokens) == V * 12:
        try:
            values = np.array(tokens, dtype=np.float64).reshape(V, 12)
        except ValueError:
            values = None
        # inf, NaN or beyond float32 (inf once stored) would poison body selection and the output
        if values is not None and (np.abs(values) <= FLOAT32_MAX).all():
            return values
    for k, text in enumerate(block):  # slow path only to say which line is wrong
        fields = text.split()
        if len(fields) != 12:
            raise FormatError(path, f"expected 12 numbers per joint, got {len(fields)}", line=i + k + 1)
        try:
            numbers = [float(f) for f in fields]
        except ValueError:
            raise FormatError(path, f"non-numeric joint value in {text[:60]!r}", line=i + k + 1) from None
        bad = [n + 1 for n, v in enumerate(numbers) if not abs(v) <= FLOAT32_MAX]
        if bad:
            raise FormatError(
                path, f"field {bad[0]}: {fields[bad[0] - 1][:20]!r} is not a finite float32 number "
                "(expected finite joint values)", line=i + k + 1,
            )  # fmt: skip
    raise FormatError(path, "malformed joint block", line=i + 1)


def parse_ntu_tracks(path: str | Path) -> tuple[int, dict[str, _Track]]:
    """Read a raw file into per-bodyID tracks: ``(frame count, {bodyID: track})``."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="ascii", errors="strict").splitlines()
    except UnicodeDecodeError as exc:
        raise FormatError(path, f"not a text file ({exc.reason})") from None
    frames = _int_line(path, lines, 0, "the frame count")
    if frames < 0:
        raise FormatError(path, f"frame count {frames}: expected a count >= 0", line=1)
    if frames > len(lines) - 1:  # each frame needs at least its body-count line: refuse before looping
        raise FormatError(path, f"declares {frames} frames but has only {len(lines) - 1} more lines (truncated?)", line=1)
    tracks: dict[str, _Track] = {}
    i = 1
    for t in range(frames):
        bodies = _int_line(path, lines, i, f"the body count of frame {t + 1}")
        i += 1
        for _ in range(bodies):
            if i >= len(lines):
                raise FormatError(path, "file ends early: expected a body info line", line=i + 1)
            info = lines[i].split()
            if len(info) != 10:
                raise FormatError(path, f"expected 10 body info fields, got {len(info)}", line=i + 1)
            joints = _int_line(path, lines, i + 1, "the joint count")
            if joints != V:
                raise FormatError(path, f"expected {V} joints, got {joints}", line=i + 2)
            block = _joint_block(path, lines, i + 2)
            track = tracks.setdefault(info[0], _Track([], []))
            track.frames.append(t)
            track.rows.append(block)
            i += 2 + V
    if any(line.strip() for line in lines[i:]):
        raise FormatError(path, f"unexpected data after the {frames} declared frames", line=i + 1)
    return frames, tracks


def _is_object(rows: np.ndarray) -> bool:
    """``rows`` ``(n, 25, 12)``: wider than tall in most frames -> not a person."""
    xyz = rows[..., :3]
    spread = xyz.max(axis=1) - xyz.min(axis=1)  # (n, 3)
    noisy = spread[:, 0] > SPREAD_RATIO * spread[:, 1]
    return float(noisy.mean()) > NOISY_FRAME_FRACTION


def select_bodies(tracks: dict[str, _Track], max_bodies: int = 2) -> list[list[str]]:
    """Apply the module's body-selection rule; returns bodyIDs per slot (slot 0 = main actor)."""
    if not tracks:
        return []
    arrays = {bid: np.stack(tr.rows) for bid, tr in tracks.items()}
    people = [
        bid for bid, tr in tracks.items() if len(tr.frames) >= MIN_BODY_FRAMES and not _is_object(arrays[bid])
    ]
    if not people:
        people = [max(tracks, key=lambda b: len(tracks[b].frames))]
    motion = {bid: float(np.var(arrays[bid][..., :3], axis=0).sum()) for bid in people}
    slots: list[list[str]] = []
    used: list[set[int]] = []
    for bid in sorted(people, key=lambda b: -motion[b]):
        frames = set(tracks[bid].frames)
        for k, occupied in enumerate(used):
            if not occupied & frames:
                slots[k].append(bid)
                occupied |= frames
                break
        else:
            slots.append([bid])
            used.append(set(frames))
    for slot in slots:
        slot.sort(key=lambda b: tracks[b].frames[0])

    def slot_motion(slot: list[str]) -> float:
        return float(np.var(np.concatenate([arrays[b][..., :3] for b in slot]), axis=0).sum())

    # a person split over several bodyIDs moves more as a whole than any piece: rank merged slots
    slots.sort(key=lambda slot: -slot_motion(slot))
    slots = slots[:max_bodies]
    return slots


def read_ntu_skeleton_full(path: str | Path, max_bodies: int = 2) -> NtuSkeleton:
    """Raw ``.skeleton`` -> :class:`NtuSkeleton` with at most ``max_bodies`` bodies (M >= 1)."""
    frames, tracks = parse_ntu_tracks(path)
    if not tracks:  # NTU lists several hundred such "samples with missing skeletons"
        raise FormatError(path, f"no body in any of its {frames} frames (missing skeleton)")
    slots = select_bodies(tracks, max_bodies)
    m = max(1, len(slots))
    raw = np.full((frames, m, V, 12), np.nan, dtype=np.float64)
    tracking = np.full((frames, m, V), -1, dtype=np.int8)
    for k, slot in enumerate(slots):
        for bid in slot:
            tr = tracks[bid]
            raw[tr.frames, k] = np.stack(tr.rows)
            tracking[tr.frames, k] = np.stack(tr.rows)[..., 11].astype(np.int8)
    missing = np.all(raw[..., :3] == 0, axis=-1)
    raw[missing] = np.nan
    return NtuSkeleton(
        xyz=raw[..., 0:3].astype(np.float32),
        color_xy=raw[..., 5:7].astype(np.float32),
        depth_xy=raw[..., 3:5].astype(np.float32),
        tracking=tracking,
        body_ids=tuple(tuple(s) for s in slots),
    )


def read_ntu_skeleton(path: str | Path, max_bodies: int = 2) -> np.ndarray:
    """Raw ``.skeleton`` -> ``(T, M, 25, 3)`` float32 (``M = min(max_bodies, people)``, at least 1)."""
    return read_ntu_skeleton_full(path, max_bodies).xyz


def parse_ntu_name(name: str) -> dict[str, int] | None:
    """``S001C002P003R002A013`` -> setup, camera, performer, replication, action (1-based); else None."""
    match = NTU_NAME.fullmatch(name)
    if not match:
        return None
    keys = ("setup", "camera", "performer", "replication", "action")
    return dict(zip(keys, map(int, match.groups()), strict=True))


def _zeros_to_nan(seq: np.ndarray) -> np.ndarray:
    """``(T, M, V, 3)``: joints that are exactly zero are missing."""
    out = seq.astype(np.float32, copy=True)
    out[np.all(out == 0, axis=-1)] = np.nan
    return out


def _ntu_sample(name: str, label: int, seq: np.ndarray, path: str) -> Sample:
    info = parse_ntu_name(name) or {}
    return Sample(
        name=name, dataset="ntu", label=label, subject=info.get("performer"), fps=FPS["ntu"],
        path=path, source=seq, meta=info,
    )  # fmt: skip


def read_pyskl_pickle(path: str | Path, *, trusted: bool = False) -> tuple[list[Sample], dict[str, list[str]]]:
    """A pyskl 3D annotation pickle (``{'split': {...}, 'annotations': [...]}``, each annotation with
    ``frame_dir``, ``label`` (0-based) and ``keypoint`` ``(M, T, 25, 3)``) -> samples and splits.

    ``trusted=True`` is required: unpickling runs code from the file.
    """
    path = Path(path)
    if not trusted:
        raise ValueError(f"{path}: refusing to unpickle; pass trusted=True only for files you trust")
    with open(path, "rb") as fh:
        data = pickle.load(fh)  # noqa: S301 - explicitly trusted input (see docstring)
    if not isinstance(data, dict) or "annotations" not in data:
        raise FormatError(path, "expected a dict with 'annotations' (pyskl format)")
    samples = []
    for k, ann in enumerate(data["annotations"]):
        try:
            kp = np.asarray(ann["keypoint"], dtype=np.float32)
            name, label = str(ann["frame_dir"]), int(ann["label"])
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(path, f"annotation {k}: {exc!r}; expected frame_dir, label, keypoint") from None
        if kp.ndim != 4 or kp.shape[2:] != (V, 3):
            raise FormatError(path, f"annotation {k} ({name}): keypoint shape {kp.shape}, expected (M, T, 25, 3)")
        samples.append(_ntu_sample(name, label, _zeros_to_nan(kp.transpose(1, 0, 2, 3)), str(path)))
    splits = {str(k): [str(n) for n in v] for k, v in dict(data.get("split", {})).items()}
    return samples, splits


def read_ctrgcn_npz(path: str | Path, split: str = "train") -> list[Sample]:
    """A CTR-GCN NTU ``.npz`` (``x_<split>`` ``(N, T, 150)`` = 2 bodies x 25 x 3, ``y_<split>``
    one-hot ``(N, C)``) -> samples named ``<split>_<index:06d>`` (the file keeps no names).

    Zero padding frames at the end are trimmed; all-zero bodies and joints become NaN.
    """
    path = Path(path)
    try:
        check_npy_sizes(path, verify=False)  # a header claiming more than the file holds; NTU's x_train is 7 GB
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array")
        with npz:
            if f"x_{split}" not in npz or f"y_{split}" not in npz:
                raise FormatError(path, f"expected arrays x_{split} and y_{split}, found {sorted(npz.files)}")
            x, y = npz[f"x_{split}"], npz[f"y_{split}"]
    except FormatError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:  # ValueError: pickled/not npz
        raise FormatError(path, f"not a readable CTR-GCN .npz archive ({exc}); expected x_{split} and y_{split}") from None
    if y.ndim not in (1, 2) or x.ndim != 3 or not x.shape[-1] or x.shape[-1] % (V * 3) or x.shape[1] < 1 \
            or len(x) != len(y) or x.dtype.kind not in "iuf" or y.dtype.kind not in "biuf" or 0 in y.shape[1:] \
            or (y.ndim == 1 and not (np.isfinite(y) & (y >= 0) & (y == np.round(y))).all()):  # fmt: skip
        raise FormatError(path, f"x_{split} {x.shape} {x.dtype} / y_{split} {y.shape} {y.dtype}: expected real "
                                "(N, T>=1, M*75) with M >= 1, and labels (N,) or one-hot (N, C)")  # fmt: skip
    labels = y.argmax(axis=1) if y.ndim == 2 else y.astype(int)
    m = x.shape[-1] // (V * 3)
    samples = []
    for i in range(len(x)):
        seq = x[i].reshape(x.shape[1], m, V, 3)
        if (np.abs(seq) > FLOAT32_MAX).any():  # inf, or inf once float32 (NaN compares False: kept as missing)
            raise FormatError(path, f"x_{split}[{i}]: infinite or beyond float32's range (expected finite coordinates)")
        alive = np.flatnonzero((np.abs(seq) > 0).any(axis=(1, 2, 3)))  # no sum: 3e38 + 3e38 overflows
        seq = seq[: alive[-1] + 1] if alive.size else seq[:1]
        samples.append(_ntu_sample(f"{split}_{i:06d}", int(labels[i]), _zeros_to_nan(seq), ""))
    return samples
