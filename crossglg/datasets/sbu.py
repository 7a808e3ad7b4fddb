"""SBU Kinect Interaction reader: ``sAAsBB/CC/NNN/skeleton_pos.txt`` -> ``(T, 2, 25, 3)`` float32, NTU-25.

One line per frame, comma separated: the frame number, then 2 people x 15 OpenNI joints
(:data:`~crossglg.skeleton.layouts.SBU15` order) x ``(x', y', z')``, normalised by the source.
The source's inverse ``X = 1280 - 2560 x'``, ``Y = 960 - 1920 y'``, ``Z = 10000 z' / 7.8125``
gives **millimetres in camera space** (not pixels): measured on all 282 files (docs/datasets.md,
"SBU"), the 2D size of a body does not shrink with its depth (log-log slope -0.08 over 1.3-1.9 z'
units, where a projection would give -1), and bone lengths are most constant within a sequence
with exactly the source's three scales (median coefficient of variation 0.8%; a scale 4-7% off
gives 0.87-0.94%, a pinhole back-projection of x', y' as image fractions 3.5%). So no
intrinsics are needed: the reader applies that inverse and divides by 1000. Result: median
shoulder width 0.29-0.30 m, upper arm 0.28-0.30 m, thigh 0.42-0.43 m for either person, depth
1.0-3.2 m.

The axes are then Kinect camera axes (x to the sensor's left, y up, z away) with anatomical
labels, checked on the data (docs/datasets.md): "left x up" points toward the partner (whom each
person faces) in 515 of 564 person-sequences, punches are thrown with the labelled-right hand in
37/38 sequences, kicks with the right foot in 38/40, hands shaken right-to-right in 15/18. No
mirroring. Person order is the file's (slot 0 = the first 45 numbers of a line); it is not the
actor/receiver role: either slot may act.

Joints map to NTU-25 with :data:`~crossglg.skeleton.joint_maps.SBU15_TO_NTU` (the OpenNI-15 rules:
SBU's neck is the shoulders' midpoint and its torso the midpoint of neck and hip centre, exactly,
as in KARD). All-zero joints are NaN (none occur in the real files).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from crossglg.skeleton.joint_maps import SBU15_TO_NTU

from .sample import FormatError
from .text_table import read_number_table

PEOPLE = 2
JOINTS = 15
FIELDS = 1 + PEOPLE * JOINTS * 3
# Source inverse in millimetres: X = 1280 - 2560 x', Y = 960 - 1920 y', Z = 10000 z' / 7.8125.
OFFSET_MM = np.array([1280.0, 960.0, 0.0])
SCALE_MM = np.array([-2560.0, -1920.0, 10000.0 / 7.8125])
MM = 1e-3
MAX_FRAME_NUMBER = 2**31 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)
LAYOUT = "frame number, then 2 people x 15 joints x (x, y, z), comma separated"


def sbu_to_metres(normalised: np.ndarray) -> np.ndarray:
    """Normalised ``(..., 3)`` ``(x', y', z')`` -> camera-space metres ``(..., 3)`` (see module docstring)."""
    return (OFFSET_MM + SCALE_MM * np.asarray(normalised, dtype=np.float64)) * MM


def read_sbu_frames(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(frame numbers (T,) int64, normalised joints (T, 2, 15, 3) float64)`` as stored."""
    path = Path(path)
    table, lines = read_number_table(path, FIELDS, ",", LAYOUT)
    frames = table[:, 0]
    bad = np.flatnonzero((frames != np.round(frames)) | (np.abs(frames) > MAX_FRAME_NUMBER))
    if bad.size:
        raise FormatError(
            path, f"field 1: frame number {float(frames[bad[0]])!r} is not an integer of at most "
            f"{MAX_FRAME_NUMBER}", line=lines[bad[0]],
        )  # fmt: skip
    joints = table[:, 1:].reshape(-1, PEOPLE, JOINTS, 3)
    with np.errstate(over="ignore"):  # 1e308 * 2560 is inf: refused just below
        far = np.flatnonzero((np.abs(sbu_to_metres(joints)) > FLOAT32_MAX).any(axis=(1, 2, 3)))
    if far.size:  # would be inf once float32: refuse, naming the line
        raise FormatError(
            path, "a coordinate beyond float32's range in metres (expected normalised x', y', z' near 0..1)",
            line=lines[far[0]],
        )  # fmt: skip
    return frames.astype(np.int64), joints


def read_sbu_txt(path: str | Path) -> np.ndarray:
    """SBU ``skeleton_pos.txt`` -> ``(T, 2, 25, 3)`` float32 metres, NTU-25, Kinect camera axes."""
    _, raw = read_sbu_frames(path)
    missing = np.all(raw == 0, axis=-1)  # zero triples are missing joints, before the offset moves them
    xyz = sbu_to_metres(raw)
    xyz[missing] = np.nan
    return SBU15_TO_NTU.apply(xyz)


_NAME = re.compile(r"s([0-9]{2})s([0-9]{2})/([0-9]{2})/([0-9]{3})")


def sbu_name(path: Path, root: Path) -> tuple[str, int, int, dict]:
    """``.../sAAsBB/CC/NNN/skeleton_pos.txt`` -> ``("sAAsBB/CC/NNN", CC - 1, pair id, meta)``.

    The subject is the pair of people, unordered: ``100 * min(AA, BB) + max(AA, BB)`` (``s01s02``
    and ``s02s01`` hold the same two people: both are 102, so a subject split never puts one
    person pair on both sides). ``meta`` keeps the folder's order (``pair``, ``person_a``,
    ``person_b``), ``interaction`` (CC) and ``take`` (NNN). ``ValueError`` for another layout.
    """
    rel = "/".join(path.parts[-4:-1])
    m = _NAME.fullmatch(rel)
    if path.name != "skeleton_pos.txt" or not m:
        raise ValueError("expected sAAsBB/CC/NNN/skeleton_pos.txt (subject pair / interaction / take)")
    a, b, cc, take = map(int, m.groups())
    meta = {"pair": f"s{a:02d}s{b:02d}", "person_a": a, "person_b": b, "interaction": cc, "take": take}
    return rel, cc - 1, 100 * min(a, b) + max(a, b), meta
