"""One-shot protocols: official NTU ids and exemplars, reduced base sets, splits, the real-data protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shared_helpers import run_python

from crossglg.datasets import DEFAULT_SUBDIRS, Sample, SkeletonCache, scan_many
from train.protocols import (
    PROTOCOLS,
    Protocol,
    get_protocol,
    kinetics_oneshot,
    ntu60_oneshot,
    ntu120_oneshot,
)

# As printed on the official NTU RGB+D 120 page (one-shot evaluation protocol).
OFFICIAL_NOVEL = ["A1", "A7", "A13", "A19", "A25", "A31", "A37", "A43", "A49", "A55", "A61", "A67", "A73", "A79", "A85", "A91", "A97", "A103", "A109", "A115"]
OFFICIAL_EXEMPLARS = [
    "S001C003P008R001A001", "S001C003P008R001A007", "S001C003P008R001A013", "S001C003P008R001A019",
    "S001C003P008R001A025", "S001C003P008R001A031", "S001C003P008R001A037", "S001C003P008R001A043",
    "S001C003P008R001A049", "S001C003P008R001A055", "S018C003P008R001A061", "S018C003P008R001A067",
    "S018C003P008R001A073", "S018C003P008R001A079", "S018C003P008R001A085", "S018C003P008R001A091",
    "S018C003P008R001A097", "S018C003P008R001A103", "S018C003P008R001A109", "S018C003P008R001A115",
]  # fmt: skip


def test_ntu120_official_split() -> None:
    p = ntu120_oneshot()
    assert p == get_protocol("ntu120") == get_protocol("ntu120-b100")
    assert [f"A{label + 1}" for _, label in p.novel] == OFFICIAL_NOVEL
    assert list(p.exemplars) == OFFICIAL_EXEMPLARS
    assert len(p.base) == 100 and {d for d, _ in p.base} == {"ntu"}
    assert sorted(p.base + p.novel) == [("ntu", k) for k in range(120)]
    assert p.class_names(p.novel[:2]) == ["ntu: drink water", "ntu: throw"]


def test_reduced_base_sets_are_deterministic_spread_and_nested() -> None:
    full = set(ntu120_oneshot(100).base)
    sets = {n: ntu120_oneshot(n).base for n in (20, 40, 60, 80)}
    for n, base in sets.items():
        assert len(base) == len(set(base)) == n and set(base) <= full
        assert ntu120_oneshot(n) == ntu120_oneshot(n)
        assert ntu120_oneshot(n).novel == ntu120_oneshot(100).novel
        labels = sorted(k for _, k in base)
        assert labels[0] < 10 and labels[-1] > 100, "spread over the whole class range"
    assert set(sets[20]) < set(sets[40]) < set(sets[80]) and set(sets[20]) < set(sets[60])
    with pytest.raises(ValueError, match="base_count"):
        ntu120_oneshot(50)


def test_ntu60_protocol() -> None:
    p = ntu60_oneshot()
    assert [label + 1 for _, label in p.novel] == [1, 7, 13, 19, 25, 31, 37, 43, 49, 55]
    assert list(p.exemplars) == OFFICIAL_EXEMPLARS[:10]
    assert sorted(p.base + p.novel) == [("ntu", k) for k in range(60)]
    for n in (10, 20, 30, 40):
        base = get_protocol(f"ntu60-b{n}").base
        assert len(base) == n and set(base) <= set(p.base)
    assert p.ntu_setups == (1, 17)


def test_kinetics_lists() -> None:
    p20, p40 = kinetics_oneshot(20), kinetics_oneshot(40)
    assert [k for _, k in p20.novel] == list(range(3, 384, 20))
    assert [k for _, k in p20.base] == list(range(2, 383, 20))
    assert sorted(k for _, k in p40.base) == sorted([*range(2, 383, 20), *range(4, 385, 20)])
    assert p20.frames == p40.frames == 60 and p20.exemplars == ()


def _fake(name: str, dataset: str, label: int, meta: dict | None = None) -> Sample:
    return Sample(name=name, dataset=dataset, label=label, subject=None, fps=30.0, path="",
                  source=np.zeros((4, 1, 25, 3), np.float32), meta=meta or {})  # fmt: skip


def test_split_on_small_fixture() -> None:
    p = Protocol(
        name="toy", description="toy", base=(("x", 0), ("x", 1)), novel=(("x", 2), ("y", 0)),
        exemplars=("x2_a", "y0_b"),
    )  # fmt: skip
    samples = [_fake(f"x{c}_{k}", "x", c) for c in range(4) for k in "abc"] + [_fake(f"y0_{k}", "y", 0) for k in "abcd"]
    split = p.split(samples)
    assert [s.name for s in split.exemplars] == ["x2_a", "y0_b"]
    assert sorted(s.name for s in split.train) == ["x0_a", "x0_b", "x0_c", "x1_a", "x1_b", "x1_c"]
    assert [s.name for s in split.queries] == ["x2_b", "x2_c", "y0_a", "y0_c", "y0_d"]
    assert p.base_label(("x", 1)) == 1 and p.novel_label(("y", 0)) == 1 and p.datasets == ("x", "y")
    # class x3 is neither base nor novel: ignored everywhere
    assert all(s.label != 3 for s in split.train + split.queries)

    draws = [p.split(samples, exemplar_seed=seed) for seed in range(12)]
    again = p.split(samples, exemplar_seed=5)
    assert [s.name for s in again.exemplars] == [s.name for s in draws[5].exemplars]
    assert len({tuple(s.name for s in d.exemplars) for d in draws}) > 3
    for d in draws:
        assert [s.key for s in d.exemplars] == list(p.novel)
        assert len(d.queries) == 5 and not {s.name for s in d.exemplars} & {s.name for s in d.queries}

    with pytest.raises(ValueError, match="x2_a"):
        p.split([s for s in samples if s.name != "x2_a"])
    with pytest.raises(ValueError, match="no samples"):
        p.split([s for s in samples if s.dataset != "y"])
    with pytest.raises(ValueError, match="both base and novel"):
        Protocol(name="bad", description="", base=(("x", 0),), novel=(("x", 0),))
    with pytest.raises(ValueError, match="exemplar_seed"):
        kinetics_oneshot(20).split([_fake(f"k{k}", "kinetics", k) for k in range(400)])


def test_ntu_split_uses_official_exemplars_and_setups() -> None:
    names = [f"S{s:03d}C003P008R001A{a:03d}" for a in range(1, 121) for s in ((1, 2) if a <= 60 else (18, 19))]
    samples = [_fake(n, "ntu", int(n[-3:]) - 1, {"setup": int(n[1:4])}) for n in names]
    split = ntu120_oneshot(40).split(samples)
    assert [s.name for s in split.exemplars] == OFFICIAL_EXEMPLARS
    assert len(split.queries) == 20 and len(split.train) == 2 * 40
    split60 = ntu60_oneshot(50).split(samples + [_fake("S020C001P001R001A002", "ntu", 1, {"setup": 20})])
    assert len(split60.train) == 100, "setups beyond S017 are not NTU-60"
    assert [s.name for s in split60.exemplars] == OFFICIAL_EXEMPLARS[:10]


def test_registry() -> None:
    for name in PROTOCOLS:
        assert get_protocol(name).name.startswith(name.split("-")[0])
    with pytest.raises(ValueError, match="known"):
        get_protocol("ntu121")


@pytest.fixture(scope="module")
def real_samples(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    cache = SkeletonCache(tmp_path_factory.getbasetemp() / "dataset-cache")
    roots = {n: data_dir / DEFAULT_SUBDIRS[n] for n in ("utd_mhad", "nw_ucla", "gtu3d", "irds")}
    out, skipped = scan_many(roots, cache=cache)
    assert not skipped
    return [s for samples in out.values() for s in samples]


@pytest.mark.realdata
def test_realdata_protocol_counts(data_dir: Path, real_samples: list[Sample]) -> None:
    p = get_protocol("realdata")
    assert [f"a{k + 1}" for _, k in p.novel] == [f"a{a}" for a in range(3, 28, 3)]
    assert len(p.base) == 18 + 10 + 14 + 9 and p.datasets == ("gtu3d", "irds", "nw_ucla", "utd_mhad")
    split = p.split(real_samples)
    # independent counts from the file system
    utd = sorted((data_dir / "utd_mhad" / "Skeleton").glob("a*_s*_t*_skeleton.mat"))
    novel_files = [f for f in utd if int(f.name.split("_")[0][1:]) % 3 == 0]
    aux = (
        len(list((data_dir / "nw_ucla" / "all_sqe").glob("*.json")))
        + len(list((data_dir / "gtu3d").glob("*/movement*.txt")))
        + len(list((data_dir / "irds" / "CSVData").glob("*.csv")))
    )
    assert len(split.exemplars) == 9 and [s.name for s in split.exemplars] == [f"a{a}_s1_t1" for a in range(3, 28, 3)]
    assert len(split.queries) == len(novel_files) - 9
    assert len(split.train) == len(utd) - len(novel_files) + aux
    assert all(s.subject == 1 and s.meta["trial"] == 1 for s in split.exemplars)
    train_labels = {p.base_label(s.key) for s in split.train}
    assert train_labels == set(range(len(p.base)))

    draws = [p.split(real_samples, exemplar_seed=seed) for seed in range(20)]
    assert len({tuple(s.name for s in d.exemplars) for d in draws}) == 20
    assert all(len(d.queries) == len(split.queries) for d in draws)
    assert [s.name for s in p.split(real_samples, exemplar_seed=7).exemplars] == [s.name for s in draws[7].exemplars]

    all27 = get_protocol("realdata-utd27").split(real_samples)
    assert len(all27.exemplars) == 27 and len(all27.queries) == len(utd) - 27 and len(all27.train) == aux


_IMPORT_READERS = r"""
import sys
import train.datasets, train.protocols  # noqa: E401
from train.datasets import scan_dataset, read_ntu_skeleton  # noqa: F401
assert "torch" not in sys.modules
"""


def test_readers_and_protocols_import_without_torch() -> None:
    proc = run_python(_IMPORT_READERS, block=("torch", "transformers"))
    assert proc.returncode == 0, proc.stderr


def test_train_datasets_reexports_the_core_readers() -> None:
    """``train.datasets`` is the core package under its old name: same objects, same public names."""
    import crossglg.datasets as core
    import train.datasets as old

    assert old.__all__ == core.__all__
    for name in core.__all__:
        assert getattr(old, name) is getattr(core, name), name
