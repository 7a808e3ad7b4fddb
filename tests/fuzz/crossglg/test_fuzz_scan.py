"""Fuzzed dataset scanners: file-name parsing of every dataset, and whole scans over folders holding
damaged real files under damaged names. A scan never raises for a file: it keeps a valid sample or
lists the file as skipped with a reason that names it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fuzz_helpers import (
    Source,
    assert_clear,
    assert_skeleton,
    fuzz_settings,
    guarded,
    mutated_bytes,
    mutated_text,
    record,
    write,
)
from hypothesis import example, given
from hypothesis import strategies as st

from crossglg.datasets import CLASS_NAMES, SPECS, scan_dataset
from crossglg.datasets.sample import Sample, Skipped

# one real file per dataset, relative to data_dir; the scan root is the first path component(s)
REAL = {
    "ntu": ("ntu_sample", "S001C001P001R001A001.skeleton"),
    "utd_mhad": ("utd_mhad", "Skeleton/a10_s1_t1_skeleton.mat"),
    "nw_ucla": ("nw_ucla", "all_sqe/a01_s01_e00_v01.json"),
    "gtu3d": ("gtu3d", "1/movement1.txt"),
    "irds": ("irds", "CSVData/215_18_0_1_1_stand.csv"),
    "kinder_gator": ("kinder_gator", "Adults/POSE-p565_01-Raise-your-hand-1469182402284.csv"),
    "kard": ("kard", "kard_realworld/a01_s01_e01_realworld.txt"),
    "florence": ("florence", "florence/a01_s1_id1.txt"),
    "sbu": ("sbu", "SBU/s01s02/01/001/skeleton_pos.txt"),
    "msrc12": ("msrc12", "MicrosoftGestureDataset-RC/data/P2_1_10_p03.csv"),
}

# near-miss name parts: huge, negative-looking, non-ASCII digits, empty
_PIECES = ("0", "00", "1", "01", "99", "999", "9" * 30, "9" * 5000, "\u0663", "\uff11", "", "-1", "x", "_", "..", "A")


@st.composite
def near_names(draw: st.DrawFn, real: str) -> str:
    """The real relative path with digit runs replaced, parts dropped, or arbitrary text."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and "\x00" not in s
                                                            and s not in (".", "..")))  # fmt: skip
    parts = re.split(r"(\d+)", real)
    for i in range(1, len(parts), 2):
        if draw(st.integers(0, 2)) == 0:
            parts[i] = draw(st.sampled_from(_PIECES))
    name = "".join(parts)
    if draw(st.integers(0, 6)) == 0:
        name = name.replace("_", "", 1)
    return name


@pytest.mark.parametrize("dataset", sorted(SPECS))
@fuzz_settings(60)
@given(data=st.data())
def test_name_parsing(dataset: str, data, tmp_path_factory: pytest.TempPathFactory) -> None:
    """``parse_name`` returns (name, int label, int-or-None subject, dict) or raises ValueError, which the
    scan turns into a skipped file; nothing else, for any name."""
    spec = SPECS[dataset]
    sub, rel = REAL[dataset]
    root = Path("/data") / sub
    rel = data.draw(near_names(rel), label="name")
    path = root / rel

    def parse() -> tuple:
        out = spec.parse_name(path, root)
        name, label, subject, meta = out
        assert isinstance(name, str) and name and isinstance(label, int) and isinstance(meta, dict)
        assert subject is None or isinstance(subject, int)
        return out

    out, exc = guarded(parse, (ValueError,))
    record("scanner file names", exc is not None)
    if exc is not None:
        assert_clear(exc, None)


def _place(root: Path, rel: str, data: bytes | str, src: Path) -> Path:
    path = write(root / rel, data)
    tag = src.with_suffix(".tagstream")
    if tag.is_file():  # msrc12: the tagstream travels with its csv
        shutil.copy(tag, path.with_suffix(".tagstream"))
    return path


def _crop(dataset: str, text: str) -> str:
    lines = text.splitlines(keepends=True)
    keep = {"msrc12": 300, "irds": 1 + 25 * 40, "kinder_gator": 60}.get(dataset)
    return "".join(lines[:keep]) if keep else text


@pytest.mark.realdata
@fuzz_settings(70)
@given(data=st.data())
@example(data=None)
def test_scans_survive_damaged_files(data, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A scan over a folder with a real file and a damaged copy (content and/or name) returns; every
    sample loads as a valid skeleton; every skipped file is named in its reason."""
    dataset = "utd_mhad" if data is None else data.draw(st.sampled_from(sorted(REAL)), label="dataset")
    sub, rel = REAL[dataset]
    src = data_dir / sub / rel
    root = tmp_path_factory.mktemp(dataset)
    binary = src.suffix == ".mat"
    real = src.read_bytes() if binary else _crop(dataset, src.read_text(encoding="utf-8"))
    _place(root, rel, real, src)
    if data is not None:
        fits = near_names(rel).filter(lambda n: all(len(part.encode()) < 250 for part in n.split("/")))  # NAME_MAX
        name = data.draw(st.one_of(st.just(rel), fits), label="damaged copy's name")
        if name != rel:
            damaged = data.draw(mutated_bytes(real) if binary else mutated_text(Source(real, rel)), label="content")
            _place(root, name, damaged, src)

    def scan() -> tuple[list[Sample], list[Skipped]]:
        samples, skipped = scan_dataset(dataset, root, use_cache=False)
        for s in samples:
            assert_skeleton(s.load(), 2 if dataset == "sbu" else 1)
            assert 0 <= s.label < len(CLASS_NAMES[dataset])
        for k in skipped:
            assert k.path in k.reason and len(k.reason) > len(k.path) + 8, k
        return samples, skipped

    out, exc = guarded(scan, ())
    assert exc is None
    samples, skipped = out
    record("dataset scans", False)
    assert samples, f"the undamaged real file must still give a sample: {skipped}"
