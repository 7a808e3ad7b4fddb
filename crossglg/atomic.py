"""Atomic file writes: readers see the old file or the new one, never half of either.

Write to a temp file in the destination's folder (same filesystem), fsync, then ``os.replace``.
A crash or an exception leaves the previous file untouched and removes the temp file.

- :func:`atomic_write` for bytes or text in hand;
- :func:`atomic_path` for writers that want a path or open the file themselves
  (``torch.save``, ``np.savez``, ``fig.savefig``);
- :func:`atomic_update_text` for a locked read-modify-write by several processes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks (atomic_update_text is then unlocked)
    fcntl = None


@contextmanager
def atomic_path(
    path: str | os.PathLike[str], mode: int | None = None, *, suffix: str = ".tmp", fsync: bool = True
) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on normal exit it replaces ``path``, on error it is removed.

    The temp file exists (empty) when yielded; write it by name or open it. ``suffix`` ends its name
    (e.g. ``".tmp.png"`` for writers that pick the format from the name; the default ``".tmp"``
    matches the stale-temp cleanup of ``edge.store``). ``mode`` as in :func:`atomic_write` (set
    before anything is written; default ``0o644``). ``fsync=False`` skips the flush to disk for
    caches, where a lost entry after a power cut is only a miss.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent)
    tmp = Path(name)
    try:
        try:
            os.fchmod(fd, 0o644 if mode is None else mode)  # mkstemp makes 0o600
        finally:
            os.close(fd)
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDWR)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes | str, mode: int | None = None) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically; returns the path.

    ``mode`` (e.g. ``0o600`` for a secret key) is set on the temp file before any content is
    written, so the data never exists with wider permissions. Without it the file gets the usual
    ``0o644`` (``mkstemp`` would leave ``0o600``).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path, mode) as tmp, open(tmp, "wb") as f:
        f.write(payload)
    return Path(path)


def atomic_update_text(path: str | os.PathLike[str], edit: Callable[[str], str]) -> None:
    """Read ``path`` (``""`` when missing), write ``edit(text)`` back atomically, holding an
    exclusive lock (``.<name>.lock`` beside it) from the read to the replace, so two processes that
    each update their own part of one file (e.g. two result sections of docs/results.md) never
    write back a copy missing the other's update. Where ``fcntl`` is missing (Windows) it is unlocked.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        text = out.read_text(encoding="utf-8") if out.is_file() else ""
        atomic_write(out, edit(text))
