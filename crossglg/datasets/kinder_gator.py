"""Kinder-Gator reader: ``POSE-pPID_NN-Motion-Name-TIMESTAMP.csv`` -> ``(T, 1, 25, 3)`` float32, NTU-25.

One row per frame; the header names the columns: ``Timestamp`` (milliseconds), then
``<Joint>X,<Joint>Y,<Joint>Z`` for the 20 Kinect v1 joints (:data:`KINECT_V1_JOINTS`), then
``User-ID,Action`` (and a trailing empty column from the trailing comma). Columns are found by
name, not position. Coordinates are Kinect v1 skeleton space (metres, y up, x to the sensor's
left, labels anatomical: checked on the data, see docs/datasets.md), mapped to NTU-25 with
:func:`~crossglg.skeleton.mappings.from_kinect_v1`. All-zero joints are NaN.

Frame rate: the median spacing of the timestamps is 32 ms with jitter (30-38 ms, a few 0 ms
repeats), and the mean over each trial is 33.35 ms, i.e. 30.0 fps (the Kinect v1 rate).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from crossglg.skeleton.mappings import from_kinect_v1

from .readers import _finalize
from .sample import FormatError

# Kinect v1 SDK joint names in SDK order (= NTU joints 1-20).
KINECT_V1_JOINTS: tuple[str, ...] = (
    "HipCenter", "Spine", "ShoulderCenter", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
)  # fmt: skip
TIME_COLUMN = "Timestamp"
XYZ_COLUMNS: tuple[str, ...] = tuple(f"{j}{a}" for j in KINECT_V1_JOINTS for a in "XYZ")


def _parse(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(timestamps (T,) ms, xyz (T, 20, 3))`` float64; :class:`FormatError` names line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(path, f"not a UTF-8 CSV file ({exc.reason} at byte {exc.start})") from None
    lines = text.splitlines()
    quoted = '"' in text  # quoted fields: let the csv module split them
    rows = list(csv.reader(io.StringIO(text))) if quoted else [line.split(",") for line in lines]
    if not rows or not any(f.strip() for f in rows[0]):
        raise FormatError(path, f"empty file (expected a header {TIME_COLUMN},HipCenterX,...)", line=1)
    header = [f.strip() for f in rows[0]]
    missing = [c for c in (TIME_COLUMN, *XYZ_COLUMNS) if c not in header]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise FormatError(
            path,
            f"header lacks column(s) {shown} (expected {TIME_COLUMN} and X/Y/Z of 20 Kinect v1 joints)",
            line=1,
        )
    cols = [header.index(c) for c in (TIME_COLUMN, *XYZ_COLUMNS)]
    body = [(k + 1, r) for k, r in enumerate(rows) if k and any(f.strip() for f in r)]
    if not body:
        raise FormatError(path, "no frames after the header", line=2)
    width = len(header)
    for lineno, r in body:
        if len(r) != width:
            raise FormatError(
                path, f"expected {width} fields as in the header, got {len(r)} (truncated line?)", line=lineno
            )
    try:  # numpy's C parser over the named columns; the loop below only runs to name a bad field
        if quoted:
            table = np.array([[float(r[c]) for c in cols] for _, r in body], dtype=np.float64)
        else:
            table = np.loadtxt([lines[k - 1] for k, _ in body], delimiter=",", usecols=cols, ndmin=2)
    except ValueError:
        for lineno, r in body:
            for c in cols:
                try:
                    float(r[c])
                except ValueError:
                    raise FormatError(
                        path, f"column {header[c]}: non-numeric value {r[c][:30]!r}", line=lineno
                    ) from None
        raise
    return table[:, 0], table[:, 1:].reshape(-1, len(KINECT_V1_JOINTS), 3)


def read_kinder_gator_csv(path: str | Path) -> np.ndarray:
    """Kinder-Gator trial ``.csv`` -> ``(T, 1, 25, 3)`` float32 metres, NTU-25 order."""
    path = Path(path)
    _, xyz = _parse(path)
    return from_kinect_v1(_finalize(path, xyz))


def kinder_gator_timestamps(path: str | Path) -> np.ndarray:
    """The ``Timestamp`` column ``(T,)`` float64, in milliseconds."""
    return _parse(Path(path))[0]
