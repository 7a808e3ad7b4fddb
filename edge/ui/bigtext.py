"""Large type for the current action: a 3x5-pixel font drawn with half blocks (3 terminal rows).

Each glyph is 3 pixels wide and 5 high; two pixel rows share one terminal row (``▀``, ``▄``, ``█``),
so a character is 3 rows tall and 4 columns wide with spacing. Labels are free text: anything the
font lacks (or a label too wide for the space) makes :func:`big_text` return None, and the caller
falls back to ordinary text.
"""

from __future__ import annotations

# 5 rows of 3 pixels per glyph, "#" = on; upper case only (labels are upper-cased first)
_FONT: dict[str, str] = {
    "A": ".#. #.# ### #.# #.#", "B": "##. #.# ##. #.# ##.", "C": ".## #.. #.. #.. .##",
    "D": "##. #.# #.# #.# ##.", "E": "### #.. ##. #.. ###", "F": "### #.. ##. #.. #..",
    "G": ".## #.. #.# #.# .##", "H": "#.# #.# ### #.# #.#", "I": "### .#. .#. .#. ###",
    "J": "..# ..# ..# #.# .#.", "K": "#.# #.# ##. #.# #.#", "L": "#.. #.. #.. #.. ###",
    "M": "#.# ### ### #.# #.#", "N": "##. #.# #.# #.# #.#", "O": ".#. #.# #.# #.# .#.",
    "P": "##. #.# ##. #.. #..", "Q": ".#. #.# #.# ##. .##", "R": "##. #.# ##. #.# #.#",
    "S": ".## #.. .#. ..# ##.", "T": "### .#. .#. .#. .#.", "U": "#.# #.# #.# #.# ###",
    "V": "#.# #.# #.# #.# .#.", "W": "#.# #.# ### ### #.#", "X": "#.# #.# .#. #.# #.#",
    "Y": "#.# #.# .#. .#. .#.", "Z": "### ..# .#. #.. ###",
    "0": "### #.# #.# #.# ###", "1": ".#. ##. .#. .#. ###", "2": "##. ..# .#. #.. ###",
    "3": "##. ..# .#. ..# ##.", "4": "#.# #.# ### ..# ..#", "5": "### #.. ##. ..# ##.",
    "6": ".## #.. ### #.# ###", "7": "### ..# .#. .#. .#.", "8": "### #.# ### #.# ###",
    "9": "### #.# ### ..# ##.",
    " ": "... ... ... ... ...", "-": "... ... ### ... ...", "_": "... ... ... ... ###",
    ".": "... ... ... ... .#.", ",": "... ... ... .#. #..", "'": ".#. .#. ... ... ...",
    "!": ".#. .#. .#. ... .#.", "?": "##. ..# .#. ... .#.", "/": "..# ..# .#. #.. #..",
}  # fmt: skip
_HALF = {(False, False): " ", (True, False): "\u2580", (False, True): "\u2584", (True, True): "\u2588"}
GLYPH_W = 4  # 3 pixels + 1 column of spacing
ROWS = 3


def big_text(text: str, max_width: int) -> list[str] | None:
    """``text`` in large type as 3 strings, or None if a character is missing or it is wider than ``max_width``."""
    text = text.upper()
    if not text or any(ch not in _FONT for ch in text) or len(text) * GLYPH_W - 1 > max_width:
        return None
    pixels = [[False] * (len(text) * GLYPH_W - 1) for _ in range(2 * ROWS)]
    for i, ch in enumerate(text):
        for r, row in enumerate(_FONT[ch].split()):
            for c, px in enumerate(row):
                pixels[r][i * GLYPH_W + c] = px == "#"
    return ["".join(_HALF[(top, bottom)] for top, bottom in zip(pixels[2 * k], pixels[2 * k + 1], strict=True)) for k in range(ROWS)]
