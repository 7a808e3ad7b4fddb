"""Dataset scans: names -> labels/subjects, skipped files, the disk cache, and the full real data."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from crossglg.datasets import (
    CACHE_ENV,
    CLASS_NAMES,
    DEFAULT_SUBDIRS,
    NTU60_CLASSES,
    NTU120_CLASSES,
    SPECS,
    SkeletonCache,
    class_name,
    default_cache_dir,
    scan_dataset,
    scan_many,
)

EXPECTED_COUNTS = {"ntu": 1, "utd_mhad": 861, "nw_ucla": 1484, "gtu3d": 508, "irds": 188,
                   "kinder_gator": 1159, "kard": 540, "florence": 215,
                   "sbu": 282, "msrc12": 617}  # fmt: skip


def _utd_subset(data_dir: Path, dst: Path, names: list[str]) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for n in names:
        shutil.copy(data_dir / "utd_mhad" / "Skeleton" / f"{n}_skeleton.mat", dst)
    return dst


@pytest.mark.realdata
def test_scan_reports_broken_files_and_goes_on(data_dir: Path, tmp_path: Path) -> None:
    root = _utd_subset(data_dir, tmp_path / "utd", ["a1_s1_t1", "a1_s2_t1", "a5_s3_t2", "a27_s8_t3"])
    good = (root / "a1_s1_t1_skeleton.mat").read_bytes()
    (root / "a2_s1_t1_skeleton.mat").write_bytes(good[: len(good) // 3])  # truncated
    (root / "a99_s1_t1_skeleton.mat").write_bytes(good)  # no such action
    (root / "notes_skeleton.mat").write_bytes(good)  # unexpected name
    from scipy.io import savemat

    savemat(root / "a3_s1_t1_skeleton.mat", {"d_skel": np.zeros((20, 3, 9))})  # every joint missing
    samples, skipped = scan_dataset("utd_mhad", root, cache_dir=tmp_path / "cache")
    assert [s.name for s in samples] == ["a1_s1_t1", "a1_s2_t1", "a27_s8_t3", "a5_s3_t2"]
    s = samples[2]
    assert (s.dataset, s.label, s.subject, s.meta["trial"], s.fps) == ("utd_mhad", 26, 8, 3, 30.0)
    assert s.frames == s.load().shape[0] and s.load().shape[1:] == (1, 25, 3)
    assert class_name("utd_mhad", s.label) == "squat (two arms stretch out)"
    reasons = {Path(k.path).name: k.reason for k in skipped}
    assert set(reasons) == {"a2_s1_t1_skeleton.mat", "a3_s1_t1_skeleton.mat", "a99_s1_t1_skeleton.mat", "notes_skeleton.mat"}
    assert "no valid joint" in reasons["a3_s1_t1_skeleton.mat"]
    assert "MATLAB" in reasons["a2_s1_t1_skeleton.mat"] and str(root) in reasons["a2_s1_t1_skeleton.mat"]
    assert "label" in reasons["a99_s1_t1_skeleton.mat"]
    assert "file name" in reasons["notes_skeleton.mat"]


@pytest.mark.realdata
def test_cache_hit_avoids_parsing(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "gtu"
    for folder in ("1", "4"):
        shutil.copytree(data_dir / "gtu3d" / folder, root / folder)
    n_files = len(list(root.rglob("movement*.txt")))
    calls: list[Path] = []
    spec = SPECS["gtu3d"]

    def counting_read(path: Path) -> np.ndarray:
        calls.append(path)
        return spec.read(path)

    monkeypatch.setitem(SPECS, "gtu3d", dataclasses.replace(spec, read=counting_read))
    cache_dir = tmp_path / "cache"
    first, _ = scan_dataset("gtu3d", root, cache_dir=cache_dir)
    assert len(calls) == n_files == len(first)
    cache = SkeletonCache(cache_dir)
    second, _ = scan_dataset("gtu3d", root, cache=cache)
    assert len(calls) == n_files, "second scan parsed nothing"
    assert (cache.hits, cache.misses) == (n_files, 0)
    for a, b in zip(first, second, strict=True):
        assert a.name == b.name and a.label == b.label
        np.testing.assert_array_equal(a.load(), b.load())
    assert not list(cache_dir.rglob(".*.tmp")), "atomic writes leave no temp files"

    # a changed file (new mtime) is parsed again; the others still come from the cache
    changed = root / "4" / sorted(os.listdir(root / "4"))[0]
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    scan_dataset("gtu3d", root, cache_dir=cache_dir)
    assert calls[n_files:] == [changed]

    # a corrupt entry is a miss, not an error
    for entry in cache_dir.rglob("*.npy"):
        entry.write_bytes(b"garbage")
    third, _ = scan_dataset("gtu3d", root, cache_dir=cache_dir)
    assert len(calls) == 2 * n_files + 1 and len(third) == n_files

    # a different reader version misses too
    monkeypatch.setitem(SPECS, "gtu3d", dataclasses.replace(SPECS["gtu3d"], version="gtu-txt/test"))
    scan_dataset("gtu3d", root, cache_dir=cache_dir)
    assert len(calls) == 3 * n_files + 1


@pytest.mark.realdata
def test_no_cache_and_lazy_scans(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ucla"
    root.mkdir()
    for name in ("a01_s01_e00_v01", "a12_s10_e04_v03", "a06_s03_e01_v02"):
        shutil.copy(data_dir / "nw_ucla" / "all_sqe" / f"{name}.json", root)
    (root / "a02_s01_e00_v01.json").write_text('{"skeletons": [[[0, 1')
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env-cache"))
    assert default_cache_dir() == tmp_path / "env-cache"
    samples, skipped = scan_dataset("nw_ucla", root, use_cache=False)
    assert not (tmp_path / "env-cache").exists(), "use_cache=False writes nothing"
    assert [(s.name, s.label, s.subject, s.meta["view"]) for s in samples] == [
        ("a01_s01_e00_v01", 0, 1, 1), ("a06_s03_e01_v02", 5, 3, 2), ("a12_s10_e04_v03", 9, 10, 3)
    ]  # fmt: skip
    for s in samples:  # the file's own label (1..10) agrees with the name-derived one
        assert json.loads(Path(s.path).read_text())["label"] == s.label + 1
    assert len(skipped) == 1 and "invalid JSON" in skipped[0].reason

    lazy, lazy_skipped = scan_dataset("nw_ucla", root)  # lazy is opt-in: this one is eager, cached in env dir
    assert (tmp_path / "env-cache" / "skeletons").is_dir() and len(lazy) == 3 and len(lazy_skipped) == 1
    lazy, lazy_skipped = scan_dataset("nw_ucla", root, lazy=True, cache_dir=tmp_path / "c2")
    assert len(lazy) == 4 and not lazy_skipped and all(s.frames is None for s in lazy)
    np.testing.assert_array_equal(lazy[0].load(), samples[0].load())
    broken = next(s for s in lazy if s.name == "a02_s01_e00_v01")
    with pytest.raises(ValueError, match="a02_s01_e00_v01.json:1: invalid JSON"):
        broken.load()


def test_scan_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        scan_dataset("kinetics", tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_dataset("gtu3d", tmp_path / "missing")
    with pytest.raises(ValueError, match="outside"):
        class_name("irds", 9)


def test_class_tables() -> None:
    assert len(NTU120_CLASSES) == 120 and NTU120_CLASSES[:60] == NTU60_CLASSES
    assert NTU120_CLASSES[0] == "drink water" and NTU120_CLASSES[59] == "walking apart from each other"
    assert NTU120_CLASSES[119].startswith("finger-guessing game")
    assert {k: len(v) for k, v in CLASS_NAMES.items()} == {"ntu": 120, "utd_mhad": 27, "nw_ucla": 10, "gtu3d": 14, "irds": 9,
                                                          "kinder_gator": 58, "kard": 18, "florence": 9,
                                                          "sbu": 8, "msrc12": 12}  # fmt: skip
    for names in CLASS_NAMES.values():
        assert len(set(names)) == len(names)


@pytest.mark.realdata
def test_full_real_scan(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """All ~3,000 real files: every one reads, labels and subjects come out as documented."""
    cache = SkeletonCache(tmp_path_factory.getbasetemp() / "dataset-cache")
    out, skipped = scan_many({n: data_dir / d for n, d in DEFAULT_SUBDIRS.items()}, cache=cache)
    assert skipped == []
    assert {k: len(v) for k, v in out.items()} == EXPECTED_COUNTS
    for name, samples in out.items():
        labels = {s.label for s in samples}
        assert labels <= set(range(len(CLASS_NAMES[name])))
        if name != "ntu":
            assert labels == set(range(len(CLASS_NAMES[name]))), name
        assert len({s.name for s in samples}) == len(samples)
        for s in samples[:: max(1, len(samples) // 40)]:
            arr = s.load()
            assert arr.dtype == np.float32 and arr.ndim == 4 and arr.shape[2:] == (25, 3)
            assert s.frames == arr.shape[0] >= 1
            assert np.isfinite(arr).any(axis=(1, 2, 3)).all(), "every frame holds a joint"
    assert {s.subject for s in out["utd_mhad"]} == set(range(1, 9))
    assert {s.subject for s in out["nw_ucla"]} == set(range(1, 11))
    assert {s.subject for s in out["irds"]} == {215, 216, 217}
    assert {s.subject for s in out["gtu3d"]} == {None}
    assert len({s.subject for s in out["kinder_gator"]}) == 20
    assert {s.subject for s in out["kard"]} == {s.subject for s in out["florence"]} == set(range(1, 11))
    assert len({s.subject for s in out["sbu"]}) == 13 and {s.subject for s in out["msrc12"]} == {1, 2, 3}
    assert out["ntu"][0].name == "S001C001P001R001A001" and out["ntu"][0].label == 0
