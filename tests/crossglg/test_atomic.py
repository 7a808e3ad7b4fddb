"""Atomic writes keep the old file on failure and honour the requested mode."""

from __future__ import annotations

import os
import stat

import pytest

from crossglg import atomic
from crossglg.atomic import atomic_write


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
