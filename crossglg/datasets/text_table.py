"""Fixed-width numeric text tables (one record per line), with errors that name the line and field.

:func:`read_number_table` is used by the SBU (comma separated) and MSRC-12 (space separated)
readers: every non-blank line must hold exactly ``fields`` numbers. :func:`read_joint_lines` reads
one ``x y z`` joint per line, a fixed number of lines per frame (GTU 3D, KARD, Florence 3D). In
both, numpy's C parser reads the usual file; only when it fails does a line-by-line pass run, to
say which line and which field is wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .sample import FormatError


def read_number_table(path: Path, fields: int, sep: str | None, layout: str) -> tuple[np.ndarray, list[int]]:
    """``(rows (N, fields) float64, 1-based line number of each row)``; blank lines are skipped.

    ``sep`` is the field separator (``None``: any whitespace); ``layout`` describes the expected
    fields in error messages (e.g. ``"frame number, then 2 x 15 x (x, y, z)"``). Raises
    :class:`FormatError` for non-text content, an empty file, a line with the wrong number of
    fields and a non-numeric field (naming the field's 1-based position).
    """
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise FormatError(path, f"not a text file ({exc.reason} at byte {exc.start}); expected {layout}") from None
    numbered = [(k + 1, line) for k, line in enumerate(text.splitlines()) if line.strip()]
    if not numbered:
        raise FormatError(path, f"no data lines (expected one line per frame: {layout})", line=1)
    rows = [line.split(sep) if sep else line.split() for _, line in numbered]
    for (lineno, line), row in zip(numbered, rows, strict=True):
        if len(row) != fields:
            raise FormatError(
                path, f"expected {fields} fields ({layout}), got {len(row)}: {line[:60]!r}...", line=lineno
            )
    try:
        table = np.array(rows, dtype=np.float64)
    except ValueError:
        for (lineno, _), row in zip(numbered, rows, strict=True):
            for k, value in enumerate(row):
                try:
                    float(value)
                except ValueError:
                    raise FormatError(path, f"field {k + 1}: non-numeric value {value[:30]!r}", line=lineno) from None
        raise
    if not np.isfinite(table).all():
        lineno = numbered[int(np.argwhere(~np.isfinite(table))[0, 0])][0]
        raise FormatError(path, "non-finite value (inf or nan); expected finite numbers", line=lineno)
    return table, [lineno for lineno, _ in numbered]


def read_joint_lines(path: str | Path, joints: int) -> np.ndarray:
    """Text with one ``x y z`` line per joint, ``joints`` lines per frame -> ``(T, joints, 3)`` float64.

    Blank lines are ignored. Raises :class:`FormatError` for non-text content, a line without
    exactly 3 numbers (naming the line) and a joint count that is not a whole number of frames.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise FormatError(
            path, f"not a text file of 'x y z' lines ({exc.reason} at byte {exc.start})"
        ) from None
    tokens = text.split()
    values = None
    numbered = [(k + 1, line) for k, line in enumerate(text.splitlines()) if line.strip()]
    if len(tokens) == 3 * len(numbered):
        try:
            values = np.array(tokens, dtype=np.float64)
        except ValueError:
            values = None
    if values is None:  # slow path only to say which line is wrong
        for lineno, line in numbered:
            fields = line.split()
            if len(fields) != 3:
                hint = " (truncated?)" if lineno == numbered[-1][0] and len(fields) < 3 else ""
                raise FormatError(
                    path, f"expected 3 numbers (x y z), got {len(fields)}{hint}: {line[:60]!r}", line=lineno
                )
            try:
                [float(f) for f in fields]
            except ValueError:
                raise FormatError(path, f"non-numeric value in {line[:60]!r}", line=lineno) from None
    if not numbered:
        raise FormatError(path, f"no joint lines (expected {joints} 'x y z' lines per frame)", line=1)
    if len(numbered) % joints:
        raise FormatError(
            path,
            f"{len(numbered)} joint lines is not a whole number of {joints}-joint frames "
            f"(last frame has {len(numbered) % joints}; truncated?)",
            line=numbered[-1][0],
        )
    return values.reshape(-1, joints, 3)
