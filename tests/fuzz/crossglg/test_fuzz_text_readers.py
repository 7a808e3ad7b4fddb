"""Fuzzed line-oriented dataset readers: GTU ``.txt``, KARD and Florence ``.txt`` (OpenNI 15 joints),
SBU ``skeleton_pos.txt``, MSRC-12 ``.csv`` and ``.tagstream``, IRDS ``.csv``, Kinder-Gator ``.csv``.

Each case is a real file cropped to a few frames (still valid) and then damaged (see
``fuzz_helpers.mutated_text``); generated cases add what real files never show: every field a
weird number, a wrong joint count per frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fuzz_helpers import (
    WEIRD_TOKENS,
    Source,
    assert_clear,
    check_read,
    crop_lines,
    fuzz_settings,
    guarded,
    mutated_text,
    record,
    write,
)
from hypothesis import example, given
from hypothesis import strategies as st

from crossglg.datasets import (
    FormatError,
    read_florence_txt,
    read_gtu_txt,
    read_irds_csv,
    read_kard_txt,
    read_kinder_gator_csv,
    read_msrc12_csv,
    read_sbu_txt,
    read_tagstream,
)
from crossglg.datasets.msrc12 import Tag, msrc12_clips, read_msrc12_times

MSRC = "msrc12/MicrosoftGestureDataset-RC/data"


@dataclass(frozen=True)
class LineFormat:
    """One text format: real files, how to crop one to a small valid file, its reader."""

    name: str
    files: tuple[str, ...]
    read: Callable[[Path], np.ndarray]
    file_name: str  # the name a case file gets (some readers look at siblings or names)
    crop: Callable[[str], str]
    bodies: int | None = 1


def _middle(text: str, start: int, keep: int) -> str:
    return "".join(text.splitlines(keepends=True)[start : start + keep])


FORMATS = (
    LineFormat("gtu3d .txt", ("gtu3d/1/movement1.txt", "gtu3d/7/movement16.txt"), read_gtu_txt, "movement1.txt",
               lambda t: crop_lines(t, 25 * 4)),
    LineFormat("kard .txt", ("kard/kard_realworld/a01_s01_e01_realworld.txt",), read_kard_txt,
               "a01_s01_e01_realworld.txt", lambda t: crop_lines(t, 15 * 4)),
    LineFormat("florence .txt", ("florence/florence/a01_s1_id1.txt",), read_florence_txt, "a01_s1_id1.txt",
               lambda t: crop_lines(t, 15 * 4)),
    LineFormat("sbu skeleton_pos.txt", ("sbu/SBU/s01s02/01/001/skeleton_pos.txt",), read_sbu_txt,
               "skeleton_pos.txt", lambda t: crop_lines(t, 5), bodies=2),
    LineFormat("msrc12 .csv", (f"{MSRC}/P2_1_10_p03.csv",), read_msrc12_csv, "P2_1_10_p03.csv",
               lambda t: _middle(t, 26, 5)),
    LineFormat("irds .csv", ("irds/CSVData/215_18_0_1_1_stand.csv",), read_irds_csv, "215_18_0_1_1_stand.csv",
               lambda t: crop_lines(t, 25 * 3, header=1)),
    LineFormat("kinder_gator .csv", ("kinder_gator/Adults/POSE-p565_01-Raise-your-hand-1469182402284.csv",),
               read_kinder_gator_csv, "POSE-p565_01-Raise-your-hand-1469182402284.csv",
               lambda t: crop_lines(t, 5, header=1)),
)  # fmt: skip


@pytest.fixture(scope="module")
def sources(data_dir: Path) -> dict[str, list[Source]]:
    return {
        f.name: [Source(f.crop((data_dir / rel).read_text(encoding="utf-8")), rel) for rel in f.files]
        for f in FORMATS
    }


@pytest.mark.realdata
@pytest.mark.parametrize("fmt", FORMATS, ids=[f.name for f in FORMATS])
@fuzz_settings(90)
@given(data=st.data())
def test_damaged_real_text_files(fmt: LineFormat, data, sources: dict[str, list[Source]], fuzz_dir: Path) -> None:
    real = data.draw(st.sampled_from(sources[fmt.name]), label="real file")
    path = write(fuzz_dir / fmt.name.split()[0] / fmt.file_name, data.draw(mutated_text(real), label="case"))
    check_read(fmt.name, fmt.read, path, (FormatError,), bodies=fmt.bodies)


@pytest.mark.realdata
@pytest.mark.parametrize("fmt", FORMATS, ids=[f.name for f in FORMATS])
def test_cropped_real_files_read(fmt: LineFormat, sources: dict[str, list[Source]], fuzz_dir: Path) -> None:
    """The undamaged crops are valid files: the damage above is what gets refused."""
    for real in sources[fmt.name]:
        path = write(fuzz_dir / fmt.name.split()[0] / fmt.file_name, real)
        out = check_read(fmt.name, fmt.read, path, (FormatError,), bodies=fmt.bodies)
        assert out is not None and len(out) >= 3


# ------------------------------------------------------------------------------- generated tables

_NUMBER = st.one_of(st.floats(-3, 3).map(lambda v: f"{v:.4g}"), st.sampled_from(WEIRD_TOKENS))


@st.composite
def xyz_lines(draw: st.DrawFn, joints: int) -> str:
    """``x y z`` lines: a whole number of frames or not, values sometimes weird."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.one_of(st.integers(1, 3).map(lambda f: f * joints), st.integers(0, 4 * joints)))
    rows = [[f"{v:.5g}" for v in rng.uniform(-2000, 2000, 3)] for _ in range(n)]
    for _ in range(draw(st.integers(0, 3)) if rows else 0):
        row = rows[draw(st.integers(0, len(rows) - 1))]
        kind = draw(st.sampled_from(("value", "drop", "extra", "zero")))
        if kind == "value" and row:
            row[draw(st.integers(0, len(row) - 1))] = draw(_NUMBER)
        elif kind == "drop":
            row.pop()
        elif kind == "extra":
            row.append(draw(_NUMBER))
        else:
            row[:] = ["0", "0", "0"]
    return "\n".join(" ".join(r) for r in rows) + "\n"


