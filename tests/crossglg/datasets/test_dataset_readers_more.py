"""Kinder-Gator, KARD and Florence 3D readers: real files, the 15-joint mapping tables, broken files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from crossglg.datasets import (
    CLASS_NAMES,
    FPS,
    FormatError,
    kinder_gator_timestamps,
    read_florence_txt,
    read_kard_txt,
    read_kinder_gator_csv,
    scan_dataset,
)
from crossglg.skeleton.joint_maps import FLORENCE15_TO_NTU, KARD15_TO_NTU, Derive, JointMap
from crossglg.skeleton.layouts import KARD15, NTU25

J = NTU25.index
KG_FILE = "kinder_gator/Adults/POSE-p565_01-Raise-your-hand-1469182402284.csv"
KARD_FILE = "kard/kard_realworld/a01_s01_e01_realworld.txt"
FLORENCE_FILE = "florence/florence/a01_s1_id1.txt"


def _standing_person(seq: np.ndarray) -> None:
    """Metres, y up, in front of the sensor, every NTU joint present."""
    body = seq[:, 0]
    assert seq.dtype == np.float32 and seq.shape[1:] == (1, 25, 3)
    assert np.isfinite(body).all()
    assert np.median(body[:, J("Head"), 1] - body[:, J("FootLeft"), 1]) > 1.0
    assert (
        0.2
        < np.median(np.linalg.norm(body[:, J("ShoulderLeft")] - body[:, J("ShoulderRight")], axis=-1))
        < 0.5
    )
    assert 1.0 < np.median(body[:, J("SpineBase"), 2]) < 5.0


# --- real files ---------------------------------------------------------------------------------


@pytest.mark.realdata
def test_kinder_gator_file_by_column_name(data_dir: Path) -> None:
    path = data_dir / KG_FILE
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    seq = read_kinder_gator_csv(path)
    assert seq.shape == (len(rows), 1, 25, 3)
    for v1, ntu in (("HipCenter", "SpineBase"), ("ShoulderCenter", "SpineShoulder"), ("HandRight", "HandRight"),
                    ("FootLeft", "FootLeft")):  # fmt: skip
        raw = [[float(r[v1 + a]) for a in "XYZ"] for r in rows]
        np.testing.assert_allclose(seq[:, 0, J(ntu)], raw, rtol=1e-6)
    np.testing.assert_allclose(kinder_gator_timestamps(path), [float(r["Timestamp"]) for r in rows])
    _standing_person(seq)


@pytest.mark.realdata
def test_kinder_gator_columns_found_by_name(data_dir: Path, tmp_path: Path) -> None:
    """Reordered columns (a different exporter) read the same."""
    with open(data_dir / KG_FILE, newline="") as fh:
        rows = list(csv.reader(fh))
    order = [0, *range(len(rows[0]) - 1, 0, -1)]  # timestamp first, the rest reversed
    out = tmp_path / "POSE-p565_01-Raise-your-hand-1.csv"
    out.write_text("\n".join(",".join(r[k] for k in order) for r in rows) + "\n")
    np.testing.assert_array_equal(read_kinder_gator_csv(out), read_kinder_gator_csv(data_dir / KG_FILE))


@pytest.mark.realdata
def test_kinder_gator_frame_rate(data_dir: Path) -> None:
    files = sorted((data_dir / "kinder_gator").rglob("POSE-*.csv"))[::25]
    per_frame = [np.diff(kinder_gator_timestamps(f)).mean() for f in files]  # ms
    assert abs(1000.0 / np.mean(per_frame) - FPS["kinder_gator"]) < 0.5


@pytest.mark.realdata
def test_kard_file_mm_to_metres_x_flipped(data_dir: Path) -> None:
    raw = np.loadtxt(data_dir / KARD_FILE).reshape(-1, 15, 3)
    seq = read_kard_txt(data_dir / KARD_FILE)
    assert seq.shape == (len(raw), 1, 25, 3)
    for src, ntu in (
        ("Head", "Head"),
        ("RightShoulder", "ShoulderRight"),
        ("Torso", "SpineMid"),
        ("LeftFoot", "AnkleLeft"),
    ):
        np.testing.assert_allclose(
            seq[:, 0, J(ntu)], raw[:, KARD15.index(src)] * [-1e-3, 1e-3, 1e-3], rtol=1e-5
        )
    _standing_person(seq)


@pytest.mark.realdata
def test_florence_file_mm_to_metres(data_dir: Path) -> None:
    raw = np.loadtxt(data_dir / FLORENCE_FILE).reshape(-1, 15, 3)
    seq = read_florence_txt(data_dir / FLORENCE_FILE)
    assert seq.shape == (len(raw), 1, 25, 3)
    np.testing.assert_allclose(seq[:, 0, J("HandLeft")], raw[:, 5] / 1000, rtol=1e-5)
    np.testing.assert_allclose(seq[:, 0, J("AnkleRight")], raw[:, 14] / 1000, rtol=1e-5)
    _standing_person(seq)


@pytest.mark.realdata
def test_florence_joint_order_on_the_data(data_dir: Path) -> None:
    """The README's "believed" order holds: head highest, ankles lowest, neck at shoulder height,
    spine between neck and hips, limb bones of equal length on both sides."""
    raw = np.concatenate(
        [np.loadtxt(f).reshape(-1, 15, 3) for f in sorted((data_dir / "florence").rglob("*.txt"))[::7]]
    )
    y = np.median(raw[..., 1], axis=0)
    assert y.argmax() == 0 and set(np.argsort(y)[:2]) == {11, 14}  # head; L and R ankle
    assert abs(y[1] - (y[3] + y[6]) / 2) < 30  # neck at the shoulders (mm)
    assert (y[9] + y[12]) / 2 < y[2] < y[1]  # spine between hips and neck
    bone = lambda a, b: np.median(np.linalg.norm(raw[:, a] - raw[:, b], axis=-1))  # noqa: E731
    for left, right in (((3, 4), (6, 7)), ((4, 5), (7, 8)), ((9, 10), (12, 13)), ((10, 11), (13, 14))):
        assert abs(bone(*left) - bone(*right)) < 0.05 * bone(*left)
    assert bone(4, 5) > 250 and bone(10, 11) > 350  # forearm to the palm, shin to the ankle


@pytest.mark.realdata
@pytest.mark.parametrize("dataset", ["kard", "florence"])
def test_derived_joints_sit_where_kinect_puts_them(data_dir: Path, tmp_path: Path, dataset: str) -> None:
    samples, _ = scan_dataset(dataset, data_dir / dataset, lazy=True, cache_dir=tmp_path)
    body = np.concatenate([s.load()[:, 0] for s in samples[::10]])
    np.testing.assert_allclose(
        body[:, J("SpineBase")], (body[:, J("HipLeft")] + body[:, J("HipRight")]) / 2, atol=1e-6
    )
    for s in ("Left", "Right"):
        elbow, wrist, hand = (body[:, J(n + s)] for n in ("Elbow", "Wrist", "Hand"))
        np.testing.assert_allclose(np.linalg.norm(wrist - elbow, axis=-1) + np.linalg.norm(hand - wrist, axis=-1),
                                   np.linalg.norm(hand - elbow, axis=-1), rtol=1e-4)  # fmt: skip
        foot, ankle = body[:, J("Foot" + s)], body[:, J("Ankle" + s)]
        assert np.median(foot[:, 1] - ankle[:, 1]) < -0.03  # below the ankle
        assert np.median(foot[:, 2] - ankle[:, 2]) < -0.02  # in front (towards the camera)
        tip = body[:, J("HandTip" + s)]
        assert 0.02 < np.median(np.linalg.norm(tip - hand, axis=-1)) < 0.08
    neck, ss, head = body[:, J("Neck")], body[:, J("SpineShoulder")], body[:, J("Head")]
    assert (neck[:, 1] > ss[:, 1]).mean() > 0.99 and (neck[:, 1] < head[:, 1]).mean() > 0.99


# --- scans --------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_scans_count_label_and_subject(data_dir: Path, tmp_path: Path) -> None:
    kg, skipped = scan_dataset("kinder_gator", data_dir / "kinder_gator", lazy=True, cache_dir=tmp_path)
    assert not skipped and len(kg) == 1159
    assert {s.label for s in kg} == set(range(58)) and len({s.subject for s in kg}) == 20
    groups = {g: {s.subject for s in kg if s.meta["group"] == g} for g in ("adult", "child")}
    assert (
        len(groups["adult"]) == len(groups["child"]) == 10
        and 921 in groups["adult"]
        and 337 in groups["child"]
    )
    s = next(s for s in kg if s.name == "POSE-p565_53-Throw-a-ball--1469183320067")
    assert (CLASS_NAMES["kinder_gator"][s.label], s.subject, s.meta["order"]) == ("throw a ball", 565, 53)
    jump_high = CLASS_NAMES["kinder_gator"].index("jump as high as you can")
    assert sum(s.label == jump_high for s in kg) == 19  # adult 565's trial is missing (README)
    assert not any(s.label == jump_high and s.subject == 565 for s in kg)

    kard, skipped = scan_dataset("kard", data_dir / "kard", lazy=True, cache_dir=tmp_path)
    assert not skipped and len(kard) == 540 and {s.subject for s in kard} == set(range(1, 11))
    assert [(s.name, s.label, s.meta["repetition"]) for s in kard[:2]] == [
        ("a01_s01_e01", 0, 1),
        ("a01_s01_e02", 0, 2),
    ]
    fl, skipped = scan_dataset("florence", data_dir / "florence", lazy=True, cache_dir=tmp_path)
    assert not skipped and len(fl) == 215 and {s.label for s in fl} == set(range(9))
    assert sorted(s.meta["id"] for s in fl) == list(range(1, 216))


@pytest.mark.realdata
def test_body_size_in_metres(data_dir: Path, tmp_path: Path) -> None:
    """Median shoulder width and standing height are adult-sized; Kinder-Gator's children are smaller."""

    def sizes(samples):
        body = np.concatenate([s.load()[:, 0] for s in samples])
        width = np.linalg.norm(body[:, J("ShoulderLeft")] - body[:, J("ShoulderRight")], axis=-1)
        height = body[:, J("Head"), 1] - np.minimum(body[:, J("FootLeft"), 1], body[:, J("FootRight"), 1])
        return float(np.median(width)), float(np.median(height))

    for name in ("kard", "florence"):
        samples, _ = scan_dataset(name, data_dir / name, lazy=True, cache_dir=tmp_path)
        width, height = sizes(
            s for s in samples[::6] if CLASS_NAMES[name][s.label] not in ("sit down", "stand up", "bend")
        )
        assert 0.28 < width < 0.42 and 1.35 < height < 1.8, (name, width, height)
    kg, _ = scan_dataset("kinder_gator", data_dir / "kinder_gator", lazy=True, cache_dir=tmp_path)
    wave = CLASS_NAMES["kinder_gator"].index("wave your hand")
    adult = sizes(s for s in kg if s.label == wave and s.meta["group"] == "adult")
    child = sizes(s for s in kg if s.label == wave and s.meta["group"] == "child")
    assert 0.28 < adult[0] < 0.42 and 1.35 < adult[1] < 1.8, adult
    assert child[1] < adult[1] - 0.15 and child[0] < adult[0], (child, adult)


