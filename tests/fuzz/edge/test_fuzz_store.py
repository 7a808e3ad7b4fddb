"""Fuzzed support stores (edge.store, edge.store_manifest): a real store made by the store itself, then
its ``manifest.json``, ``embeddings.<n>.npz`` or ``exemplars/*.npz`` damaged or replaced.

Property: :meth:`SupportStore.open` either gives a store whose support set is usable (finite float32
embeddings of the manifest's dimension, one row per exemplar) and whose exemplars load as valid clips,
or raises ValueError / FileNotFoundError naming a file of the store and what was expected.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fuzz_helpers import (
    Source,
    assert_clear,
    fuzz_settings,
    guarded,
    mutated_bytes,
    mutated_text,
    record,
    weird_floats,
)
from hypothesis import example, given
from hypothesis import strategies as st

from edge.store import SupportStore

PP = "crossglg-pp/1;frames=64"
DIM = 8


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with two actions (three exemplars) written by the store itself."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("store") / "s"
    store = SupportStore.create(root, "fp-A", PP)
    clip = rng.normal(0, 0.3, (12, 1, 25, 3)).astype(np.float32)
    clip[3, 0, 4] = np.nan
    a = store.add_action("wave", clip, rng.normal(size=DIM), fps=30.0)
    store.add_exemplar(a, clip[:6], rng.normal(size=DIM), fps=15.0)
    store.add_action("sit down", clip * 2, rng.normal(size=DIM))
    return root


def _fresh(pristine: Path, tmp: Path) -> Path:
    """``tmp`` as a copy of the pristine store: copied once, then only changed files are put back."""
    if not tmp.exists():
        shutil.copytree(pristine, tmp)
    for src in pristine.rglob("*"):
        if src.is_file():
            dst = tmp / src.relative_to(pristine)
            data = src.read_bytes()
            if not dst.is_file() or dst.read_bytes() != data:
                dst.write_bytes(data)
    return tmp


def _use(root: Path) -> SupportStore:
    """Open, then use everything the runtime uses; asserts the invariants of a store that opened."""
    store = SupportStore.open(root)
    sup = store.support()
    dim = store._m["embedding_dim"]  # noqa: SLF001 - the manifest's own claim, checked against the rows
    for e in sup.embeddings:
        assert e.dtype == np.float32 and e.ndim == 2 and e.shape[1] == dim and np.isfinite(e).all()
    for a in store.actions:
        assert isinstance(a.label, str) and a.label.strip()
        for k in range(len(a.exemplars)):
            ex = store.load_exemplar(a.slug, k)
            assert ex.clip.dtype == np.float32 and ex.clip.ndim == 4 and ex.clip.shape[2:] == (25, 3)
            assert not np.isinf(ex.clip).any()
            assert np.isfinite(ex.fps) and ex.fps > 0
            assert ex.timestamps.shape == (ex.clip.shape[0],) and np.isfinite(ex.timestamps).all()
    return store


def _check(fmt: str, root: Path) -> None:
    out, exc = guarded(lambda: _use(root), (ValueError, FileNotFoundError))
    record(fmt, exc is not None)
    if exc is not None:
        assert_clear(exc, root)


# -------------------------------------------------------------------------------------- manifest

_JSON_VALUES = st.one_of(
    st.sampled_from((None, True, 0, -1, 10**30, 1.5, float("nan"), float("inf"), "", "x" * 5000, [], {}, [1], {"a": 1},
                     "../../etc/passwd", "exemplars/../../x.npz", "embeddings.0.npz", "exemplars/wave.0.npz")),
    st.text(max_size=10),
)  # fmt: skip


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path into a JSON value."""
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def edited_manifest(draw: st.DrawFn, manifest: dict) -> str:
    m = json.loads(json.dumps(manifest))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(m)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        node = m
        for key in path[:-1]:
            node = node[key]
        action = draw(st.sampled_from(("set", "set", "delete", "add key")))
        if action == "delete":
            del node[path[-1]]
        elif action == "add key" and isinstance(node, dict):
            node[draw(st.sampled_from(("extra", "file", "label")))] = draw(_JSON_VALUES)
        else:
            node[path[-1]] = draw(_JSON_VALUES)
    return json.dumps(m)


@fuzz_settings(100)
@given(data=st.data())
@example(data=None)
def test_damaged_manifest(data, pristine: Path, fuzz_dir: Path) -> None:
    root = _fresh(pristine, fuzz_dir / "store_m")
    text = (root / "manifest.json").read_text(encoding="utf-8")
    if data is not None:
        if data.draw(st.booleans(), label="structural"):
            raw: bytes | str = data.draw(edited_manifest(json.loads(text)), label="manifest")
        else:
            raw = data.draw(mutated_text(Source(text, "manifest.json")), label="manifest")
        (root / "manifest.json").write_bytes(raw.encode() if isinstance(raw, str) else raw)
    _check("support store manifest.json", root)


# ------------------------------------------------------------------------------------ npz members


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


_WEIRD_ARRAYS = st.sampled_from((
    np.zeros(()), np.array("text"), np.zeros((0,)), np.zeros((3,), "U4"), np.array([1 + 2j]), np.zeros((2, 2, 2)),
    np.full((3, DIM), np.nan, np.float32), np.full((3, DIM), np.inf), np.zeros((3, DIM)), np.ones((3, DIM + 1)),
    np.ones((3, DIM), np.float16), np.ones((2, DIM)), np.array(["a", "b", "c"]), np.array(True), np.array(-1.0),
    np.array(np.nan), np.arange(3), np.ones((12, 1, 25, 3), np.complex64), np.full((12, 1, 25, 3), 1e39),
    np.ones((1, 1, 25, 3)), np.ones((12, 1, 24, 3)), np.ones((12, 25, 3)), np.ones((12,), "m8[s]"),
))  # fmt: skip


@st.composite
def edited_npz(draw: st.DrawFn, arrays: dict[str, np.ndarray]) -> bytes:
    out = dict(arrays)
    for _ in range(draw(st.integers(1, 2))):
        key = draw(st.sampled_from(sorted(out) + ["extra"]))
        if draw(st.integers(0, 4)) == 0 and key in out:
            del out[key]
        elif draw(st.booleans()) and key in out and out[key].dtype.kind == "f" and out[key].size:
            a = out[key].copy()
            with np.errstate(over="ignore"):
                a.flat[draw(st.integers(0, a.size - 1))] = draw(weird_floats())
            out[key] = a
        else:
            out[key] = draw(_WEIRD_ARRAYS)
    return _npz(**out)


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@fuzz_settings(120)
@given(data=st.data())
def test_damaged_store_arrays(data, pristine: Path, fuzz_dir: Path) -> None:
    """The embeddings generation file or an exemplar clip: damaged bytes or edited arrays."""
    root = _fresh(pristine, fuzz_dir / "store_a")
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    files = [manifest["embeddings_file"]] + [e["file"] for a in manifest["actions"] for e in a["exemplars"]]
    target = root / data.draw(st.sampled_from(files), label="file")
    if data.draw(st.booleans(), label="bytes"):
        raw = data.draw(mutated_bytes(target.read_bytes()), label="content")
    else:
        raw = data.draw(edited_npz(_arrays(target)), label="content")
    target.write_bytes(raw)
    _check("support store .npz files", root)
