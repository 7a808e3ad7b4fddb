"""Fuzzed NTU RGB+D ``.skeleton`` reader (crossglg.datasets.ntu): damaged real files and generated ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fuzz_helpers import WEIRD_TOKENS, Source, assert_skeleton, check_read, fuzz_settings, mutated_text, write
from hypothesis import example, given
from hypothesis import strategies as st

from crossglg.datasets import FormatError, read_ctrgcn_npz, read_ntu_skeleton, read_ntu_skeleton_full

NTU_FILE = "ntu_sample/S001C001P001R001A001.skeleton"


def _first_frames(text: str, keep: int) -> str:
    """A valid file of the first ``keep`` frames of a real one (same bodies, header rewritten)."""
    lines = text.splitlines()
    i, out = 1, []
    for _ in range(keep):
        bodies = int(lines[i])
        n = 1 + bodies * 27
        out += lines[i : i + n]
        i += n
    return "\n".join([str(keep), *out]) + "\n"


@pytest.fixture(scope="module")
def ntu_text(data_dir: Path) -> str:
    return Source(_first_frames((data_dir / NTU_FILE).read_text(encoding="ascii"), 14), NTU_FILE + " (14 frames)")


def _read_both(path: Path):
    full = read_ntu_skeleton_full(path)
    xyz = read_ntu_skeleton(path)
    assert full.xyz.shape == xyz.shape and full.color_xy.shape[:3] == xyz.shape[:3]
    assert full.tracking.shape == xyz.shape[:3] and len(full.body_ids) <= xyz.shape[1]
    return xyz


@pytest.mark.realdata
@fuzz_settings(200)
@given(data=st.data())
@example(data=None)  # the real (cropped) file as is
def test_damaged_real_ntu_files(data, ntu_text: str, fuzz_dir: Path) -> None:
    raw = ntu_text.encode() if data is None else data.draw(mutated_text(ntu_text), label="file")
    path = write(fuzz_dir / "ntu" / "S001C001P001R001A001.skeleton", raw)
    out = check_read("ntu .skeleton", _read_both, path, (FormatError,))
    if data is None:
        assert out is not None and out.shape == (14, 1, 25, 3)


_COUNT = st.one_of(st.integers(0, 3), st.sampled_from((-1, 24, 26, 10**9, 10**30)))


_DEFECTS = ("frames", "bodies", "info", "joints", "value", "tail")


@st.composite
def generated_ntu(draw: st.DrawFn) -> str:
    """An NTU file built field by field with up to two defects: a declared count that lies
    (10^9 frames, -1 bodies, 26 joints), an info line of the wrong width, a value that is
    NaN/inf/1e39/text, data after the last frame. Structure is drawn by hypothesis; the many
    joint values come from a drawn seed (cheap to generate and to shrink)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    defects = draw(st.sets(st.sampled_from(_DEFECTS), max_size=2))
    frames = draw(st.integers(0, 14))
    bodies = [draw(st.integers(0, 2)) for _ in range(frames)]
    at = draw(st.integers(0, max(0, frames - 1)))  # the frame that carries the defects
    out = [str(draw(_COUNT)) if "frames" in defects else str(frames)]
    for t, n in enumerate(bodies):
        here = t == at
        out.append(str(draw(_COUNT)) if here and "bodies" in defects else str(n))
        for b in range(n):
            info = [str(72057594037931101 + b)] + ["0"] * 9
            width = draw(st.sampled_from((0, 9, 11, 30))) if here and "info" in defects else 10
            out.append(" ".join((info * 3)[:width]))
            joints = draw(st.sampled_from((0, 24, 26))) if here and "joints" in defects else 25
            out.append(str(joints))
            rows = [[f"{v:.4f}" for v in rng.uniform(-1, 1, 3)] + ["1"] * 8 + ["2"] for _ in range(joints)]
            if here and "value" in defects and rows:
                rows[rng.integers(joints)][rng.integers(12)] = draw(st.sampled_from(WEIRD_TOKENS))
            out += [" ".join(r) for r in rows]
    tail = draw(st.sampled_from(("1", "0 0 0", "\x00"))) if "tail" in defects else ""
    return "\n".join(out) + "\n" + tail


@fuzz_settings(120)
@given(text=generated_ntu())
@example(text="1000000000\n1\n")  # a header claiming 10^9 frames: refused at once
@example(text="3\n1000000000\n")
# regressions: inf reached body selection (RuntimeWarning in np.var), 1e39 overflowed float32 on output
@example(text="1\n1\n" + " ".join(["1"] * 10) + "\n25\n" + ("inf 0 1 " + "0 " * 8 + "2\n") * 25)
@example(text="1\n1\n" + " ".join(["1"] * 10) + "\n25\n" + ("1e39 0 1 " + "0 " * 8 + "2\n") * 25)
def test_generated_ntu_files(text: str, fuzz_dir: Path) -> None:
    path = write(fuzz_dir / "ntu_gen" / "S001C001P001R001A001.skeleton", text)
    check_read("ntu .skeleton", _read_both, path, (FormatError,))