# --- mapping tables -----------------------------------------------------------------------------


def test_mapping_tables_place_every_ntu_joint_once() -> None:
    for m in (KARD15_TO_NTU, FLORENCE15_TO_NTU):
        assert len(m.copy) == 15 and len(m.derived_joints) == 10
        assert sorted([d for _, d in m.copy] + list(m.derived_joints)) == sorted(NTU25.joints)
        out = m.apply(np.zeros((2, 3, 15, 3)))
        assert out.shape == (2, 3, 25, 3) and out.dtype == np.float32
    with pytest.raises(ValueError, match="reads Neck before it is placed"):
        JointMap("bad", KARD15, KARD15_TO_NTU.copy, (Derive("SpineBase", "Neck", "Head", 0.5),))
    with pytest.raises(ValueError, match="missing"):
        JointMap("short", KARD15, KARD15_TO_NTU.copy, KARD15_TO_NTU.derive[:-1])
    with pytest.raises(ValueError, match="unknown joint"):
        JointMap("typo", KARD15, (("Nek", "Neck"),), ())


def test_missing_source_joint_stays_missing_in_what_it_derives() -> None:
    x = np.random.default_rng(0).normal(size=(4, 15, 3)).astype(np.float32)
    x[1, KARD15.index("LeftHand")] = np.nan
    out = KARD15_TO_NTU.apply(x)
    for n in ("HandLeft", "WristLeft", "HandTipLeft", "ThumbLeft"):
        assert np.isnan(out[1, J(n)]).all()
    assert np.isfinite(out[1, J("HandRight")]).all() and np.isfinite(out[0]).all()


