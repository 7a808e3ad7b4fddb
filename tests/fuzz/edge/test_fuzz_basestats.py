"""Fuzzed base-statistics sidecars (crossglg.basestats, edge.calibration.load_base_stats): files written by
:func:`write_base_stats` in each covariance form, and plain ``means`` + ``covs``/``vars`` archives, then
damaged (bytes, edited or swapped arrays, NaN/inf, lying headers).

Property: statistics distribution calibration can use (``means (B, D)``, ``covs (B, D, D)``, float32,
finite, beta in (0, 1]) and side fields that hold together (a centre of D finite floats or none,
B class names or none), or a ValueError naming the file and the field.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fuzz_helpers import assert_clear, fuzz_settings, guarded, mutated_bytes, record, weird_floats, write
from hypothesis import example, given
from hypothesis import strategies as st
from numpy.lib import format as npformat

from crossglg.basestats import read_base_stats_info, write_base_stats
from crossglg.oneshot import BaseStats
from edge.calibration import load_base_stats

B, D = 3, 5


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _arrays(raw: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def sidecars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """One real sidecar per covariance form, and a plain archive, as the writer makes them."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, 8, D))
    covs = np.einsum("bnd,bne->bde", x, x) / 8
    stats = BaseStats(means=rng.normal(size=(B, D)).astype(np.float32), covs=covs.astype(np.float32), beta=0.5)
    out = {}
    folder = tmp_path_factory.mktemp("basestats")
    for form in ("lowrank", "full", "diag"):
        p = write_base_stats(folder / f"{form}.npz", stats, np.zeros(D), "fp", ["a", "b", "c"], form=form, rank=2)
        out[form] = p.read_bytes()
    out["plain"] = _npz(means=stats.means, covs=stats.covs)
    return out


def _stats_ok(path: Path) -> BaseStats:
    s = load_base_stats(path)
    assert isinstance(s, BaseStats)
    b, d = s.means.shape
    assert b >= 1 and d >= 1 and s.covs.shape == (b, d, d)
    assert s.means.dtype == np.float32 and s.covs.dtype == np.float32
    assert np.isfinite(s.means).all() and np.isfinite(s.covs).all()
    assert np.isfinite(s.beta) and 0 < s.beta <= 1
    return s


def _info_ok(path: Path) -> None:
    info = read_base_stats_info(path)
    assert isinstance(info.fingerprint, str) and isinstance(info.classes, tuple)
    assert all(isinstance(c, str) for c in info.classes)
    if info.center is not None:
        assert info.center.dtype == np.float32 and info.center.ndim == 1 and np.isfinite(info.center).all()


_WEIRD = st.sampled_from((
    np.zeros(()), np.array("crossglg-basestats/2"), np.array("lowrank"), np.array("nope"), np.zeros((0,)),
    np.zeros((0, D)), np.array([1 + 2j] * D), np.full((B, D), np.nan, np.float32), np.full((B, D), np.inf),
    np.ones((B, D + 1)), np.ones((B, D), np.float16), np.ones((B, D, D)), np.ones((B, 2, D), np.float16) * 9,
    np.array(["a", "b"]), np.array(True), np.array(-1.0), np.array(2.0), np.array(np.nan), np.arange(3),
    np.ones((B, D), "m8[s]"), np.ones(D, "U3"), np.full((B, D, D), -1.0), np.ones((B, 0)), np.array([0.5, 0.5]),
))  # fmt: skip


@st.composite
def edited(draw: st.DrawFn, arrays: dict[str, np.ndarray]) -> bytes:
    out = dict(arrays)
    keys = (*sorted(out), "covs", "vars", "eigvals", "center", "classes", "beta", "cov_form", "format")
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(keys))
        roll = draw(st.integers(0, 5))
        if roll == 0 and key in out:
            del out[key]
        elif roll <= 2 and key in out and out[key].dtype.kind == "f" and out[key].size:
            a = out[key].astype(np.float64)
            a.flat[draw(st.integers(0, a.size - 1))] = draw(weird_floats())
            out[key] = a
        else:
            out[key] = draw(_WEIRD)
    return _npz(**out)


def _lying(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    npformat.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 64


def _check(path: Path) -> None:
    for fmt, fn in (("base statistics .npz", _stats_ok), ("base statistics .npz (side fields)", _info_ok)):
        out, exc = guarded(lambda fn=fn: fn(path), (ValueError,))
        record(fmt, exc is not None)
        if exc is not None:
            assert_clear(exc, path)


@fuzz_settings(150)
@given(data=st.data())
@example(data=None)
def test_damaged_base_statistics(data, sidecars: dict[str, bytes], fuzz_dir: Path) -> None:
    path = fuzz_dir / "bs" / "model.onnx.basestats.npz"
    form = "lowrank" if data is None else data.draw(st.sampled_from(sorted(sidecars)), label="form")
    raw = sidecars[form]
    if data is not None:
        how = data.draw(st.sampled_from(("arrays", "arrays", "bytes", "lying")), label="damage")
        if how == "arrays":
            raw = data.draw(edited(_arrays(raw)), label="arrays")
        elif how == "bytes":
            raw = data.draw(mutated_bytes(raw), label="bytes")
        else:
            arrays = _arrays(raw)
            buf = io.BytesIO()
            key = data.draw(st.sampled_from(sorted(arrays)), label="member")
            with zipfile.ZipFile(buf, "w") as zf:
                for k, v in arrays.items():
                    member = io.BytesIO()
                    np.save(member, v)
                    zf.writestr(k + ".npy", _lying((10**9, D, D)) if k == key else member.getvalue())
            raw = buf.getvalue()
    _check(write(path, raw))
