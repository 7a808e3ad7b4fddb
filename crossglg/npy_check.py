"""Refuse ``.npy`` / ``.npz`` files whose array headers declare more data than the file can hold (numpy only).

``np.load`` allocates what a header declares before it reads a byte of data: a 200-byte file whose
header says ``(1000000000, 25, 3)`` float32 asks for 279 GiB (``MemoryError``), and one that says
``(10**7, 25, 3)`` reserves 3 GB before failing. :func:`check_npy_sizes` reads only the headers and
compares each declared size with what can be behind it: the bytes left in a ``.npy`` file, and for an
``.npz`` member its stored size (or, compressed, deflate's ceiling of ~1,032x the compressed bytes),
plus an optional absolute cap. Call it before ``np.load`` on any file a user hands us.

It only raises for what it can judge (a malformed or lying header): a file that is not an npy/npz
at all, or a broken zip, is left to ``np.load`` and the caller's usual error.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

NPY_MAGIC = b"\x93NUMPY"
DEFLATE_MAX_RATIO = 1100  # deflate expands at most ~1032:1; a little slack for headers


def _declared(fh: io.BufferedIOBase | zipfile.ZipExtFile) -> tuple[tuple[int, ...], np.dtype, int] | None:
    """``(shape, dtype, header length)`` of the ``.npy`` stream at ``fh``; None if it is not one."""
    if fh.read(len(NPY_MAGIC)) != NPY_MAGIC:
        return None
    major, _minor = fh.read(1), fh.read(1)
    if major == b"\x01":
        shape, _, dtype = npformat.read_array_header_1_0(fh)
    elif major in (b"\x02", b"\x03"):  # 3.0 differs from 2.0 only in the header's text encoding
        shape, _, dtype = npformat.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unknown .npy format version {major!r} (expected 1, 2 or 3)")
    header_len = fh.tell()
    return tuple(int(n) for n in shape), dtype, header_len


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return math.prod(shape) * dtype.itemsize  # Python ints: no overflow for (10**9,) * 5


def _judge(path: Path, what: str, shape: tuple[int, ...], dtype: np.dtype, room: int, max_bytes: int | None) -> None:
    need = _nbytes(shape, dtype)
    if dtype.hasobject:
        return  # object arrays are pickles: np.load(allow_pickle=False) refuses them with its own error
    if need > room:
        raise ValueError(f"{path}: {what} declares shape {shape} {dtype} ({need:,} bytes) but the file can hold "
                         f"at most {room:,} bytes (truncated or damaged header)")  # fmt: skip
    if max_bytes is not None and need > max_bytes:
        raise ValueError(f"{path}: {what} declares shape {shape} {dtype} ({need:,} bytes), over the "
                         f"{max_bytes:,}-byte limit for this kind of file")  # fmt: skip


def check_npy_sizes(path: str | os.PathLike[str], max_bytes: int | None = None, verify: bool = True) -> None:
    """Raise ``ValueError`` naming ``path`` (and the member) when a ``.npy`` header or any ``.npz``
    member's header declares more bytes than the file can hold, or more than ``max_bytes``; also for
    a malformed header and, with ``verify``, an ``.npz`` member whose data is damaged (bad CRC, broken
    deflate stream: checked by streaming it, never holding more than 1 MiB). Returns quietly for
    files it cannot judge (not npy/npz, a zip whose directory cannot be read)."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(len(NPY_MAGIC))
            if head == NPY_MAGIC:
                fh.seek(0)
                try:
                    found = _declared(fh)
                except (ValueError, SyntaxError, EOFError) as exc:  # numpy's header parser
                    raise ValueError(f"{p}: malformed .npy header ({exc})") from None
                assert found is not None
                shape, dtype, header_len = found
                _judge(p, "the array", shape, dtype, os.fstat(fh.fileno()).st_size - header_len, max_bytes)
                return
        if not zipfile.is_zipfile(p):
            return
        with zipfile.ZipFile(p) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                stored = info.compress_size if info.compress_type != zipfile.ZIP_STORED else info.file_size
                ceiling = min(info.file_size, DEFLATE_MAX_RATIO * stored + 1024)
                try:
                    member = zf.open(info)
                except (NotImplementedError, RuntimeError) as exc:  # unknown compression, encrypted
                    raise ValueError(f"{p}: member {info.filename!r} cannot be read ({exc}); expected a plain "
                                     "NumPy .npz archive") from None  # fmt: skip
                with member:
                    try:
                        found = _declared(member)
                        if found is not None:
                            shape, dtype, header_len = found
                            _judge(p, f"member {info.filename!r}", shape, dtype, ceiling - header_len, max_bytes)
                        if verify:  # stream the rest (1 MiB at a time): CRC and deflate errors surface here
                            while member.read(1 << 20):
                                pass
                    except (SyntaxError, EOFError) as exc:
                        raise ValueError(f"{p}: member {info.filename!r}: malformed .npy header ({exc})") from None
                    except (zipfile.BadZipFile, zlib.error, OSError) as exc:
                        raise ValueError(f"{p}: member {info.filename!r} is damaged ({exc}); expected an intact "
                                         ".npz archive") from None  # fmt: skip
                    except ValueError as exc:
                        if str(p) in str(exc):
                            raise  # ours, from _judge
                        raise ValueError(f"{p}: member {info.filename!r}: malformed .npy header ({exc})") from None
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError):
        return  # unreadable or not a zip after all: np.load reports it in the caller's words
