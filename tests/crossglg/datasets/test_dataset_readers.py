"""Readers: real files of every format, NTU body selection, and malformed copies of real files."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from crossglg.datasets import (
    FormatError,
    read_ctrgcn_npz,
    read_gtu_txt,
    read_irds_csv,
    read_ntu_skeleton,
    read_ntu_skeleton_full,
    read_nwucla_json,
    read_pyskl_pickle,
    read_utd_mat,
)
from crossglg.skeleton.layouts import NTU25

J = {name: i for i, name in enumerate(NTU25.joints)}
NTU_FILE = "ntu_sample/S001C001P001R001A001.skeleton"
UTD_FILE = "utd_mhad/Skeleton/a1_s1_t1_skeleton.mat"
UCLA_FILE = "nw_ucla/all_sqe/a01_s01_e00_v01.json"
GTU_FILE = "gtu3d/1/movement1.txt"
IRDS_FILE = "irds/CSVData/215_18_0_1_1_stand.csv"


def _plausible_person(seq: np.ndarray) -> None:
    """A standing person in Kinect camera space: finite, head above hips, torso 0.3-0.8 m."""
    body = seq[:, 0]
    assert np.isfinite(body).all()
    assert np.median(body[:, J["Head"], 1] - body[:, J["SpineBase"], 1]) > 0.3
    torso = np.linalg.norm(body[:, J["SpineShoulder"]] - body[:, J["SpineBase"]], axis=-1)
    assert 0.3 < np.median(torso) < 0.8
    assert 0.5 < np.median(body[:, J["SpineBase"], 2]) < 6.0  # in front of the sensor


# --- real files ---------------------------------------------------------------------------------


@pytest.mark.realdata
def test_ntu_sample(data_dir: Path) -> None:
    path = data_dir / NTU_FILE
    seq = read_ntu_skeleton(path)
    assert seq.shape == (103, 1, 25, 3) and seq.dtype == np.float32
    _plausible_person(seq)
    full = read_ntu_skeleton_full(path)
    np.testing.assert_array_equal(full.xyz, seq)
    assert full.color_xy.shape == (103, 1, 25, 2) and full.depth_xy.shape == (103, 1, 25, 2)
    assert ((full.color_xy[..., 0] > 0) & (full.color_xy[..., 0] < 1920)).all()
    assert ((full.color_xy[..., 1] > 0) & (full.color_xy[..., 1] < 1080)).all()
    assert ((full.depth_xy[..., 0] > 0) & (full.depth_xy[..., 0] < 512)).all()
    # image y grows downwards: the head is above the hips in the colour frame
    assert (full.color_xy[:, 0, J["Head"], 1] < full.color_xy[:, 0, J["SpineBase"], 1]).all()
    assert set(np.unique(full.tracking)) <= {0, 1, 2} and (full.tracking == 2).mean() > 0.8
    assert full.body_ids == (("72057594037931101",),)
    # first joint line of the file, verbatim
    first = (data_dir / NTU_FILE).read_text().splitlines()[4].split()
    np.testing.assert_allclose(full.xyz[0, 0, 0], [float(v) for v in first[:3]], rtol=1e-6)
    np.testing.assert_allclose(full.color_xy[0, 0, 0], [float(v) for v in first[5:7]], rtol=1e-6)


@pytest.mark.realdata
def test_utd_file(data_dir: Path) -> None:
    from scipy.io import loadmat

    raw = loadmat(str(data_dir / UTD_FILE))["d_skel"]  # (20, 3, T), head first
    seq = read_utd_mat(data_dir / UTD_FILE)
    assert seq.shape == (raw.shape[2], 1, 25, 3) and seq.dtype == np.float32
    np.testing.assert_allclose(seq[:, 0, J["Head"]], raw[0].T, rtol=1e-6)
    np.testing.assert_allclose(seq[:, 0, J["SpineBase"]], raw[3].T, rtol=1e-6)
    _plausible_person(seq)


@pytest.mark.realdata
def test_nwucla_file(data_dir: Path) -> None:
    raw = json.loads((data_dir / UCLA_FILE).read_text())["skeletons"]
    seq = read_nwucla_json(data_dir / UCLA_FILE)
    assert seq.shape == (len(raw), 1, 25, 3)
    np.testing.assert_allclose(seq[:, 0, J["Head"]], np.array(raw)[:, 3], rtol=1e-6)
    _plausible_person(seq)


@pytest.mark.realdata
def test_gtu_file(data_dir: Path) -> None:
    lines = [ln for ln in (data_dir / GTU_FILE).read_text().splitlines() if ln.strip()]
    seq = read_gtu_txt(data_dir / GTU_FILE)
    assert seq.shape == (len(lines) // 25, 1, 25, 3)
    np.testing.assert_allclose(seq[1, 0, 3], [float(v) for v in lines[25 + 3].split()], rtol=1e-6)
    _plausible_person(seq)


@pytest.mark.realdata
def test_irds_file(data_dir: Path) -> None:
    with open(data_dir / IRDS_FILE, newline="") as fh:
        rows = list(csv.DictReader(fh))
    stamps = {(r["Timestamp1"], r["Timestamp2"], r["Timestamp3"]) for r in rows}
    seq = read_irds_csv(data_dir / IRDS_FILE)
    assert seq.shape == (len(stamps), 1, 25, 3)
    head = [r for r in rows if r["JointName"] == "Head"]
    np.testing.assert_allclose(seq[:, 0, J["Head"], 0], [float(r["X"]) for r in head], rtol=1e-6)
    _plausible_person(seq)


@pytest.mark.realdata
def test_irds_untracked_joints_are_missing(data_dir: Path, tmp_path: Path) -> None:
    text = (data_dir / IRDS_FILE).read_text().splitlines()
    k = next(i for i, line in enumerate(text) if ",ElbowLeft,Tracked," in line)
    text[k] = text[k].replace(",Tracked,", ",NotTracked,")
    path = tmp_path / "215_18_0_1_1_stand.csv"
    path.write_text("\n".join(text) + "\n")
    seq = read_irds_csv(path)
    frame = (k - 1) // 25
    assert np.isnan(seq[frame, 0, J["ElbowLeft"]]).all()
    assert np.isfinite(np.delete(seq[:, 0], J["ElbowLeft"], axis=1)).all()


# --- NTU multi-body selection ---------------------------------------------------------------------


def _write_ntu(path: Path, frames: list[list[tuple[str, np.ndarray]]]) -> None:
    """Write a raw NTU file; each frame is a list of (bodyID, xyz (25, 3))."""
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for bid, xyz in bodies:
            out += [f"{bid} 0 1 1 1 1 0 0.0 0.0 2", "25"]
            out += [f"{x:.6f} {y:.6f} {z:.6f} 250 200 1000 500 1 0 0 0 2" for x, y, z in xyz]
    path.write_text("\n".join(out) + "\n")


@pytest.mark.realdata
def test_ntu_body_selection(data_dir: Path, tmp_path: Path) -> None:
    actor = read_ntu_skeleton(data_dir / NTU_FILE)[:, 0].astype(np.float64)  # (103, 25, 3)
    t = len(actor)
    rng = np.random.default_rng(0)
    # partner: 1 m to the side, waving (more motion than the drinking actor); tracked as two bodyIDs in turn
    partner = actor + [1.0, 0.0, 0.3]
    partner[:, [J["WristRight"], J["HandRight"]], 1] += 0.3 * np.sin(np.linspace(0, 12, t))[:, None]
    table = rng.normal(0, 0.005, (t, 25, 3)) + [0.0, -0.6, 2.5]
    table[:, :, 0] += np.linspace(-0.6, 0.6, 25)  # wide and flat: an object
    frames = []
    for k in range(t):
        bodies = [("1001", actor[k]), ("3003", table[k])]
        bodies.append(("2001" if k < 50 else "2002", partner[k]))
        if 40 <= k < 45:
            bodies.append(("4004", actor[k] + 0.5))  # a ghost seen for 5 frames
        frames.append(bodies)
    path = tmp_path / "S001C001P001R001A055.skeleton"
    _write_ntu(path, frames)
    full = read_ntu_skeleton_full(path)
    assert full.xyz.shape == (t, 2, 25, 3) and np.isfinite(full.xyz).all()
    assert full.body_ids == (("2001", "2002"), ("1001",))  # most motion first, split track merged
    np.testing.assert_allclose(full.xyz[:, 0], partner, atol=1e-5)
    np.testing.assert_allclose(full.xyz[:, 1], actor, atol=1e-5)
    one = read_ntu_skeleton(path, max_bodies=1)
    assert one.shape == (t, 1, 25, 3)
    np.testing.assert_allclose(one[:, 0], partner, atol=1e-5)


def test_ntu_zero_joints_and_empty_frames_are_nan(tmp_path: Path) -> None:
    xyz = np.tile(np.linspace(0.1, 1.0, 25)[:, None], (1, 3)) + [0, 0, 3.0]
    frames = [[("7", xyz)] for _ in range(15)]
    frames[3] = [("7", np.where(np.arange(25)[:, None] == 5, 0.0, xyz))]
    frames[4] = []  # nobody tracked in this frame
    path = tmp_path / "S002C001P003R002A010.skeleton"
    _write_ntu(path, frames)
    full = read_ntu_skeleton_full(path)
    assert full.xyz.shape == (15, 1, 25, 3)
    assert np.isnan(full.xyz[3, 0, 5]).all() and np.isfinite(full.xyz[3, 0, 6]).all()
    assert np.isnan(full.xyz[4]).all() and (full.tracking[4] == -1).all()
    empty = tmp_path / "S001C001P001R001A002.skeleton"
    _write_ntu(empty, [[] for _ in range(8)])
    with pytest.raises(FormatError, match="no body in any of its 8 frames"):
        read_ntu_skeleton(empty)


# --- preprocessed NTU (pyskl pickle, CTR-GCN npz) -----------------------------------------------


@pytest.mark.realdata
def test_pyskl_pickle_and_ctrgcn_npz(data_dir: Path, tmp_path: Path) -> None:
    seq = read_ntu_skeleton(data_dir / NTU_FILE)  # (103, 1, 25, 3)
    kp = np.concatenate([seq, np.zeros_like(seq)], axis=1).transpose(1, 0, 2, 3)  # (M=2, T, 25, 3)
    ann = {"frame_dir": "S001C001P001R001A001", "label": 0, "keypoint": kp, "total_frames": 103}
    pkl = tmp_path / "ntu120_3danno.pkl"
    with open(pkl, "wb") as fh:
        pickle.dump({"split": {"xsub_train": [ann["frame_dir"]]}, "annotations": [ann]}, fh)
    with pytest.raises(ValueError, match="trusted"):
        read_pyskl_pickle(pkl)
    samples, splits = read_pyskl_pickle(pkl, trusted=True)
    assert splits == {"xsub_train": ["S001C001P001R001A001"]}
    (s,) = samples
    assert (s.name, s.dataset, s.label, s.subject, s.meta["setup"]) == ("S001C001P001R001A001", "ntu", 0, 1, 1)
    out = s.load()
    assert out.shape == (103, 2, 25, 3)
    np.testing.assert_array_equal(out[:, :1], seq)
    assert np.isnan(out[:, 1]).all()  # the zero second body is absent

    x = np.zeros((2, 300, 150), np.float32)
    x[0, :103, :75] = seq.reshape(103, 75)
    x[1, :50, :75] = seq[:50].reshape(50, 75)
    y = np.eye(120, dtype=np.float32)[[0, 57]]
    npz = tmp_path / "NTU120_CSub.npz"
    np.savez(npz, x_test=x, y_test=y)
    got = read_ctrgcn_npz(npz, split="test")
    assert [(g.name, g.label, g.frames) for g in got] == [("test_000000", 0, 103), ("test_000001", 57, 50)]
    np.testing.assert_array_equal(got[0].load()[:, :1], seq)
    with pytest.raises(FormatError, match="x_train"):
        read_ctrgcn_npz(npz, split="train")


# --- malformed copies of real files -------------------------------------------------------------


def _copy_lines(src: Path, dst: Path, edit) -> Path:
    lines = src.read_text().splitlines()
    dst.write_text("\n".join(edit(lines)) + "\n")
    return dst


def _expect(reader, path: Path, line: int | None, match: str) -> FormatError:
    with pytest.raises(FormatError, match=match) as info:
        reader(path)
    err = info.value
    assert err.path == str(path) and str(path) in str(err)
    if line is not None:
        assert err.line == line and f"{path}:{line}:" in str(err)
    return err


@pytest.mark.realdata
def test_malformed_ntu(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / NTU_FILE
    p = _copy_lines(src, tmp_path / "trunc.skeleton", lambda ls: ls[:500])
    _expect(read_ntu_skeleton, p, None, "ends early")

    def non_numeric(ls):
        ls[9] = ls[9].replace(ls[9].split()[2], "abc", 1)
        return ls

    _expect(read_ntu_skeleton, _copy_lines(src, tmp_path / "nan.skeleton", non_numeric), 10, "non-numeric")

    def bad_joint_count(ls):
        ls[3] = "24"
        return ls

    _expect(read_ntu_skeleton, _copy_lines(src, tmp_path / "count.skeleton", bad_joint_count), 4, "expected 25 joints")

    def short_line(ls):
        ls[40] = " ".join(ls[40].split()[:7])
        return ls

    _expect(read_ntu_skeleton, _copy_lines(src, tmp_path / "short.skeleton", short_line), 41, "12 numbers")
    _expect(read_ntu_skeleton, _copy_lines(src, tmp_path / "head.skeleton", lambda ls: ["many", *ls[1:]]), 1, "frame count")


@pytest.mark.realdata
def test_malformed_gtu(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / GTU_FILE
    n = len(src.read_text().splitlines())
    _expect(read_gtu_txt, _copy_lines(src, tmp_path / "t.txt", lambda ls: ls[:-3]), n - 3, "truncated")

    def non_numeric(ls):
        ls[16] = "0.1 x 0.3"
        return ls

    _expect(read_gtu_txt, _copy_lines(src, tmp_path / "n.txt", non_numeric), 17, "non-numeric")

    def four_fields(ls):
        ls[4] += " 1.0"
        return ls

    _expect(read_gtu_txt, _copy_lines(src, tmp_path / "f.txt", four_fields), 5, "3 numbers")


@pytest.mark.realdata
def test_malformed_irds(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / IRDS_FILE
    n = len(src.read_text().splitlines())
    _expect(read_irds_csv, _copy_lines(src, tmp_path / "t.csv", lambda ls: ls[:-2]), n - 25 + 1, "truncated")

    def non_numeric(ls):
        f = ls[40].split(",")
        f[12] = "oops"
        ls[40] = ",".join(f)
        return ls

    _expect(read_irds_csv, _copy_lines(src, tmp_path / "n.csv", non_numeric), 41, "non-numeric")

    def bad_joint(ls):
        ls[7] = ls[7].replace("WristLeft", "Wrist_L")
        return ls

    _expect(read_irds_csv, _copy_lines(src, tmp_path / "j.csv", bad_joint), 8, "unknown joint")

    def missing_field(ls):
        ls[60] = ls[60].rsplit(",", 1)[0]
        return ls

    _expect(read_irds_csv, _copy_lines(src, tmp_path / "m.csv", missing_field), 61, "fields")


@pytest.mark.realdata
def test_malformed_nwucla_and_utd(data_dir: Path, tmp_path: Path) -> None:
    text = (data_dir / UCLA_FILE).read_text()
    trunc = tmp_path / "a01_s01_e00_v01.json"
    trunc.write_text(text[: len(text) // 2])
    _expect(read_nwucla_json, trunc, 1, "invalid JSON")
    data = json.loads(text)
    data["skeletons"][3][5][1] = "abc"
    bad = tmp_path / "a01_s01_e00_v02.json"
    bad.write_text(json.dumps(data))
    _expect(read_nwucla_json, bad, None, "frame 3")
    data["skeletons"][3][5][1] = 0.5
    data["skeletons"][7] = data["skeletons"][7][:19]
    bad.write_text(json.dumps(data))
    _expect(read_nwucla_json, bad, None, r"frame 7: shape \(19, 3\)")

    raw = (data_dir / UTD_FILE).read_bytes()
    trunc_mat = tmp_path / "a1_s1_t1_skeleton.mat"
    trunc_mat.write_bytes(raw[: len(raw) // 2])
    _expect(read_utd_mat, trunc_mat, None, "MATLAB")
    from scipy.io import savemat

    wrong = tmp_path / "a2_s1_t1_skeleton.mat"
    savemat(wrong, {"d_depth": np.zeros((20, 3, 5))})
    _expect(read_utd_mat, wrong, None, "d_skel")
    savemat(wrong, {"d_skel": np.zeros((25, 3, 5))})
    _expect(read_utd_mat, wrong, None, r"\(20, 3, T\)")


def test_readers_name_missing_files(tmp_path: Path) -> None:
    for reader in (read_gtu_txt, read_irds_csv, read_ntu_skeleton, read_nwucla_json):
        with pytest.raises(OSError):
            reader(tmp_path / "nope")