# --- broken files -------------------------------------------------------------------------------


def _expect(reader, path: Path, line: int | None, match: str) -> None:
    with pytest.raises(FormatError, match=match) as info:
        reader(path)
    assert info.value.path == str(path) and str(path) in str(info.value)
    if line is not None:
        assert info.value.line == line and f"{path}:{line}:" in str(info.value)


@pytest.mark.realdata
@pytest.mark.parametrize(("reader", "rel"), [(read_kard_txt, KARD_FILE), (read_florence_txt, FLORENCE_FILE)])
def test_broken_openni_files(data_dir: Path, tmp_path: Path, reader, rel: str) -> None:
    lines = (data_dir / rel).read_text().splitlines()
    p = tmp_path / "broken.txt"
    p.write_text("\n".join(lines[:-4]) + "\n")  # truncated mid-frame
    _expect(reader, p, len(lines) - 4, "not a whole number of 15-joint frames")
    p.write_text("\n".join(lines[:45] + lines[:1]) + "\n")  # one frame with 16 joints
    _expect(reader, p, 46, "last frame has 1")
    bad = list(lines)
    bad[20] = "0.1 abc 0.3"
    p.write_text("\n".join(bad) + "\n")
    _expect(reader, p, 21, "non-numeric")
    bad[20] = lines[20] + " 7"
    p.write_text("\n".join(bad) + "\n")
    _expect(reader, p, 21, "3 numbers")
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    _expect(reader, p, None, "not a text file")
    p.write_text("\n\n")
    _expect(reader, p, 1, "no joint lines")


