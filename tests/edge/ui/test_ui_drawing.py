"""Braille canvas, NTU-25 stick figures and the large-type font."""

from __future__ import annotations

from ui_helpers import WAVE_POSE

from edge.ui.bigtext import big_text
from edge.ui.braille import BRAILLE_BASE, BrailleCanvas, draw_skeleton, fit_points
from edge.ui.widgets import bar


def _dots(rows: list[str]) -> int:
    return sum(bin(ord(c) - BRAILLE_BASE).count("1") for row in rows for c in row if c != " ")


def test_canvas_dots_lines_and_clipping() -> None:
    c = BrailleCanvas(2, 1)  # 4 x 4 dots
    c.set(0, 0)
    c.set(3, 3)
    c.set(9, 9)  # outside: ignored
    assert c.rows_text() == [chr(BRAILLE_BASE + 0x01) + chr(BRAILLE_BASE + 0x80)]
    c = BrailleCanvas(3, 2)
    c.line(0, 0, 5, 7)  # 8 rows down: one dot per row
    assert _dots(c.rows_text()) == 8


def test_fit_points_keeps_proportions_and_centres() -> None:
    pts = fit_points([(0.0, 0.0), (1.0, 2.0), None], width=40, height=40, margin=0)
    (x0, y0), (x1, y1) = pts[0], pts[1]
    assert pts[2] is None
    assert abs((y1 - y0) - 2 * (x1 - x0)) < 1e-9  # one scale for both axes
    assert y1 - y0 == 39 and abs((x0 + x1) / 2 - 19.5) < 1e-9  # fills the height, centred across


def test_skeleton_draws_bones_between_visible_joints_only() -> None:
    rows = draw_skeleton(WAVE_POSE, 16, 8, aspect=4 / 3)
    assert len(rows) == 8 and all(len(r) == 16 for r in rows) and _dots(rows) > 40
    spine = [None] * 25
    spine[0], spine[1] = (0.5, 0.6), (0.5, 0.4)  # SpineBase -> SpineMid is a bone
    assert _dots(draw_skeleton(spine, 16, 8)) == 8 * 4 - 2  # one vertical line, 1-dot margins
    apart = [None] * 25
    apart[0], apart[5] = (0.5, 0.6), (0.7, 0.4)  # SpineBase and ElbowLeft: no bone joins them
    assert _dots(draw_skeleton(apart, 16, 8)) == 2
    assert draw_skeleton([None] * 25, 4, 2) == ["    ", "    "]


def test_big_text_and_fallbacks() -> None:
    rows = big_text("Wave 2", 80)
    assert rows is not None and len(rows) == 3 and len(rows[0]) == 6 * 4 - 1
    assert big_text("wave", 80) == big_text("WAVE", 80)
    assert big_text("caf\u00e9", 80) is None  # not in the font: the widget falls back to plain text
    assert big_text("a very long label", 20) is None  # too wide


def test_score_bar_eighths() -> None:
    assert bar(1.0, 4) == "\u2588" * 4
    assert bar(0.0, 4) == "    "
    assert bar(0.5, 3) == "\u2588\u258c "  # 12 eighths of 24
    assert bar(2.0, 2) == "\u2588\u2588"  # clamped