@fuzz_settings(60)
@given(text=xyz_lines(25))
@example(text="1e39 0 1\n" * 25)  # regression: beyond float32 became inf with an overflow RuntimeWarning
@example(text="0 0 0\n" * 25)  # every joint missing: a valid all-NaN frame
def test_generated_gtu(text: str, fuzz_dir: Path) -> None:
    check_read("gtu3d .txt", read_gtu_txt, write(fuzz_dir / "gen" / "movement1.txt", text), (FormatError,))


@fuzz_settings(60)
@given(text=xyz_lines(15), kard=st.booleans())
@example(text="-1e39 5 1\n" * 15, kard=True)  # regression: float32 overflow warning
def test_generated_openni(text: str, kard: bool, fuzz_dir: Path) -> None:
    read, name = (read_kard_txt, "kard .txt") if kard else (read_florence_txt, "florence .txt")
    check_read(name, read, write(fuzz_dir / "gen" / "a01_s01_e01_realworld.txt", text), (FormatError,))


@st.composite
def tagstreams(draw: st.DrawFn) -> str:
    header = draw(st.sampled_from(("XQPCTick;Tag", "XQPCTick;Tag", "XQPCTick,Tag", "", "\ufeffXQPCTick;Tag")))
    tick = st.one_of(st.integers(0, 10**13).map(str), st.sampled_from(WEIRD_TOKENS), st.just("9" * 5000))
    tag = st.one_of(st.integers(0, 14).map(lambda g: f"G{g} Some gesture"), st.sampled_from(("G", "G1", "x 1", "")),
                    st.just("G" + "9" * 5000 + " x"))  # fmt: skip
    lines = draw(st.lists(st.tuples(tick, st.sampled_from((";", ",", "")), tag), max_size=6))
    return "\n".join([header] + [f"{a}{s}{b}" for a, s, b in lines]) + "\n"


def _valid_tags(tags: list[Tag]) -> list[Tag]:
    assert isinstance(tags, list)
    for t in tags:
        assert isinstance(t, Tag) and np.isfinite(t.time_us) and isinstance(t.gesture, int) and t.line >= 2
    return tags


@pytest.mark.realdata
@fuzz_settings(80)
@given(data=st.data())
@example(data=None)
def test_tagstream(data, data_dir: Path, fuzz_dir: Path) -> None:
    """Damaged real ``.tagstream`` files and generated ones (ticks of 5,000 digits, G<n> of 5,000)."""
    real = (data_dir / MSRC / "P2_1_10_p03.tagstream").read_text(encoding="ascii")
    if data is None:
        text: bytes | str = real
    elif data.draw(st.booleans(), label="generated"):
        text = data.draw(tagstreams(), label="case")
    else:
        text = data.draw(mutated_text(Source(real, "P2_1_10_p03.tagstream")), label="case")
    path = write(fuzz_dir / "tags" / "P2_1_10_p03.tagstream", text)
    tags = check_read("msrc12 .tagstream", read_tagstream, path, (FormatError,), validate=_valid_tags)
    if data is None:
        assert tags and len(tags) >= 5


@pytest.mark.realdata
@fuzz_settings(60)
@given(data=st.data())
def test_msrc12_clips(data, data_dir: Path, fuzz_dir: Path) -> None:
    """The clip cutter over a damaged csv + tagstream pair: clips or the reader's error."""
    csv_text = _middle((data_dir / MSRC / "P2_1_10_p03.csv").read_text(encoding="ascii"), 20, 40)
    tag_text = (data_dir / MSRC / "P2_1_10_p03.tagstream").read_text(encoding="ascii")
    which = data.draw(st.sampled_from(("csv", "tagstream", "both")), label="damaged")
    if which != "tagstream":
        csv_text = data.draw(mutated_text(Source(csv_text, "P2_1_10_p03.csv (40 lines)")), label="csv")
    if which != "csv":
        tag_text = data.draw(mutated_text(Source(tag_text, "P2_1_10_p03.tagstream")), label="tagstream")
    folder = fuzz_dir / "msrc_pair"
    write(folder / "P2_1_10_p03.tagstream", tag_text)
    path = write(folder / "P2_1_10_p03.csv", csv_text)

    def clips(p: Path) -> list:
        out = msrc12_clips(p)
        times = read_msrc12_times(p)
        for c in out:
            assert 0 <= c.start <= c.stop <= len(times)
        return out

    # the error may name either file of the pair: check it names one of them
    out, exc = guarded(lambda: clips(path), (FormatError,))
    record("msrc12 csv+tagstream clips", exc is not None)
    if exc is not None:
        assert_clear(exc, exc.path if exc.path in (str(path), str(path.with_suffix(".tagstream"))) else path)
    else:
        assert isinstance(out, list)
