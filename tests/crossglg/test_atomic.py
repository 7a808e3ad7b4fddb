"""Atomic writes keep the old file on failure and honour the requested mode."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from crossglg import atomic
from crossglg.atomic import atomic_path, atomic_write
from crossglg.basestats import write_base_stats
from crossglg.datasets import SkeletonCache
from crossglg.oneshot import BaseStats
from crossglg.text.encoder import FeatureCache


def test_write_text_and_bytes(tmp_path):
    p = atomic_write(tmp_path / "sub" / "a.txt", "héllo")
    assert p.read_text(encoding="utf-8") == "héllo"
    atomic_write(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(p.stat().st_mode) == 0o644


def test_private_mode(tmp_path):
    p = atomic_write(tmp_path / "k.key_secret", "secret", mode=0o600)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_failure_keeps_old_file_and_no_temp(tmp_path, monkeypatch):
    p = atomic_write(tmp_path / "m.json", "old")

    def boom(*_a, **_k):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(p, "new")
    assert p.read_text() == "old"
    assert os.listdir(tmp_path) == ["m.json"]


def test_atomic_path_replaces_on_success(tmp_path):
    dest = tmp_path / "sub" / "out.bin"
    with atomic_path(dest, suffix=".tmp.png") as tmp:
        assert tmp.parent == dest.parent and tmp.name.endswith(".tmp.png") and tmp.is_file()
        assert not dest.exists()  # nothing visible until the writer is done
        tmp.write_bytes(b"new")
    assert dest.read_bytes() == b"new"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    assert sorted(os.listdir(dest.parent)) == ["out.bin"]
    with atomic_path(dest, 0o600, fsync=False) as tmp:
        assert stat.S_IMODE(tmp.stat().st_mode) == 0o600  # before any content exists
        tmp.write_bytes(b"newer")
    assert dest.read_bytes() == b"newer" and stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_atomic_path_writer_error_keeps_old_bytes(tmp_path):
    old = bytes(range(256)) * 64
    dest = tmp_path / "data.npz"
    dest.write_bytes(old)
    with pytest.raises(RuntimeError, match="writer failed"), atomic_path(dest) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"half a file")  # partly written when the writer dies
        raise RuntimeError("writer failed")
    assert dest.read_bytes() == old
    assert os.listdir(tmp_path) == ["data.npz"]


def _fail_replace(monkeypatch):
    def boom(*_a, **_k):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(atomic.os, "replace", boom)


def _stats(b: int = 3, d: int = 4) -> BaseStats:
    rng = np.random.default_rng(0)
    return BaseStats(rng.random((b, d), dtype=np.float32), np.stack([np.eye(d, dtype=np.float32)] * b))


def test_base_stats_writer_error_keeps_old_file(tmp_path):
    path = write_base_stats(tmp_path / "m.onnx.basestats.npz", _stats(), np.zeros(4, np.float32), "fp", ["a", "b", "c"])
    old = path.read_bytes()

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("class name cannot be written")

    # np.savez has already written the means and covariances when the class names fail
    with pytest.raises(RuntimeError, match="class name"):
        write_base_stats(path, _stats(), np.ones(4, np.float32), "fp2", ["a", "b", Unprintable()])
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == [path.name]


def test_core_writers_keep_old_file_when_replace_fails(tmp_path, monkeypatch):
    """Every core writer goes through the helper: a failed rename leaves old bytes and no temp file."""
    stats_path = write_base_stats(tmp_path / "b" / "x.basestats.npz", _stats(), np.zeros(4, np.float32), "fp")
    src = tmp_path / "rec.txt"
    src.write_text("raw")
    cache = SkeletonCache(tmp_path / "cache")
    cache.put(src, "v1", np.zeros((2, 1, 25, 3), np.float32))
    feats = FeatureCache(tmp_path / "text")
    feats.store("enc", {"a": np.ones(3, np.float32)})
    written = [stats_path, *(tmp_path / "cache").rglob("*.npy"), *(tmp_path / "text").rglob("*.*")]
    assert len(written) == 4
    before = {p: p.read_bytes() for p in written}

    _fail_replace(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        write_base_stats(stats_path, _stats(), np.ones(4, np.float32), "fp2")
    with pytest.raises(OSError, match="disk full"):
        cache.put(src, "v1", np.ones((3, 1, 25, 3), np.float32))
    with pytest.raises(OSError, match="disk full"):
        feats.store("enc", {"a": np.zeros(3, np.float32), "b": np.ones(3, np.float32)})

    after = {p: p.read_bytes() for p in written}
    assert after == before
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted([*written, src])


def _append_sections(path: str, tag: str, n: int) -> None:
    from crossglg.atomic import atomic_update_text

    for i in range(n):
        atomic_update_text(path, lambda text, i=i: text + f"{tag}{i}\n")


def test_locked_updates_from_two_processes_lose_nothing(tmp_path) -> None:  # noqa: ANN001
    """Each process appends its own lines to one file; an unlocked read-modify-write loses some."""
    import multiprocessing as mp

    doc = tmp_path / "results.md"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_sections, args=(str(doc), tag, 60)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = doc.read_text().splitlines()
    assert sorted(lines) == sorted([f"a{i}" for i in range(60)] + [f"b{i}" for i in range(60)])
    assert [x for x in lines if x[0] == "a"] == [f"a{i}" for i in range(60)]  # each process's order kept
