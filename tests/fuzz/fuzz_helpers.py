"""Shared machinery of the reader fuzz tests: settings, byte/text mutations, the property, a case count.

The property every reader must keep (:func:`check_read`): for any input it either returns a valid
skeleton (float32 ``(T, M, 25, 3)``, T >= 1, finite or NaN, never inf) or raises the reader's own
error whose message names the file and says what was wrong. Anything else (IndexError, KeyError,
UnicodeDecodeError, MemoryError, a numpy warning, which is turned into an error here) fails, and
so does a case that takes seconds or grows the process by hundreds of megabytes (a header
claiming 10^9 frames must be refused, not allocated).

Every case passed to :func:`record` is counted per format; ``tests/fuzz/conftest.py`` prints the
counts at the end of the session.
"""

from __future__ import annotations

import os
import re
import resource
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

CASES: Counter[str] = Counter()  # format -> generated cases
REFUSED: Counter[str] = Counter()  # format -> cases refused with the reader's clear error

MAX_CASE_SECONDS = 5.0  # generous for a loaded 2-core machine; real cases take milliseconds
MAX_CASE_GROWTH_MB = 256  # peak RSS growth one case may cause (a refused 10^9-frame header: ~0)

# Words a clear message uses to say what was expected or what is wrong with the input.
_EXPECTATION = re.compile(
    r"expect|must|not a |not an |not valid|invalid|no |missing|unknown|non-|empty|cannot|refus|at most|"
    r"at least|only|is not|does not|differ|unsupported|declares|too ",
    re.IGNORECASE,
)


def fuzz_settings(max_examples: int) -> settings:
    """Reproducible, budgeted hypothesis settings for one fuzz test."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        # no "explain" phase: it traces every line of a failing case, which made one deep-recursion
        # case take minutes; the failing example and its traceback are enough
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                               HealthCheck.function_scoped_fixture, HealthCheck.large_base_example],
    )  # fmt: skip


def record(fmt: str, refused: bool) -> None:
    CASES[fmt] += 1
    if refused:
        REFUSED[fmt] += 1


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def assert_clear(exc: BaseException, path: Path | str | None, text_lines: int | None = None) -> None:
    """``exc`` names ``path`` (when given) and says what was wrong; a ``line`` attribute is in range."""
    msg = str(exc)
    assert "\n" not in msg.strip(), f"multi-line error message: {msg!r}"
    if path is not None:
        assert str(path) in msg, f"error does not name the file {path}: {msg!r}"
        rest = msg.replace(str(path), "")
    else:
        rest = msg
    assert len(rest.strip(" :")) >= 8, f"error says nothing beyond the file name: {msg!r}"
    assert _EXPECTATION.search(rest), f"error does not say what was expected: {msg!r}"
    line = getattr(exc, "line", None)
    if line is not None and text_lines is not None:
        assert 1 <= line <= text_lines + 1, f"line {line} outside the file's {text_lines} lines: {msg!r}"


def assert_skeleton(out: Any, bodies: int | None = None) -> np.ndarray:
    """The skeleton contract: float32 ``(T>=1, M>=1, 25, 3)``, no inf (NaN = missing)."""
    assert isinstance(out, np.ndarray), type(out)
    assert out.dtype == np.float32, out.dtype
    assert out.ndim == 4 and out.shape[2:] == (25, 3) and out.shape[0] >= 1 and out.shape[1] >= 1, out.shape
    if bodies is not None:
        assert out.shape[1] == bodies, out.shape
    assert not np.isinf(out).any(), "reader returned inf"
    return out


def guarded(fn: Callable[[], Any], errors: tuple[type[BaseException], ...]) -> tuple[Any, BaseException | None]:
    """Run ``fn`` with warnings as errors, bounded in time and memory; ``(result, None)`` or
    ``(None, error)`` for one of ``errors``; any other exception propagates (a bug)."""
    rss0, t0 = _peak_rss_mb(), time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                return fn(), None
            except errors as exc:
                return None, exc
    finally:
        took, grew = time.perf_counter() - t0, _peak_rss_mb() - rss0
        assert took < MAX_CASE_SECONDS, f"one case took {took:.1f} s"
        assert grew < MAX_CASE_GROWTH_MB, f"one case grew the process by {grew:.0f} MB"


def check_read(
    fmt: str,
    read: Callable[[Path], Any],
    path: Path,
    errors: tuple[type[BaseException], ...],
    *,
    bodies: int | None = None,
    validate: Callable[[Any], Any] | None = None,
    names_file: bool = True,
) -> Any:
    """Read ``path`` under :func:`guarded`; check the result (:func:`assert_skeleton` or ``validate``)
    or the error (:func:`assert_clear`); count the case. Returns the result or None."""
    out, exc = guarded(lambda: read(path), errors)
    record(fmt, exc is not None)
    if exc is not None:
        try:
            lines = path.read_bytes().count(b"\n") + 1
        except OSError:
            lines = None
        assert_clear(exc, path if names_file else None, lines)
        return None
    return validate(out) if validate is not None else assert_skeleton(out, bodies)


class Source(str):
    """A real file's text (or any str) whose repr is its name: hypothesis prints fixture values of
    a failing case, and a whole file there would bury the drawn case."""

    def __new__(cls, text: str, name: str) -> Source:
        obj = super().__new__(cls, text)
        obj.name = name
        return obj

    def __repr__(self) -> str:
        return f"<{self.name}: {len(self)} characters>"


def write(path: Path, data: bytes | str) -> Path:
    """Write a case file (overwritten by the next case)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
    os.utime(path)
    return path