# ---------------------------------------------------------------------------- CTR-GCN NTU .npz


def _ctrgcn_samples(path: Path) -> list:
    samples = read_ctrgcn_npz(path, "train")
    for s in samples:
        assert_skeleton(s.load())
        assert isinstance(s.label, int) and s.label >= 0
    return samples


def _mostly(valid: object, other: st.SearchStrategy) -> st.SearchStrategy:
    """The valid value two draws in three: most cases then carry one or two defects, not five."""
    return st.one_of(st.just(valid), st.just(valid), other)


_X_SHAPES = st.sampled_from(((2, 6, 150), (2, 6, 75), (1, 1, 150), (2, 0, 150), (0, 6, 150), (2, 6, 0), (2, 6, 149),
                             (2, 6), (2, 6, 150, 1)))  # fmt: skip
_Y_SHAPES = st.sampled_from(((2, 4), (2,), (2, 0), (3, 4), (1, 4), ()))


@fuzz_settings(80)
@given(x_shape=_mostly((2, 6, 150), _X_SHAPES), y_shape=_mostly((2, 4), _Y_SHAPES),
       x_dtype=_mostly("float32", st.sampled_from(("float64", "complex64", "U2", "int8"))),
       y_dtype=_mostly("float32", st.sampled_from(("int64", "U2", "bool"))), seed=st.integers(0, 2**32 - 1),
       weird=st.lists(st.sampled_from((np.nan, np.inf, 1e39, 0.0)), max_size=2),
       split=_mostly("train", st.just("test")))  # fmt: skip
@example(x_shape=(2, 6, 150), y_shape=(2, 0), x_dtype="float32", y_dtype="float32", seed=0, weird=[], split="train")
@example(x_shape=(2, 6, 150), y_shape=(2, 4), x_dtype="complex64", y_dtype="float32", seed=0, weird=[], split="train")
@example(x_shape=(2, 6, 0), y_shape=(2, 4), x_dtype="float32", y_dtype="float32", seed=0, weird=[], split="train")
@example(x_shape=(2, 6, 150), y_shape=(2, 4), x_dtype="float64", y_dtype="float32", seed=0, weird=[1e39], split="train")
@example(x_shape=(2, 6, 150), y_shape=(2, 4), x_dtype="float32", y_dtype="float32", seed=0, weird=[np.inf], split="train")
def test_generated_ctrgcn_npz(x_shape, y_shape, x_dtype, y_dtype, seed, weird, split, fuzz_dir: Path) -> None:
    """CTR-GCN's packed NTU ``.npz`` (``x_<split>`` ``(N, T, M*75)``, ``y_<split>`` one-hot): regressions
    were an empty one-hot (argmax ValueError), complex x (ComplexWarning), zero bodies (M = 0 samples),
    inf or 1e39 coordinates (returned as inf), empty/truncated/pickled files (EOFError, ValueError)."""
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore", invalid="ignore"):
        x = rng.normal(size=x_shape).astype(x_dtype) if x_dtype[0] != "U" else np.full(x_shape, "ab")
        if weird and x.size and x.dtype.kind == "f":
            x.flat[rng.integers(x.size, size=len(weird))] = weird
        y = np.eye(*y_shape[-1:] * 2)[rng.integers(max(1, y_shape[-1] if y_shape else 1), size=y_shape[:1])] \
            if len(y_shape) == 2 and y_shape[-1] else np.zeros(y_shape)  # fmt: skip
    y = y.astype(y_dtype) if y_dtype[0] != "U" else np.full(y.shape, "x")
    path = fuzz_dir / "ctrgcn" / "ntu60.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{f"x_{split}": x, f"y_{split}": y})
    check_read("ntu CTR-GCN .npz", _ctrgcn_samples, path, (FormatError,), validate=lambda out: out)


@fuzz_settings(40)
@given(raw=st.binary(max_size=300) | st.sampled_from((b"", b"PK\x03\x04", b"\x93NUMPY")))
def test_damaged_ctrgcn_npz(raw: bytes, fuzz_dir: Path) -> None:
    path = write(fuzz_dir / "ctrgcn" / "bad.npz", raw)
    check_read("ntu CTR-GCN .npz", _ctrgcn_samples, path, (FormatError,), validate=lambda out: out)
