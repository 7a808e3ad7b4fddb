"""Fixed-width numeric text tables (one record per line), with errors that name the line and field.

Used by the SBU (comma separated) and MSRC-12 (space separated) readers: every non-blank line
must hold exactly ``fields`` numbers. numpy's C parser reads the usual file; only when it fails
does a line-by-line pass run, to say which line and which field is wrong.
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