# ---------------------------------------------------------------------------------------- mutations

WEIRD_TOKENS = (
    "nan", "NaN", "inf", "-inf", "Infinity", "1e39", "-1e39", "1e308", "1e309", "-1e400", "1e-400", "0", "-0",
    "-1", "1000000000", "99999999999999999999", "9" * 400, "", " ", "x", "1,5", "0x10", "1.0.0", "--1", "+",
    ".", "e5", "1e", "\x00", "\u221e", "\u0663", "\ufeff1", "3.4e38", "-3.5e38", "true", "null", "[]", "{}",
)  # fmt: skip
_SPLIT = re.compile(r"([\s,;:\[\]{}\"]+)")


def crop_lines(text: str, keep: int, header: int = 0) -> str:
    """The first ``header + keep`` lines of ``text`` (a smaller but still valid file for line formats)."""
    lines = text.splitlines(keepends=True)
    return "".join(lines[: header + keep])


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> bytes:
    """A real text file damaged one or a few ways: truncated, emptied, random bytes, tokens replaced by
    weird numbers (NaN, inf, 1e39, 10^9, 400 digits, text), lines deleted/duplicated, bytes inserted."""
    kind = draw(st.sampled_from(("truncate", "empty", "random", "token", "tokens", "lines_del", "lines_dup",
                                 "insert", "flip", "header", "crlf", "unchanged")))  # fmt: skip
    data = text.encode("utf-8", "surrogateescape")
    if kind == "truncate":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == "empty":
        return draw(st.sampled_from((b"", b"\n", b"   \n\n", b"\xef\xbb\xbf")))
    if kind == "random":
        return draw(st.binary(max_size=600))
    if kind in ("token", "tokens", "header"):
        parts = _SPLIT.split(text)
        words = [i for i, p in enumerate(parts) if p and not _SPLIT.fullmatch(p)]
        if not words:
            return data
        n = 1 if kind != "tokens" else draw(st.integers(2, 8))
        for _ in range(n):
            i = words[0] if kind == "header" else draw(st.sampled_from(words))
            parts[i] = draw(st.sampled_from(WEIRD_TOKENS) | st.text(max_size=6))
        return "".join(parts).encode("utf-8", "surrogatepass")
    lines = data.splitlines(keepends=True)
    if kind in ("lines_del", "lines_dup") and lines:
        a = draw(st.integers(0, len(lines) - 1))
        b = draw(st.integers(a + 1, min(len(lines), a + 30)))
        return b"".join(lines[:a] + (lines[a:b] * 2 if kind == "lines_dup" else []) + lines[b:])
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=20)) + data[at:]
    if kind == "flip" and data:
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 6))):
            out[draw(st.integers(0, len(out) - 1))] ^= draw(st.integers(1, 255))
        return bytes(out)
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    return data


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """A real binary file damaged: truncated, emptied, random, bytes flipped, inserted or overwritten."""
    kind = draw(st.sampled_from(("truncate", "empty", "random", "flip", "insert", "overwrite", "unchanged")))
    if kind == "truncate":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == "empty":
        return b""
    if kind == "random":
        return draw(st.binary(max_size=800))
    out = bytearray(data)
    if kind == "flip" and out:
        for _ in range(draw(st.integers(1, 8))):
            out[draw(st.integers(0, len(out) - 1))] ^= draw(st.integers(1, 255))
    elif kind == "insert":
        at = draw(st.integers(0, len(out)))
        out[at:at] = draw(st.binary(min_size=1, max_size=32))
    elif kind == "overwrite" and out:
        at = draw(st.integers(0, len(out) - 1))
        chunk = draw(st.binary(min_size=1, max_size=16))
        out[at : at + len(chunk)] = chunk
    return bytes(out)


def weird_floats() -> st.SearchStrategy[float]:
    """Floats with NaN, inf, float32 overflow, subnormals and zeros well represented."""
    return st.one_of(
        st.sampled_from((0.0, -0.0, np.nan, np.inf, -np.inf, 1e39, -1e39, 3.4e38, 1e-45, 1e300)),
        st.floats(allow_nan=True, allow_infinity=True, width=64),
        st.floats(-5, 5),
    )
