"""Raw loaders for the core tests: small real recordings read with plain numpy/scipy/json.

The core tests read the raw files themselves (not through ``crossglg.datasets``) so that a bug in a
reader cannot hide a bug in a mapping, and the other way round.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def load_utd_raw(path: Path) -> np.ndarray:
    """UTD-MHAD ``d_skel`` (20, 3, T) -> ``(T, 20, 3)`` float32 in UTD joint order."""
    from scipy.io import loadmat

    return np.asarray(loadmat(str(path))["d_skel"], dtype=np.float32).transpose(2, 0, 1)


def load_ucla_raw(path: Path) -> np.ndarray:
    """NW-UCLA JSON ``skeletons`` -> ``(T, 20, 3)`` float32 in Kinect v1 order."""
    with open(path, encoding="utf-8") as fh:
        return np.asarray(json.load(fh)["skeletons"], dtype=np.float32)


def load_ntu_xyz(path: Path) -> np.ndarray:
    """First body of an NTU ``.skeleton`` file -> ``(T, 25, 3)`` float32 (camera space, metres)."""
    lines = Path(path).read_text().split("\n")
    i, frames = 1, []
    for _ in range(int(lines[0])):
        bodies = int(lines[i])
        i += 1
        joints_of_frame = None
        for _ in range(bodies):
            n = int(lines[i + 1])
            xyz = [[float(v) for v in lines[i + 2 + j].split()[:3]] for j in range(n)]
            joints_of_frame = joints_of_frame or xyz
            i += 2 + n
        frames.append(joints_of_frame)
    return np.asarray(frames, dtype=np.float32)
