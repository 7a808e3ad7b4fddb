"""Braille line drawing for the terminal: a dot canvas and an NTU-25 stick figure.

A terminal cell holds one braille character = a 2 x 4 grid of dots, so a ``cols x rows`` cell area
is a ``2*cols x 4*rows`` dot canvas. Cells are about twice as tall as wide, which makes the dots
roughly square: skeletons keep their proportions with one uniform scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from crossglg.skeleton.layouts import NTU25

BRAILLE_BASE = 0x2800
# bit of the dot at (column 0..1, row 0..3) inside one braille cell (Unicode's dot numbering)
_DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))

Point = tuple[float, float]


class BrailleCanvas:
    """A ``cols x rows`` cell canvas with ``2*cols x 4*rows`` dots; (0, 0) is the top-left dot."""

    def __init__(self, cols: int, rows: int) -> None:
        if cols < 1 or rows < 1:
            raise ValueError(f"braille canvas needs at least 1x1 cells, got {cols}x{rows}")
        self.cols, self.rows = cols, rows
        self._cells = [[0] * cols for _ in range(rows)]

    @property
    def width(self) -> int:
        """Dots across."""
        return 2 * self.cols

    @property
    def height(self) -> int:
        """Dots down."""
        return 4 * self.rows

    def set(self, x: int, y: int) -> None:
        """Light the dot at ``(x, y)``; dots outside the canvas are ignored (clipping)."""
        if 0 <= x < self.width and 0 <= y < self.height:
            self._cells[y // 4][x // 2] |= _DOT_BITS[x % 2][y % 4]

    def line(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """A straight line between two dot positions (sampled once per dot along the longer axis)."""
        steps = max(1, math.ceil(max(abs(x1 - x0), abs(y1 - y0))))
        for i in range(steps + 1):
            t = i / steps
            self.set(round(x0 + (x1 - x0) * t), round(y0 + (y1 - y0) * t))

    def rows_text(self) -> list[str]:
        """The canvas as ``rows`` strings of ``cols`` characters (blank cells are spaces)."""
        return ["".join(chr(BRAILLE_BASE + c) if c else " " for c in row) for row in self._cells]


def fit_points(
    points: Sequence[Point | None], width: int, height: int, margin: int = 1, aspect: float = 1.0
) -> list[Point | None]:
    """Map points to dot coordinates so their bounding box fills ``width x height`` dots, centred.

    ``points``: image coordinates (x right, y down), any scale; ``None`` = joint not visible.
    ``aspect``: how much wider one x unit is than one y unit (4/3 for normalised 640x480 points), so
    the figure keeps its proportions. One uniform scale for both axes.
    """
    seen = [(x * aspect, y) for p in points if p is not None for x, y in (p,)]
    if not seen:
        return [None] * len(points)
    xs, ys = [p[0] for p in seen], [p[1] for p in seen]
    x_min, x_max, y_min, y_max = min(xs), max(xs), min(ys), max(ys)
    avail_w, avail_h = max(1, width - 1 - 2 * margin), max(1, height - 1 - 2 * margin)
    span_x, span_y = x_max - x_min, y_max - y_min
    # a degenerate box (one point, or a vertical/horizontal line) still gets a finite scale
    scale = min(avail_w / span_x if span_x > 1e-9 else math.inf, avail_h / span_y if span_y > 1e-9 else math.inf)
    if not math.isfinite(scale):
        scale = 1.0
    off_x = margin + (avail_w - span_x * scale) / 2
    off_y = margin + (avail_h - span_y * scale) / 2
    out: list[Point | None] = []
    for p in points:
        if p is None:
            out.append(None)
        else:
            out.append((off_x + (p[0] * aspect - x_min) * scale, off_y + (p[1] - y_min) * scale))
    return out


def draw_skeleton(
    points: Sequence[Point | None],
    cols: int,
    rows: int,
    edges: Sequence[tuple[int, int]] = NTU25.edges,
    aspect: float = 1.0,
) -> list[str]:
    """Draw a stick figure of ``points`` (V joints, default NTU-25 order) into ``cols x rows`` cells.

    Bones whose two ends are both visible are drawn; an isolated visible joint is drawn as a dot.
    Returns ``rows`` strings of ``cols`` braille characters.
    """
    canvas = BrailleCanvas(cols, rows)
    fitted = fit_points(points, canvas.width, canvas.height, aspect=aspect)
    drawn: set[int] = set()
    for a, b in edges:
        if a < len(fitted) and b < len(fitted):
            pa, pb = fitted[a], fitted[b]
            if pa is not None and pb is not None:
                canvas.line(pa[0], pa[1], pb[0], pb[1])
                drawn.update((a, b))
    for j, p in enumerate(fitted):
        if p is not None and j not in drawn:
            canvas.set(round(p[0]), round(p[1]))
    return canvas.rows_text()
