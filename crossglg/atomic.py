"""Atomic file writes: readers see the old file or the new one, never half of either.

Write to a temp file in the destination's folder (same filesystem), fsync, then ``os.replace``.
A crash or an exception leaves the previous file untouched and removes the temp file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], data: bytes | str, mode: int | None = None) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically; returns the path.

    ``mode`` (e.g. ``0o600`` for a secret key) is set on the temp file before any content is
    written, so the data never exists with wider permissions. Without it the file gets the usual
    ``0o644`` (``mkstemp`` would leave ``0o600``).
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        os.fchmod(fd, 0o644 if mode is None else mode)
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
