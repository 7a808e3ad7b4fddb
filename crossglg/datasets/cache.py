"""Disk cache of parsed skeletons so repeated scans do not re-parse the raw files.

One ``.npy`` per source file, named by a hash of (absolute path, mtime in ns, size, reader
version): editing, replacing or touching a file, or changing a reader (bump its version), misses
the cache. Entries are written atomically (temp file + ``os.replace``) and read with
``allow_pickle=False``; an unreadable entry is treated as a miss and rewritten.

Location: the ``root`` argument, else ``$CROSSGLG_CACHE``, else ``$XDG_CACHE_HOME/crossglg``
(``~/.cache/crossglg``; ``%LOCALAPPDATA%\\crossglg`` on Windows). Entries live in ``<root>/skeletons``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from crossglg.atomic import atomic_path

CACHE_ENV = "CROSSGLG_CACHE"


def default_cache_dir() -> Path:
    """The user cache directory described in the module docstring."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "crossglg"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crossglg"


class SkeletonCache:
    """Maps a source file (+ reader version) to its parsed ``(T, M, 25, 3)`` array.

    ``hits`` and ``misses`` count lookups since creation (tests and scan reports use them).
    """

    def __init__(self, root: str | Path | None = None, enabled: bool = True) -> None:
        self.root = (Path(root).expanduser() if root is not None else default_cache_dir()) / "skeletons"
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    def _entry(self, path: Path, version: str) -> Path:
        st = path.stat()
        # abspath, not resolve(): no per-component syscalls; a path via a symlink just keys separately
        ident = f"{os.path.abspath(path)}\0{st.st_mtime_ns}\0{st.st_size}\0{version}"
        digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()
        return self.root / digest[:2] / f"{digest}.npy"

    def get(self, path: str | Path, version: str) -> np.ndarray | None:
        if not self.enabled:
            return None
        entry = self._entry(Path(path), version)
        try:
            arr = np.load(entry, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        return arr if arr.ndim == 4 and arr.dtype == np.float32 else None

    def put(self, path: str | Path, version: str, arr: np.ndarray) -> None:
        if not self.enabled:
            return
        entry = self._entry(Path(path), version)
        # no fsync: after a power cut a lost or torn entry fails to load and is just a miss
        with atomic_path(entry, fsync=False) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)

    def load(self, path: str | Path, version: str, reader: Callable[[Path], np.ndarray]) -> np.ndarray:
        """Cached array for ``path``, else ``reader(path)`` stored for next time."""
        arr = self.get(path, version)
        if arr is not None:
            self.hits += 1
            return arr
        self.misses += 1
        arr = np.asarray(reader(Path(path)), dtype=np.float32)
        with contextlib.suppress(OSError):  # a read-only or full cache must not stop training
            self.put(path, version, arr)
        return arr
