"""MSRC-12: one clip per tagged instance of the real recordings (counts, windows, metres, sides) and broken files."""

from __future__ import annotations

import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from crossglg.datasets import CLASS_NAMES, FPS, FormatError, scan_dataset
from crossglg.datasets.msrc12 import (
    AFTER_S,
    BEFORE_S,
    Tag,
    clip_windows,
    msrc12_clips,
    read_msrc12_csv,
    read_msrc12_table,
    read_msrc12_times,
    read_tagstream,
    tick_to_us,
)
from crossglg.skeleton.layouts import NTU25

J = NTU25.index
LABEL = {name: k for k, name in enumerate(CLASS_NAMES["msrc12"])}
DATA = "MicrosoftGestureDataset-RC/data"


@pytest.fixture(scope="module")
def msrc(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.getbasetemp() / "dataset-cache"  # shared with the other real-data scans of the session
    return scan_dataset("msrc12", data_dir / "msrc12", cache_dir=cache)


def _tags_in(folder: Path) -> int:
    return sum(len(read_tagstream(p)) for p in folder.glob("*.tagstream"))


@pytest.mark.realdata
def test_msrc12_one_clip_per_tag(data_dir: Path, msrc) -> None:
    samples, skipped = msrc
    folder = data_dir / "msrc12" / DATA
    assert skipped == []  # every tag of every recording becomes a clip
    assert len(list(folder.glob("*.csv"))) == 60 == len({s.path for s in samples})
    assert len(samples) == _tags_in(folder) == 617
    assert len({s.name for s in samples}) == len(samples)
    assert set(Counter(s.label for s in samples)) == set(range(12))
    assert {s.subject for s in samples} == {1, 2, 3}
    assert {s.meta["modality"] for s in samples} == {"images", "video", "video+text"}
    per_file = defaultdict(list)
    for s in samples:
        per_file[s.path].append(s.meta["instance"])
        assert s.name == f"{Path(s.path).stem}#{s.meta['instance']:02d}" and s.fps == FPS["msrc12"] == 30.0
        arr = s.load()
        assert arr.dtype == np.float32 and arr.shape[1:] == (1, 25, 3)
        assert 40 <= arr.shape[0] <= round((BEFORE_S + AFTER_S) * 30) + 2
        assert np.isfinite(arr).any(axis=(1, 2, 3)).all(), "no empty frame inside a clip"
    for path, instances in per_file.items():
        assert sorted(instances) == list(range(1, len(read_tagstream(Path(path).with_suffix(".tagstream"))) + 1))


@pytest.mark.realdata
def test_msrc12_frame_rate_from_timestamps(data_dir: Path) -> None:
    spacing = np.concatenate([np.diff(read_msrc12_times(p)) for p in sorted((data_dir / "msrc12" / DATA).glob("*.csv"))])
    assert 29.0 < 1e6 / np.median(spacing) < 31.0


@pytest.mark.realdata
def test_msrc12_windows_hold_the_tag_and_never_overlap(data_dir: Path) -> None:
    for csv in sorted((data_dir / "msrc12" / DATA).glob("*.csv"))[::6]:
        times = read_msrc12_times(csv)
        clips = sorted(msrc12_clips(csv), key=lambda c: c.tag.time_us)
        for a, b in zip(clips[:-1], clips[1:], strict=True):
            assert a.stop <= b.start, (csv.name, a.index, b.index)
        for c in clips:
            t = times[c.start : c.stop]
            assert t[0] <= c.tag.time_us <= t[-1], "the tagged moment is inside its clip"
            assert c.tag.time_us - t[0] <= BEFORE_S * 1e6 and t[-1] - c.tag.time_us < AFTER_S * 1e6


@pytest.mark.realdata
def test_msrc12_clip_is_the_recording_slice(data_dir: Path, msrc) -> None:
    samples, _ = msrc
    s = next(x for x in samples if x.name == "P3_2_10A_p02#03")
    whole = read_msrc12_csv(s.path)
    clip = next(c for c in msrc12_clips(Path(s.path)) if c.index == 3)
    np.testing.assert_array_equal(s.load(), whole[clip.start : clip.stop])
    # the first instance of every recording loses the no-skeleton frames the recording starts with
    first = next(x for x in samples if x.name == "P2_1_10_p03#01")
    assert np.isfinite(first.load()[0]).all()


@pytest.mark.realdata
def test_msrc12_metres_and_axes(msrc) -> None:
    samples, _ = msrc
    body = np.concatenate([s.load()[:, 0] for s in samples[::10]])
    shoulders = np.nanmedian(np.linalg.norm(body[:, J("ShoulderLeft")] - body[:, J("ShoulderRight")], axis=-1))
    upper = np.nanmedian(np.linalg.norm(body[:, J("ShoulderRight")] - body[:, J("ElbowRight")], axis=-1))
    assert 0.28 < shoulders < 0.40 and 0.20 < upper < 0.32
    assert np.mean(body[:, J("Head"), 1] > body[:, J("SpineBase"), 1]) > 0.99, "y up"
    assert 2.0 < np.nanmedian(body[:, J("SpineMid"), 2]) < 3.5, "metres in front of the sensor"
    # facing the camera, the left shoulder lies at smaller x (Kinect camera axes, not mirrored)
    assert np.nanmedian(body[:, J("ShoulderLeft"), 0] - body[:, J("ShoulderRight"), 0]) < 0


def _moving(seq: np.ndarray, limb: str) -> str:
    base, end = ("Shoulder", "Wrist") if limb == "arm" else ("Hip", "Ankle")
    spread = {s: float(np.nanstd(seq[:, 0, J(end + s)] - seq[:, 0, J(base + s)], axis=0).sum()) for s in ("Left", "Right")}
    return max(spread, key=spread.get)


@pytest.mark.realdata
@pytest.mark.parametrize(("gesture", "limb", "share"), [("push right", "arm", 1.0), ("throw", "arm", 1.0), ("kick", "leg", 0.9)])
def test_msrc12_one_handed_gestures_use_the_right_side(msrc, gesture: str, limb: str, share: float) -> None:
    samples, _ = msrc
    picked = [s for s in samples if s.label == LABEL[gesture]]
    assert len(picked) >= 40
    right = sum(_moving(s.load(), limb) == "Right" for s in picked)
    assert right >= share * len(picked), (gesture, right, len(picked))


def test_clip_windows_split_close_tags_in_proportion() -> None:
    times = np.arange(0, 20e6, 1e6 / 30)  # 20 s at 30 fps
    tags = [Tag(5e6, 1, "a", 2), Tag(6.3e6, 1, "a", 3), Tag(15e6, 1, "a", 4), Tag(25e6, 1, "a", 5)]
    clips = clip_windows(times, tags)
    share = AFTER_S / (BEFORE_S + AFTER_S)
    t = lambda c: (times[c.start], times[c.stop - 1])  # noqa: E731
    assert t(clips[0])[0] == pytest.approx(5e6 - BEFORE_S * 1e6, abs=1e6 / 30)  # full lead-in
    boundary = 5e6 + share * 1.3e6  # the 1.3 s gap is split before : after
    assert clips[0].stop == clips[1].start == np.searchsorted(times, boundary)
    assert t(clips[2])[1] == pytest.approx(15e6 + AFTER_S * 1e6, abs=1e6 / 30)
    assert clips[3].start == clips[3].stop == len(times), "a tag after the recording gives an empty window"
    assert [c.index for c in clips] == [1, 2, 3, 4]
    assert tick_to_us(49875) == pytest.approx(1000.5)


def _frame(t: int, value: float = 0.1) -> str:
    return " ".join([str(t)] + [f"{value + 0.01 * j:.3f} 0.5 2.5 1" for j in range(20)])


def _recording(folder: Path, stem: str = "P1_1_3_p07", tags: str = "G3  Push right") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{stem}.csv"
    lines = [" ".join(["1000"] + ["0"] * 80)] + [_frame(1000 + 33333 * k) for k in range(1, 200)]
    csv.write_text("\n".join(lines) + "\n")
    tick = lambda us: int(round(us * 49875 / 1000))  # noqa: E731
    body = "".join(f"{tick(1000 + 33333 * k)};{tags}\n" for k in (60, 140))
    (folder / f"{stem}.tagstream").write_text("XQPCTick;Tag\n" + body)
    return csv


def test_msrc12_generated_recording(tmp_path: Path) -> None:
    csv = _recording(tmp_path / "data")
    arr = read_msrc12_csv(csv)
    assert arr.shape == (200, 1, 25, 3) and np.isnan(arr[0]).all() and np.isfinite(arr[1]).all()
    samples, skipped = scan_dataset("msrc12", tmp_path, cache_dir=tmp_path / "cache")
    assert not skipped and [s.name for s in samples] == ["P1_1_3_p07#01", "P1_1_3_p07#02"]
    assert all(s.label == LABEL["push right"] and s.subject == 7 and s.meta["modality"] == "text" for s in samples)
    lazy, _ = scan_dataset("msrc12", tmp_path, cache_dir=tmp_path / "cache", lazy=True)
    for a, b in zip(samples, lazy, strict=True):
        np.testing.assert_array_equal(a.load(), b.load())


@pytest.mark.parametrize(
    ("breakage", "match"),
    [
        (lambda c: c.write_text(""), r"P1_1_3_p07.csv:1: no data lines"),
        (lambda c: c.write_text(_frame(1000) + "\n" + _frame(2000)[:-40] + "\n"), r"\.csv:2: expected 81 fields"),
        (lambda c: c.write_text(_frame(1000) + "\n" + _frame(2000).replace("0.5", "abc", 1) + "\n"),
         r"\.csv:2: field 3: non-numeric value 'abc'"),
        (lambda c: c.write_text(_frame(2000) + "\n" + _frame(1000) + "\n"), r"\.csv:2: field 1: timestamp 1000 is not after"),
        (lambda c: c.with_suffix(".tagstream").write_text("tick,tag\n1;G3 Push right\n"),
         r"\.tagstream:1: expected the header 'XQPCTick;Tag'"),
        (lambda c: c.with_suffix(".tagstream").write_text("XQPCTick;Tag\n12x4;G3 Push right\n"),
         r"\.tagstream:2: expected 'tick;tag' with an integer tick"),
        (lambda c: c.with_suffix(".tagstream").write_text("XQPCTick;Tag\n1234;Push right\n"),
         r"\.tagstream:2: tag 'Push right': expected 'G<n> <gesture name>'"),
        (lambda c: c.with_suffix(".tagstream").write_text("XQPCTick;Tag\n"), r"\.tagstream:2: no tagged gesture"),
        (lambda c: c.with_suffix(".tagstream").unlink(), r"P1_1_3_p07.csv: no tagstream file P1_1_3_p07.tagstream"),
        (lambda c: c.with_suffix(".tagstream").write_text("XQPCTick;Tag\n52000000;G8 Throw\n"),
         r"\.tagstream:2: tag G8, but the file name says G3"),
    ],
    ids=["empty", "truncated", "non-numeric", "time-back", "header", "tick", "tag", "no-tags", "no-tagstream", "mismatch"],
)
def test_msrc12_broken_files_are_skipped_with_the_line(tmp_path: Path, breakage, match: str) -> None:
    csv = _recording(tmp_path / "data")
    shutil.copy(csv, tmp_path / "data" / "P1_1_3_p08.csv")
    shutil.copy(csv.with_suffix(".tagstream"), tmp_path / "data" / "P1_1_3_p08.tagstream")
    breakage(csv)
    samples, skipped = scan_dataset("msrc12", tmp_path, cache_dir=tmp_path / "cache")
    assert [s.name for s in samples] == ["P1_1_3_p08#01", "P1_1_3_p08#02"], "the good recording still counts"
    assert len(skipped) == 1 and skipped[0].path == str(csv)
    assert re.search(match, skipped[0].reason), skipped[0].reason


def test_msrc12_readers_raise_format_errors(tmp_path: Path) -> None:
    csv = _recording(tmp_path)
    csv.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(FormatError, match="not a text file"):
        read_msrc12_table(csv)
    with pytest.raises(FormatError, match="not a text file"):
        read_msrc12_times(csv)
    tags = csv.with_suffix(".tagstream")
    tags.write_bytes(b"\xff\xfe")
    with pytest.raises(FormatError, match="not a text file"):
        read_tagstream(tags)


def test_msrc12_unexpected_names_are_skipped(tmp_path: Path) -> None:
    csv = _recording(tmp_path / "data")
    csv.rename(tmp_path / "data" / "P7_1_3_p07.csv")
    csv.with_suffix(".tagstream").rename(tmp_path / "data" / "P7_1_3_p07.tagstream")
    _recording(tmp_path / "data", stem="P1_1_13_p07", tags="G13 Dance")
    samples, skipped = scan_dataset("msrc12", tmp_path, cache_dir=tmp_path / "cache")
    assert samples == []
    reasons = sorted(k.reason for k in skipped)
    assert "label 12 outside 0..11" in reasons[0] and "instruction code P7_1" in reasons[1]
