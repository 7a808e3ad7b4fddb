"""SBU Kinect Interaction: the real 282 files (counts, metres, sides, two people) and broken files."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from crossglg.datasets import CLASS_NAMES, FPS, FormatError, scan_dataset
from crossglg.datasets.sbu import read_sbu_frames, read_sbu_txt, sbu_to_metres
from crossglg.skeleton.layouts import NTU25, SBU15

J = NTU25.index
LABEL = {name: k for k, name in enumerate(CLASS_NAMES["sbu"])}


@pytest.fixture(scope="module")
def sbu(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.getbasetemp() / "dataset-cache"  # shared with the other real-data scans of the session
    samples, skipped = scan_dataset("sbu", data_dir / "sbu", cache_dir=cache)
    return samples, skipped


def _of(samples, name: str) -> list[np.ndarray]:
    return [s.load() for s in samples if s.label == LABEL[name]]


def _bone(seq: np.ndarray, a: str, b: str) -> np.ndarray:
    return np.linalg.norm(seq[..., J(a), :] - seq[..., J(b), :], axis=-1)


@pytest.mark.realdata
def test_sbu_scan_counts_and_shapes(sbu) -> None:
    samples, skipped = sbu
    assert skipped == [] and len(samples) == 282
    assert Counter(s.label for s in samples).keys() == set(range(8))
    assert len({s.name for s in samples}) == 282
    assert len({s.meta["pair"] for s in samples}) == 21  # folders sAAsBB
    assert len({s.subject for s in samples}) == 13  # unordered pairs of people
    for s in samples:
        arr = s.load()
        assert arr.dtype == np.float32 and arr.shape[1:] == (2, 25, 3) and 10 <= arr.shape[0] <= 46
        assert np.isfinite(arr).all(), "no joint is missing in the real files"
        assert s.fps == FPS["sbu"] == 15.0
        a, b = s.meta["person_a"], s.meta["person_b"]
        assert s.subject == 100 * min(a, b) + max(a, b)


@pytest.mark.realdata
def test_sbu_metric_bones_for_both_people(sbu) -> None:
    samples, _ = sbu
    allseq = np.concatenate([s.load() for s in samples])  # (N, 2, 25, 3)
    for person in (0, 1):
        body = allseq[:, person]
        shoulders = np.median(_bone(body, "ShoulderLeft", "ShoulderRight"))
        upper = np.median(_bone(body, "ShoulderRight", "ElbowRight"))
        thigh = np.median(_bone(body, "HipLeft", "KneeLeft"))
        assert 0.25 < shoulders < 0.40 and 0.22 < upper < 0.35 and 0.35 < thigh < 0.50, (person, shoulders, upper)
        # y up: the head is above the hips; depth in front of the sensor
        assert np.mean(body[:, J("Head"), 1] > body[:, J("SpineBase"), 1]) > 0.99
        assert body[..., 2].min() > 0.7 and body[..., 2].max() < 3.6
    ratio = np.median(_bone(allseq[:, 0], "ShoulderLeft", "ElbowLeft")) / np.median(
        _bone(allseq[:, 1], "ShoulderLeft", "ElbowLeft")
    )
    assert 0.9 < ratio < 1.1, "both people are converted the same way"


def _bone_cv(seqs: list[np.ndarray]) -> float:
    """Median over sequences, people and 14 bones of a bone's length std / mean within the sequence."""
    bones = [(0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8), (9, 10), (10, 11), (12, 13), (13, 14), (3, 6), (9, 12),
             (1, 3), (1, 6)]  # fmt: skip
    lengths = [np.linalg.norm(q[:, :, i] - q[:, :, j], axis=-1).T for q in seqs for i, j in bones]  # (2, T) each
    cvs = [np.std(b) / np.mean(b) for pair in lengths for b in pair]
    return float(np.median(cvs))


@pytest.mark.realdata
def test_sbu_coordinates_are_linear_millimetres_not_pixels(data_dir: Path) -> None:
    """The source's inverse is a linear map to camera space: bones keep their length within a
    sequence far better than when x', y' are read as image fractions and back-projected."""
    raw = [read_sbu_frames(p)[1] for p in sorted((data_dir / "sbu").rglob("skeleton_pos.txt"))]
    linear = _bone_cv([sbu_to_metres(q) for q in raw])
    # Kinect v1 fields of view 57 x 43 degrees: the image spans 1.086 Z across and 0.788 Z down
    def pinhole(q: np.ndarray) -> np.ndarray:
        z = sbu_to_metres(q)[..., 2]
        return np.stack([(0.5 - q[..., 0]) * 1.086 * z, (0.5 - q[..., 1]) * 0.788 * z, z], axis=-1)

    assert linear < 0.012 and linear < 0.5 * _bone_cv([pinhole(q) for q in raw])
    for scale in (0.95, 1.05):  # the source's depth scale is the best one
        assert linear < _bone_cv([sbu_to_metres(q) * np.array([1.0, 1.0, scale]) for q in raw])


