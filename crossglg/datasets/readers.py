"""Readers for the small Kinect datasets, each returning ``(T, 1, 25, 3)`` float32 in NTU-25 order.

- UTD-MHAD ``.mat`` (variable ``d_skel`` ``(20, 3, T)``, UTD joint order) -> ``from_utd_mhad``.
- NW-UCLA ``.json`` (``skeletons`` ``[T][20][3]``, Kinect v1 order) -> ``from_kinect_v1``.
- GTU 3D ``.txt`` (``T * 25`` lines ``x y z``, Kinect v2 = NTU order).
- IRDS ``.csv`` (one row per frame and joint, named Kinect v2 joints; a frame is the run of rows
  sharing the three timestamps).

All coordinates stay in the sensor's camera space (metres, y up). Missing joints are NaN: all-zero
joints in every format, and IRDS joints with ``TrackingStatus`` ``NotTracked`` (``Inferred``
joints are kept: Kinect's estimate is usually close). Malformed files raise :class:`FormatError`
naming the file and, for text formats, the line.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from crossglg.skeleton.layouts import NTU25
from crossglg.skeleton.mappings import from_kinect_v1, from_utd_mhad

from .sample import FormatError
from .text_table import read_joint_lines

V = NTU25.num_joints


def _finalize(path: Path, seq: np.ndarray) -> np.ndarray:
    """``(T, J, 3)`` -> ``(T, 1, J, 3)`` float32 with zero joints as NaN; rejects inf and empty."""
    with np.errstate(over="ignore"):  # values beyond float32's range become inf: refused below
        seq = np.asarray(seq, dtype=np.float32)
    if seq.shape[0] == 0:
        raise FormatError(path, "no frames (expected at least one)")
    bad = np.isinf(seq)
    if bad.any():
        t, j, _ = (int(i) for i in np.argwhere(bad)[0])
        raise FormatError(
            path, f"frame {t + 1}, joint {j + 1}: infinite or beyond float32's range (expected finite coordinates)"
        )
    seq = seq.copy()
    seq[np.all(seq == 0, axis=-1)] = np.nan
    return seq[:, None]


def read_utd_mat(path: str | Path) -> np.ndarray:
    """UTD-MHAD ``a*_s*_t*_skeleton.mat`` -> ``(T, 1, 25, 3)``."""
    from scipy.io import loadmat  # scipy is only needed for this format

    path = Path(path)
    try:
        mat = loadmat(str(path), variable_names=["d_skel"])
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, MatReadError...
        raise FormatError(path, f"cannot read MATLAB file ({type(exc).__name__}: {exc})") from None
    if "d_skel" not in mat:
        raise FormatError(path, "no variable 'd_skel' (expected a (20, 3, T) skeleton array)")
    d = mat["d_skel"]
    real = np.issubdtype(d.dtype, np.integer) or np.issubdtype(d.dtype, np.floating)  # not complex, bool, text
    if d.ndim != 3 or d.shape[:2] != (20, 3) or not real:
        raise FormatError(path, f"d_skel has shape {d.shape} dtype {d.dtype}, expected real numbers (20, 3, T)")
    joints = _finalize(path, d.transpose(2, 0, 1))
    return from_utd_mhad(joints)


def read_nwucla_json(path: str | Path) -> np.ndarray:
    """NW-UCLA ``a*_s*_e*_v*.json`` -> ``(T, 1, 25, 3)``."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise FormatError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    except UnicodeDecodeError as exc:
        raise FormatError(path, f"not UTF-8 text ({exc.reason})") from None
    except RecursionError:
        raise FormatError(path, "JSON nested too deeply (expected an object with 'skeletons' [T][20][3])") from None
    frames = data.get("skeletons") if isinstance(data, dict) else None
    if not isinstance(frames, list):
        raise FormatError(path, "expected an object with a 'skeletons' list [T][20][3]")
    try:  # float64: beyond float32 is refused by _finalize, not a cast warning; 1e400 ints overflow
        arr = np.asarray(frames, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        arr = None
    if arr is None or arr.shape[1:] != (20, 3):
        for t, frame in enumerate(frames):  # slow path only to say which frame is wrong
            try:
                one = np.asarray(frame, dtype=np.float64)
            except (ValueError, TypeError, OverflowError):
                raise FormatError(path, f"frame {t}: non-numeric or out-of-range joint values (expected numbers)") from None
            if one.shape != (20, 3):
                raise FormatError(path, f"frame {t}: shape {one.shape}, expected (20, 3)")
        if arr is None or arr.ndim != 3:
            raise FormatError(path, "no frames" if not frames else "malformed skeletons")
    return from_kinect_v1(_finalize(path, arr))


def read_gtu_txt(path: str | Path) -> np.ndarray:
    """GTU 3D ``movementN.txt`` (``T * 25`` lines ``x y z``) -> ``(T, 1, 25, 3)``."""
    path = Path(path)
    return _finalize(path, read_joint_lines(path, V))


IRDS_COLUMNS = ("Timestamp1", "Timestamp2", "Timestamp3", "JointName", "TrackingStatus", "X", "Y", "Z")
_IRDS_STATES = {"Tracked": True, "Inferred": True, "NotTracked": False}
_NTU_INDEX = {name: j for j, name in enumerate(NTU25.joints)}


def read_irds_csv(path: str | Path) -> np.ndarray:
    """IntelliRehabDS raw ``.csv`` -> ``(T, 1, 25, 3)`` (joint names are Kinect v2 = NTU names)."""
    path = Path(path)
    fast = _irds_fast(path)
    return fast if fast is not None else _irds_checked(path)


def _irds_fast(path: Path) -> np.ndarray | None:
    """Vectorised reader for the usual layout (no quoting, frames of 25 rows in NTU joint order).
    Returns ``None`` whenever anything is unusual; :func:`_irds_checked` then reads (or explains)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        return None
    if len(lines) < 1 + V or '"' in lines[0]:
        return None
    header = lines[0].split(",")
    if any(c not in header for c in IRDS_COLUMNS):
        return None
    rows = [line.split(",") for line in lines[1:] if line]
    if len(rows) % V or any(len(r) != len(header) for r in rows):
        return None
    table = np.array(rows, dtype=object)
    cols = [header.index(c) for c in IRDS_COLUMNS]
    t1, t2, t3, names, states = (table[:, c].reshape(-1, V) for c in cols[:5])
    if not (names == np.array(NTU25.joints, dtype=object)).all():
        return None
    for stamp in (t1, t2, t3):
        if not (stamp == stamp[:, :1]).all():
            return None
    keys = list(zip(t1[:, 0], t2[:, 0], t3[:, 0], strict=True))
    if any(a == b for a, b in zip(keys[:-1], keys[1:], strict=True)):
        return None  # two frames with one stamp: let the checked reader report it
    if not np.isin(states, list(_IRDS_STATES)).all():
        return None
    try:
        xyz = table[:, cols[5:]].astype(np.float64).reshape(-1, V, 3)
    except ValueError:
        return None
    xyz[states == "NotTracked"] = 0.0  # zero = missing, see _finalize
    return _finalize(path, xyz)


def _irds_checked(path: Path) -> np.ndarray:
    """Row-by-row IRDS reader: any joint order; errors name the line."""
    try:
        return _irds_rows(path)
    except UnicodeDecodeError as exc:
        raise FormatError(path, f"not a UTF-8 CSV file ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise FormatError(path, f"not a readable CSV file ({exc})") from None


def _irds_rows(path: Path) -> np.ndarray:
    frames: list[np.ndarray] = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise FormatError(path, "empty file", line=1)
        missing = [c for c in IRDS_COLUMNS if c not in header]
        if missing:
            raise FormatError(path, f"header lacks columns {missing} (expected {', '.join(IRDS_COLUMNS)})", line=1)
        col = {c: header.index(c) for c in IRDS_COLUMNS}
        width = len(header)
        stamp, frame, start = None, None, 0
        seen: set[int] = set()
        for row in reader:
            lineno = reader.line_num
            if not row:
                continue
            if len(row) != width:
                raise FormatError(path, f"expected {width} fields, got {len(row)}", line=lineno)
            key = (row[col["Timestamp1"]], row[col["Timestamp2"]], row[col["Timestamp3"]])
            if key != stamp:
                if frame is not None and len(seen) != V:
                    raise FormatError(path, f"frame has {len(seen)} joints, expected {V}", line=start)
                stamp, frame, start = key, np.full((V, 3), np.nan), lineno
                seen = set()
                frames.append(frame)
            name, state = row[col["JointName"]], row[col["TrackingStatus"]]
            j = _NTU_INDEX.get(name)
            if j is None:
                raise FormatError(path, f"unknown joint name {name!r}", line=lineno)
            if j in seen:
                raise FormatError(path, f"joint {name} twice in one frame (expected each joint once per timestamp)", line=lineno)
            if state not in _IRDS_STATES:
                raise FormatError(path, f"unknown TrackingStatus {state!r}, expected {list(_IRDS_STATES)}", line=lineno)
            try:
                xyz = [float(row[col[c]]) for c in ("X", "Y", "Z")]
            except ValueError:
                raise FormatError(path, "non-numeric X/Y/Z", line=lineno) from None
            frame[j] = xyz if _IRDS_STATES[state] else (0.0, 0.0, 0.0)  # zero = missing, see _finalize
            seen.add(j)
        if frame is not None and len(seen) != V:
            raise FormatError(path, f"last frame has {len(seen)} joints, expected {V} (truncated?)", line=start)
    if not frames:
        raise FormatError(path, "no frames", line=2)
    return _finalize(path, np.stack(frames))
