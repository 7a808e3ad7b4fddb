"""Fuzzed edge skeleton files (edge.skeleton_files.load_skeleton_file): ``.npy`` / ``.npz`` arrays of any
dtype and shape, headers that lie (10^9 frames), damaged archives, odd ``fps`` members, and damaged
real dataset files through the same entry point (``--skeleton FILE``)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fuzz_helpers import Source, check_read, fuzz_settings, mutated_bytes, mutated_text, weird_floats, write
from hypothesis import example, given
from hypothesis import strategies as st
from numpy.lib import format as npformat

from edge.errors import SourceError
from edge.skeleton_files import SkeletonRecording, load_skeleton_file

_SHAPES = st.sampled_from(((4, 1, 25, 3), (4, 25, 3), (1, 2, 25, 3), (4, 1, 24, 3), (4, 1, 25, 2), (0, 1, 25, 3),
                           (4, 0, 25, 3), (25, 3), (4, 1, 25, 3, 1), (), (3,)))  # fmt: skip
_DTYPES = st.sampled_from(("float32", "float32", "float64", "float16", "int16", "uint8", "bool", "complex64",
                           "U3", "S2", "m8[s]", "M8[D]", "V12", "f4,f4,f4", ">f8"))  # fmt: skip


def _recording(rec: SkeletonRecording) -> SkeletonRecording:
    assert isinstance(rec, SkeletonRecording)
    j = rec.joints
    assert j.dtype == np.float32 and j.ndim == 4 and j.shape[2:] == (25, 3) and min(j.shape[:2]) >= 1
    assert not np.isinf(j).any()
    assert isinstance(rec.fps, float) and np.isfinite(rec.fps) and rec.fps > 0
    if rec.image_xy is not None:
        assert rec.image_xy.shape == (*j.shape[:3], 2)
    if rec.visibility is not None:
        assert rec.visibility.shape == j.shape[:3]
    assert len(rec.body_ids) == j.shape[1]
    return rec


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape, dtype = draw(_SHAPES), np.dtype(draw(_DTYPES))
    arr = np.zeros(shape, dtype=dtype)
    if dtype.kind in "fiu" and arr.size:
        with np.errstate(over="ignore", invalid="ignore"):  # 1e39 into float16 is inf: a case like any other
            arr[...] = rng.normal(size=shape).astype(dtype)
            for _ in range(draw(st.integers(0, 3))):
                arr.flat[int(rng.integers(arr.size))] = draw(weird_floats()) if dtype.kind == "f" else 7
    return arr


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _lying_npy(shape: tuple[int, ...], dtype: str = "<f4", payload: int = 100) -> bytes:
    """A ``.npy`` whose header declares ``shape`` but holds ``payload`` bytes."""
    buf = io.BytesIO()
    npformat.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * payload


def _npz_bytes(members: dict[str, bytes], compress: bool) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name + ".npy", data)
    return buf.getvalue()


_FPS = st.one_of(weird_floats().map(np.float64), st.sampled_from((np.array([30.0, 30.0]), np.array("30"),
                 np.array(30 + 1j), np.int64(-3), np.array([]), np.bool_(True))))  # fmt: skip
_HUGE = st.sampled_from(((10**9, 25, 3), (10**9, 1, 25, 3), (10**7, 1, 25, 3), (2**62, 25, 3), (10**18, 10**18)))


@st.composite
def numpy_files(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(("npy", "npy", "npz", "npz", "lying npy", "lying npz", "damaged")))
    if kind == "npy":
        return ".npy", _npy_bytes(draw(arrays()))
    if kind == "lying npy":
        return ".npy", _lying_npy(draw(_HUGE), draw(st.sampled_from(("<f4", "<f8", "|u1"))))
    members: dict[str, bytes] = {}
    name = draw(st.sampled_from(("joints", "joints", "x", "joints.npy")))
    members[name] = _lying_npy(draw(_HUGE)) if kind == "lying npz" else _npy_bytes(draw(arrays()))
    if draw(st.booleans()):
        members["fps"] = _npy_bytes(np.asarray(draw(_FPS)))
    if draw(st.integers(0, 4)) == 0:
        members["other"] = _npy_bytes(np.arange(3))
    data = _npz_bytes(members, draw(st.booleans()))
    if kind == "damaged":
        data = draw(mutated_bytes(data))
    return draw(st.sampled_from((".npz", ".npy"))) if kind == "damaged" else ".npz", data


def _broken_deflate() -> bytes:
    """A compressed ``.npz`` whose deflate stream is broken (zlib.error, not a CRC mismatch)."""
    data = bytearray(_npz_bytes({"joints": _npy_bytes(np.random.default_rng(0).normal(size=(40, 25, 3)))}, True))
    data[60] ^= 0xFF  # inside the first deflate block: "invalid literal/lengths set"
    return bytes(data)


@fuzz_settings(200)
@given(case=numpy_files(), override=st.sampled_from((None, None, 15.0)))
@example(case=(".npz", _broken_deflate()), override=None)  # regression: zlib.error escaped
@example(case=(".npy", b""), override=None)  # regression (issue 14): EOFError traceback
@example(case=(".npy", _lying_npy((10**9, 25, 3))), override=None)  # regression: MemoryError (279 GiB asked)
@example(case=(".npz", _npz_bytes({"joints": _lying_npy((10**9, 1, 25, 3))}, True)), override=None)  # regression
@example(case=(".npy", _npy_bytes(np.ones((3, 25, 3), np.complex64))), override=None)  # regression: ComplexWarning
@example(case=(".npy", _npy_bytes(np.ones((3, 25, 3), "m8[s]"))), override=None)  # regression: timedelta accepted
@example(case=(".npz", _npz_bytes({"joints": _npy_bytes(np.ones((3, 25, 3))), "fps": _npy_bytes(np.array(30 + 1j))},
                                  False)), override=None)  # fmt: skip
def test_numpy_skeleton_files(case: tuple[str, bytes], override: float | None, fuzz_dir: Path) -> None:
    suffix, data = case
    path = write(fuzz_dir / "edge_np" / f"clip{suffix}", data)
    check_read("edge .npy/.npz skeleton", lambda p: load_skeleton_file(p, fps=override), path, (SourceError,),
               validate=_recording)  # fmt: skip


REAL = {
    ".skeleton": ("ntu_sample/S001C001P001R001A001.skeleton", 1 + 12 * 28),
    ".json": ("nw_ucla/all_sqe/a01_s01_e00_v01.json", None),
    ".txt": ("gtu3d/1/movement1.txt", 25 * 4),
    ".csv": ("irds/CSVData/215_18_0_1_1_stand.csv", 1 + 25 * 3),
}


@pytest.fixture(scope="module")
def real_texts(data_dir: Path) -> dict[str, Source]:
    out = {}
    for suffix, (rel, keep) in REAL.items():
        lines = (data_dir / rel).read_text(encoding="utf-8").splitlines(keepends=True)
        if suffix == ".skeleton":
            lines[0] = "12\n"
        out[suffix] = Source("".join(lines[:keep] if keep else lines), rel)
    return out


@pytest.mark.realdata
@fuzz_settings(80)
@given(data=st.data())
def test_damaged_real_files_through_the_edge(data, real_texts: dict[str, Source], data_dir: Path,
                                              fuzz_dir: Path) -> None:  # fmt: skip
    """``--skeleton`` with a damaged real file of each text format, and UTD ``.mat``: a recording or one
    :class:`SourceError` line naming the file."""
    suffix = data.draw(st.sampled_from((*REAL, ".mat")), label="format")
    if suffix == ".mat":
        raw = data.draw(mutated_bytes((data_dir / "utd_mhad/Skeleton/a1_s1_t1_skeleton.mat").read_bytes()))
    else:
        raw = data.draw(mutated_text(real_texts[suffix]), label="case")
    path = write(fuzz_dir / "edge_real" / f"clip{suffix}", raw)
    check_read("edge --skeleton (dataset formats)", load_skeleton_file, path, (SourceError,), validate=_recording)
