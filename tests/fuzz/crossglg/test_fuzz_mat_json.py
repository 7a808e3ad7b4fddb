"""Fuzzed UTD-MHAD ``.mat`` (scipy) and NW-UCLA ``.json`` readers: damaged real files and generated ones
(wrong dtype, shape, complex/bool/text/cell variables, NaN/inf, a dims field claiming 10^9 frames,
JSON with NaN literals, 400-digit numbers, deep nesting)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from fuzz_helpers import Source, check_read, fuzz_settings, mutated_bytes, mutated_text, weird_floats, write
from hypothesis import example, given
from hypothesis import strategies as st

from crossglg.datasets import FormatError, read_nwucla_json, read_utd_mat

UTD_FILES = ("utd_mhad/Skeleton/a10_s1_t1_skeleton.mat", "utd_mhad/Skeleton/a1_s1_t1_skeleton.mat")
UCLA_FILE = "nw_ucla/all_sqe/a01_s01_e00_v01.json"


class Blob(bytes):
    """Bytes whose repr is a name (hypothesis prints fixture values of a failing case)."""

    def __new__(cls, data: bytes, name: str) -> Blob:
        obj = super().__new__(cls, data)
        obj.name = name
        return obj

    def __repr__(self) -> str:
        return f"<{self.name}: {len(self)} bytes>"


@pytest.fixture(scope="module")
def utd_blobs(data_dir: Path) -> list[Blob]:
    return [Blob((data_dir / rel).read_bytes(), rel) for rel in UTD_FILES]


def _savemat(variables: dict, compress: bool) -> bytes:
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, variables, do_compression=compress)
    return buf.getvalue()


def _claim_frames(mat: bytes, frames: int) -> bytes:
    """An uncompressed v5 file whose ``d_skel`` dims field says ``(20, 3, frames)`` (data unchanged)."""
    i = mat.find(struct.pack("<ii", 20, 3))
    assert i > 0
    return mat[: i + 8] + struct.pack("<i", frames) + mat[i + 12 :]


@pytest.mark.realdata
@fuzz_settings(120)
@given(data=st.data())
def test_damaged_real_utd_mat(data, utd_blobs: list[Blob], fuzz_dir: Path) -> None:
    real = data.draw(st.sampled_from(utd_blobs), label="real file")
    if data.draw(st.booleans(), label="inside the compressed stream"):
        # v5 files hold one zlib-compressed element per variable: damage what is inside it
        head, (kind, size) = real[:128], struct.unpack("<II", real[128:136])
        assert kind == 15
        inner = data.draw(mutated_bytes(zlib.decompress(real[136 : 136 + size])), label="inner")
        packed = zlib.compress(inner)
        raw = head + struct.pack("<II", 15, len(packed)) + packed
    else:
        raw = data.draw(mutated_bytes(real), label="case")
    path = write(fuzz_dir / "utd" / "a1_s1_t1_skeleton.mat", raw)
    check_read("utd_mhad .mat", read_utd_mat, path, (FormatError,))


_SHAPES = st.sampled_from(((20, 3, 5), (20, 3, 1), (20, 3, 0), (20, 3), (3, 20, 5), (25, 3, 5), (20, 3, 5, 2),
                           (20, 4, 5), (0, 3, 5)))  # fmt: skip
_DTYPES = st.sampled_from(("float64", "float32", "int16", "uint8", "int64", "complex128", "bool"))


@st.composite
def utd_variables(draw: st.DrawFn) -> dict:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(("array", "array", "array", "text", "cell", "struct", "none", "sparse")))
    name = draw(st.sampled_from(("d_skel", "d_skel", "d_skel", "skel")))
    if kind == "none":
        return {}
    if kind == "text":
        return {name: "not a skeleton"}
    if kind == "cell":
        cell = np.empty((1, 2), dtype=object)
        cell[0, 0], cell[0, 1] = rng.normal(size=(20, 3)), "x"
        return {name: cell}
    if kind == "struct":
        return {name: {"x": rng.normal(size=(20, 3, 2))}}
    if kind == "sparse":
        from scipy.sparse import csc_matrix

        return {name: csc_matrix(rng.normal(size=(20, 3)))}
    shape = draw(_SHAPES)
    arr = rng.normal(size=shape).astype(draw(_DTYPES))
    for _ in range(draw(st.integers(0, 3)) if arr.size and arr.dtype.kind == "f" else 0):
        with np.errstate(over="ignore"):  # 1e39 into a float32 variable is inf: a case like any other
            arr.flat[int(rng.integers(arr.size))] = draw(weird_floats())
    return {name: arr}


@fuzz_settings(60)
@given(variables=utd_variables(), compress=st.booleans(), claim=st.sampled_from((None, 10**9, 2**31 - 1, -1, 0)))
@example(variables={"d_skel": np.ones((20, 3, 4))}, compress=False, claim=10**9)  # dims say 10^9 frames
@example(variables={"d_skel": np.ones((20, 3, 4), dtype=np.complex128)}, compress=False, claim=None)  # regression
@example(variables={"d_skel": np.full((20, 3, 4), 1e39)}, compress=True, claim=None)  # regression: float32 overflow
def test_generated_utd_mat(variables: dict, compress: bool, claim: int | None, fuzz_dir: Path) -> None:
    raw = _savemat(variables, compress)
    arr = variables.get("d_skel")
    if claim is not None and not compress and isinstance(arr, np.ndarray) and arr.shape[:2] == (20, 3) \
            and arr.ndim == 3:  # fmt: skip
        raw = _claim_frames(raw, claim)
    path = write(fuzz_dir / "utd_gen" / "a1_s1_t1_skeleton.mat", raw)
    check_read("utd_mhad .mat", read_utd_mat, path, (FormatError,))


# ------------------------------------------------------------------------------------------ NW-UCLA


@pytest.fixture(scope="module")
def ucla_text(data_dir: Path) -> Source:
    obj = json.loads((data_dir / UCLA_FILE).read_text(encoding="utf-8"))
    obj["skeletons"] = obj["skeletons"][:4]
    return Source(json.dumps(obj), UCLA_FILE + " (4 frames)")


@pytest.mark.realdata
@fuzz_settings(120)
@given(data=st.data())
def test_damaged_real_nwucla_json(data, ucla_text: Source, fuzz_dir: Path) -> None:
    path = write(fuzz_dir / "ucla" / "a01_s01_e00_v01.json", data.draw(mutated_text(ucla_text), label="case"))
    check_read("nw_ucla .json", read_nwucla_json, path, (FormatError,))


_JSON_NUMBER = st.one_of(st.floats(-3, 3), st.integers(-5, 5), st.sampled_from((10**400, -(10**400), 1e39, True, None)),
                         st.just("1.0"))  # fmt: skip


@st.composite
def ucla_objects(draw: st.DrawFn) -> str:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    frames = draw(st.integers(0, 3))
    joints = draw(st.sampled_from((20, 20, 20, 19, 21, 0)))
    width = draw(st.sampled_from((3, 3, 3, 2, 4)))
    skel = [[[float(v) for v in rng.normal(size=width)] for _ in range(joints)] for _ in range(frames)]
    for _ in range(draw(st.integers(0, 2)) if frames and joints else 0):
        skel[rng.integers(frames)][rng.integers(joints)][0] = draw(_JSON_NUMBER)
    kind = draw(st.sampled_from(("object", "object", "object", "list", "nested", "string", "deep")))
    if kind == "list":
        return json.dumps(skel)
    if kind == "nested":
        return json.dumps({"skeletons": [skel]})
    if kind == "string":
        return json.dumps({"skeletons": "abc"})
    if kind == "deep":
        depth = draw(st.sampled_from((50, 2000, 100_000)))
        return '{"skeletons": ' + "[" * depth + "]" * depth + "}"
    return json.dumps({"file_name": "x", "skeletons": skel}, allow_nan=True)


@fuzz_settings(80)
@given(text=ucla_objects())
@example(text='{"skeletons": [[' + ",".join(["[1e400, 0, 1]"] * 20) + "]]}")  # inf literal by overflow
@example(text='{"skeletons": [[' + ",".join(["[NaN, Infinity, 1]"] * 20) + "]]}")
@example(text='{"skeletons": [[' + ",".join(["[1" + "0" * 400 + ", 0, 1]"] * 20) + "]]}")  # regression: OverflowError
@example(text='{"skeletons": ' + "[" * 100_000 + "]" * 100_000 + "}")  # regression: RecursionError
def test_generated_nwucla_json(text: str, fuzz_dir: Path) -> None:
    check_read("nw_ucla .json", read_nwucla_json, write(fuzz_dir / "ucla_gen" / "a01_s01_e00_v01.json", text),
               (FormatError,))  # fmt: skip
