"""Readers for the 15-joint OpenNI/NiTE text datasets, returning ``(T, 1, 25, 3)`` float32, NTU-25 order.

Both formats are plain text, one joint per line ``x y z`` in millimetres, 15 lines per frame:

- KARD ``aAA_sSS_eEE_realworld.txt`` (:data:`~crossglg.skeleton.layouts.KARD15` order). OpenNI's
  real-world axes have x growing to the sensor's *right* (a left-handed frame): as recorded, a
  body's labelled-left shoulder lies at larger x and "left x up" points away from the camera in
  98% of frames. The joint labels themselves are anatomical (the labelled-right arm performs all
  30 trials of every one-handed throw, draw, wave, phone and drink class, and the labelled-right
  leg all 60 kicks), so the reader negates x (Kinect camera axes: x to the sensor's left) and
  keeps the labels.
- Florence 3D ``aAA_sS_idN.txt`` (:data:`~crossglg.skeleton.layouts.FLORENCE15` order, verified
  on the data). Already in Kinect-like camera axes (left shoulder at smaller x, "left x up"
  towards the camera in 98% of frames): only mm -> m.

Both map to NTU-25 with :mod:`crossglg.skeleton.joint_maps` (10 derived joints). Missing
(all-zero) joints are NaN. Malformed files raise :class:`FormatError` naming the file and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossglg.skeleton.joint_maps import FLORENCE15_TO_NTU, KARD15_TO_NTU, JointMap

from .readers import _finalize
from .sample import FormatError

MM = 1e-3
# OpenNI real-world (x right, y up, z forward) -> Kinect camera space (x left, y up, z forward).
OPENNI_TO_KINECT_AXES = np.array([-1.0, 1.0, 1.0])


def read_joint_lines(path: str | Path, joints: int) -> np.ndarray:
    """Text with one ``x y z`` line per joint, ``joints`` lines per frame -> ``(T, joints, 3)`` float64.

    Blank lines are ignored. Raises :class:`FormatError` for non-text content, a line without
    exactly 3 numbers (naming the line) and a joint count that is not a whole number of frames.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise FormatError(
            path, f"not a text file of 'x y z' lines ({exc.reason} at byte {exc.start})"
        ) from None
    tokens = text.split()
    values = None
    numbered = [(k + 1, line) for k, line in enumerate(text.splitlines()) if line.strip()]
    if len(tokens) == 3 * len(numbered):
        try:
            values = np.array(tokens, dtype=np.float64)
        except ValueError:
            values = None
    if values is None:  # slow path only to say which line is wrong
        for lineno, line in numbered:
            fields = line.split()
            if len(fields) != 3:
                hint = " (truncated?)" if lineno == numbered[-1][0] and len(fields) < 3 else ""
                raise FormatError(
                    path, f"expected 3 numbers (x y z), got {len(fields)}{hint}: {line[:60]!r}", line=lineno
                )
            try:
                [float(f) for f in fields]
            except ValueError:
                raise FormatError(path, f"non-numeric value in {line[:60]!r}", line=lineno) from None
    if not numbered:
        raise FormatError(path, f"no joint lines (expected {joints} 'x y z' lines per frame)", line=1)
    if len(numbered) % joints:
        raise FormatError(
            path,
            f"{len(numbered)} joint lines is not a whole number of {joints}-joint frames "
            f"(last frame has {len(numbered) % joints}; truncated?)",
            line=numbered[-1][0],
        )
    return values.reshape(-1, joints, 3)


def _read_openni(path: str | Path, mapping: JointMap, axes: np.ndarray) -> np.ndarray:
    path = Path(path)
    raw = read_joint_lines(path, mapping.source.num_joints)
    joints = _finalize(path, raw)  # (T, 1, 15, 3), zero joints NaN
    return mapping.apply(joints * (MM * axes).astype(np.float32))


def read_kard_txt(path: str | Path) -> np.ndarray:
    """KARD ``a*_s*_e*_realworld.txt`` (mm, OpenNI axes) -> ``(T, 1, 25, 3)`` metres, Kinect axes."""
    return _read_openni(path, KARD15_TO_NTU, OPENNI_TO_KINECT_AXES)


def read_florence_txt(path: str | Path) -> np.ndarray:
    """Florence 3D ``a*_s*_id*.txt`` (mm, camera axes) -> ``(T, 1, 25, 3)`` metres."""
    return _read_openni(path, FLORENCE15_TO_NTU, np.ones(3))