@pytest.mark.realdata
def test_broken_kinder_gator_files(data_dir: Path, tmp_path: Path) -> None:
    lines = (data_dir / KG_FILE).read_text().splitlines()
    p = tmp_path / "POSE-p565_01-Raise-your-hand-1.csv"
    p.write_text("\n".join(lines[:-1] + [lines[-1][: len(lines[-1]) // 2]]) + "\n")  # cut mid-line
    _expect(read_kinder_gator_csv, p, len(lines), "fields as in the header")
    p.write_text("\n".join([lines[0].replace("ElbowLeftY", "ElbowLeftQ"), *lines[1:]]) + "\n")
    _expect(read_kinder_gator_csv, p, 1, "lacks column.*ElbowLeftY")
    bad = list(lines)
    fields = bad[7].split(",")
    fields[5] = "nan?"
    bad[7] = ",".join(fields)
    p.write_text("\n".join(bad) + "\n")
    _expect(read_kinder_gator_csv, p, 8, "column SpineY: non-numeric")
    p.write_text(lines[0] + "\n")
    _expect(read_kinder_gator_csv, p, 2, "no frames")
    p.write_bytes(bytes(range(128, 256)))
    _expect(read_kinder_gator_csv, p, None, "not a UTF-8")
    p.write_text("")
    _expect(read_kinder_gator_csv, p, 1, "empty file")


@pytest.mark.realdata
def test_scan_skips_broken_and_misnamed_files(data_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "kard"
    root.mkdir()
    good = (data_dir / KARD_FILE).read_text()
    (root / "a01_s01_e01_realworld.txt").write_text(good)
    (root / "a02_s01_e01_realworld.txt").write_text(good[: len(good) // 3 + 7])  # truncated
    (root / "a19_s01_e01_realworld.txt").write_text(good)  # no class 19
    (root / "notes_realworld.txt").write_text(good)
    samples, skipped = scan_dataset("kard", root, cache_dir=tmp_path / "cache")
    assert [s.name for s in samples] == ["a01_s01_e01"]
    reasons = {Path(k.path).name: k.reason for k in skipped}
    assert "truncated" in reasons["a02_s01_e01_realworld.txt"]
    assert "label 18 outside" in reasons["a19_s01_e01_realworld.txt"]
    assert "file name" in reasons["notes_realworld.txt"]
    kg = tmp_path / "kg"
    (kg / "Adults").mkdir(parents=True)
    (kg / "Elsewhere").mkdir()
    src = (data_dir / KG_FILE).read_text()
    (kg / "Adults" / "POSE-p565_01-Raise-your-hand-1.csv").write_text(src)
    (kg / "Adults" / "POSE-p565_02-Dance-1.csv").write_text(src)
    (kg / "Elsewhere" / "POSE-p565_03-Bow-1.csv").write_text(src)
    samples, skipped = scan_dataset("kinder_gator", kg, cache_dir=tmp_path / "cache")
    assert [(s.label, s.meta["group"]) for s in samples] == [(0, "adult")]
    reasons = sorted(k.reason for k in skipped)
    assert "unknown motion 'Dance'" in reasons[0] and "Adults" in reasons[1]
