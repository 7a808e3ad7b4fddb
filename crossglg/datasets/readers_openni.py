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
from .text_table import read_joint_lines

MM = 1e-3
# OpenNI real-world (x right, y up, z forward) -> Kinect camera space (x left, y up, z forward).
OPENNI_TO_KINECT_AXES = np.array([-1.0, 1.0, 1.0])


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