def _gap(q: np.ndarray) -> np.ndarray:
    """Torso-to-torso distance per frame ``(T,)``."""
    return np.linalg.norm(q[:, 0, J("SpineMid")] - q[:, 1, J("SpineMid")], axis=-1)


def _foot_up(q: np.ndarray) -> float:
    """Highest ankle height above its own hip, over both people and both legs."""
    return max((q[:, m, J(f"Ankle{s}"), 1] - q[:, m, J(f"Hip{s}"), 1]).max() for m in (0, 1) for s in ("Left", "Right"))


def _hand_to_head(q: np.ndarray) -> float:
    """Closest approach of either person's hand to the other's head."""
    hands = ("HandLeft", "HandRight")
    return min(np.linalg.norm(q[:, m, J(h)] - q[:, 1 - m, J("Head")], axis=-1).min() for m in (0, 1) for h in hands)


def _right_hands(q: np.ndarray) -> float:
    return float(np.linalg.norm(q[:, 0, J("HandRight")] - q[:, 1, J("HandRight")], axis=-1).min())


@pytest.mark.realdata
def test_sbu_folders_are_the_named_interactions(sbu) -> None:
    """The folder order (not the data README's list order) is what each folder's motion shows."""
    samples, _ = sbu

    def median(name, fn):
        return float(np.median([fn(q) for q in _of(samples, name)]))

    assert median("approaching", lambda q: _gap(q)[-1] - _gap(q)[0]) < -0.5
    assert median("departing", lambda q: _gap(q)[-1] - _gap(q)[0]) > 0.5
    others = [n for n in CLASS_NAMES["sbu"] if n != "kicking"]
    assert median("kicking", _foot_up) > -0.25 > max(median(n, _foot_up) for n in others)
    assert median("shaking hands", _right_hands) < 0.1
    assert median("hugging", lambda q: _gap(q).min()) < 0.35 < median("exchanging objects", lambda q: _gap(q).min())
    assert median("punching", _hand_to_head) < median("exchanging objects", _hand_to_head) - 0.2


@pytest.mark.realdata
def test_sbu_sides_are_anatomical(sbu) -> None:
    samples, _ = sbu
    punches = _of(samples, "punching")
    right = 0
    for q in punches:  # the hand that comes nearest the partner's head
        d = {(m, h): np.linalg.norm(q[:, m, J(f"Hand{h}")] - q[:, 1 - m, J("Head")], axis=-1).min()
             for m in (0, 1) for h in ("Left", "Right")}  # fmt: skip
        right += min(d, key=d.get)[1] == "Right"
    assert right >= 0.9 * len(punches)
    kicks = _of(samples, "kicking")
    right = 0
    for q in kicks:  # the ankle raised highest above its hip
        d = {(m, s): (q[:, m, J(f"Ankle{s}"), 1] - q[:, m, J(f"Hip{s}"), 1]).max()
             for m in (0, 1) for s in ("Left", "Right")}  # fmt: skip
        right += max(d, key=d.get)[1] == "Right"
    assert right >= 0.9 * len(kicks)
    # geometry: each person faces the partner with "left x up" (out of the chest in a right-handed frame)
    facing = []
    for s in samples:
        q = s.load()
        for m in (0, 1):
            left = q[:, m, J("ShoulderLeft")] - q[:, m, J("ShoulderRight")]
            up = q[:, m, J("SpineShoulder")] - q[:, m, J("SpineBase")]
            toward = q[:, 1 - m, J("SpineMid")] - q[:, m, J("SpineMid")]
            facing.append(np.median(np.einsum("ti,ti->t", np.cross(left, up), toward)) > 0)
    assert np.mean(facing) > 0.85


