"""Real broken file systems for the store fault tests: a tiny full tmpfs and a read-only bind mount.

Both need root and a kernel that lets this process mount (true in the project's sandbox and on CI
runners that run as root). Without that:

- :func:`tiny_tmpfs` yields None; the caller falls back to ``RLIMIT_FSIZE`` in a subprocess
  (:func:`limit_file_size`: writes past the limit fail with EFBIG, a real kernel refusal too);
- :func:`read_only_dir` falls back to ``chmod 0o555``, which a non-root user cannot write through
  (root ignores permission bits, which is why it bind-mounts read-only instead).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _mount(*args: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextmanager
def tiny_tmpfs(path: Path, size: str = "64k") -> Iterator[Path | None]:
    """A tmpfs of ``size`` mounted at ``path`` (None when this process may not mount)."""
    path.mkdir(parents=True, exist_ok=True)
    if not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)):
        yield None
        return
    try:
        yield path
    finally:
        _umount(path)


@contextmanager
def read_only_dir(src: Path, at: Path) -> Iterator[tuple[Path, str]]:
    """``src`` seen read-only at ``at``: ``(path, how)`` with how ``"bind-mount"`` or ``"chmod"``."""
    at.mkdir(parents=True, exist_ok=True)
    if _mount("--bind", str(src), str(at)):
        try:
            if _mount("-o", "remount,ro,bind", str(at)):
                yield at, "bind-mount"
                return
        finally:
            _umount(at)
    # not root: permission bits are a real refusal for this user
    shutil.rmtree(at)
    shutil.copytree(src, at)
    modes = {p: p.stat().st_mode for p in [at, *at.rglob("*")] if p.is_dir()}
    for p in modes:
        p.chmod(0o555)
    try:
        yield at, "chmod"
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def limit_file_size(max_bytes: int) -> Callable[[], None]:
    """A ``preexec_fn``: files of this process may not grow past ``max_bytes`` (EFBIG, SIGXFSZ ignored)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def store_files(root: Path) -> list[str]:
    """Every file under a store, relative, sorted."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