@pytest.mark.realdata
def test_sbu_person_order_and_copied_joints_follow_the_file(data_dir: Path) -> None:
    path = data_dir / "sbu" / "SBU" / "s01s02" / "05" / "001" / "skeleton_pos.txt"
    frames, raw = read_sbu_frames(path)
    out = read_sbu_txt(path)
    assert (np.diff(frames) == 1).all() and out.shape == (len(frames), 2, 25, 3)
    metres = sbu_to_metres(raw)  # (T, 2, 15, 3)
    for sbu_joint, ntu_joint in (("Head", "Head"), ("Neck", "SpineShoulder"), ("RightHand", "HandRight"),
                                 ("LeftFoot", "AnkleLeft")):  # fmt: skip
        np.testing.assert_allclose(out[:, :, J(ntu_joint)], metres[:, :, SBU15.index(sbu_joint)], atol=1e-6)


def test_sbu_unit_conversion() -> None:
    # image-centre x' = 0.5, y' = 0.5 is the optical axis; z' = 1.5625 is 2 m
    np.testing.assert_allclose(sbu_to_metres([0.5, 0.5, 1.5625]), [0.0, 0.0, 2.0])
    np.testing.assert_allclose(sbu_to_metres([0.0, 1.0, 0.78125]), [1.28, -0.96, 1.0])


def _line(frame: int, value: float = 0.5) -> str:
    return ",".join([str(frame)] + [f"{value + 0.001 * k:.5f}" for k in range(90)])


def test_sbu_generated_file_and_missing_joint(tmp_path: Path) -> None:
    path = tmp_path / "skeleton_pos.txt"
    lines = [_line(1), _line(2)]
    fields = lines[1].split(",")
    fields[1 + 45 + 3 : 1 + 45 + 6] = ["0", "0", "0"]  # person 2, neck: missing
    lines[1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    out = read_sbu_txt(path)
    assert out.shape == (2, 2, 25, 3) and out.dtype == np.float32
    assert np.isnan(out[1, 1, J("SpineShoulder")]).all() and np.isfinite(out[1, 0]).all()
    assert np.isnan(out[1, 1, J("Neck")]).all(), "derived from the missing joint"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", r"skeleton_pos.txt:1: no data lines"),
        ("1,0.5,0.5\n", r"skeleton_pos.txt:1: expected 91 fields"),
        (_line(1) + "\n" + _line(2)[:-9] + "\n", r"skeleton_pos.txt:2: expected 91 fields \(frame number, then 2 people"),
        (_line(1) + "\n" + _line(2).replace("0.52", "x.52", 1) + "\n", r"skeleton_pos.txt:2: field \d+: non-numeric value 'x.52"),
        (_line(1) + "\n" + _line(2).replace("2,", "2.5,", 1) + "\n", r"skeleton_pos.txt:2: field 1: frame number 2.5"),
        (_line(1) + "\n" + _line(2).replace("0.52000", "inf", 1) + "\n", r"skeleton_pos.txt:2: non-finite"),
    ],
    ids=["empty", "short", "truncated", "non-numeric", "fractional-frame", "inf"],
)
def test_sbu_broken_files_name_the_line(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "skeleton_pos.txt"
    path.write_text(content)
    with pytest.raises(FormatError, match=match):
        read_sbu_txt(path)


def test_sbu_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "skeleton_pos.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(FormatError, match="not a text file"):
        read_sbu_txt(path)


@pytest.mark.realdata
def test_sbu_scan_skips_broken_and_misplaced_files(data_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "sbu"
    good = data_dir / "sbu" / "SBU" / "s01s02" / "01" / "001" / "skeleton_pos.txt"
    for rel in ("s01s02/01/001", "s02s01/08/002"):
        (root / rel).mkdir(parents=True)
        shutil.copy(good, root / rel / "skeleton_pos.txt")
    (root / "s03s04" / "02" / "001").mkdir(parents=True)
    (root / "s03s04" / "02" / "001" / "skeleton_pos.txt").write_text(_line(1)[:-20])  # truncated
    (root / "s03s04" / "09" / "001").mkdir(parents=True)
    shutil.copy(good, root / "s03s04" / "09" / "001" / "skeleton_pos.txt")  # no interaction 09
    (root / "misc").mkdir()
    shutil.copy(good, root / "misc" / "skeleton_pos.txt")
    samples, skipped = scan_dataset("sbu", root, cache_dir=tmp_path / "cache")
    assert [(s.name, s.label, s.subject) for s in samples] == [("s01s02/01/001", 0, 102), ("s02s01/08/002", 7, 102)]
    reasons = sorted(k.reason for k in skipped)
    assert len(reasons) == 3
    assert any("s03s04/02/001/skeleton_pos.txt:1: expected 91 fields" in r for r in reasons)
    assert any("label 8 outside 0..7" in r for r in reasons)
    assert any("misc/skeleton_pos.txt: unexpected file name" in r for r in reasons)
