"""Every input path checks values as training does (crossglg.preprocess.validate_sequence): files
refuse inf with the file, frame, body and joint named; live frames with inf (a device glitch) are
treated as missing joints, never interpolated (no RuntimeWarning) and never stored."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from runtime_helpers import utd

from edge.enrollment import EnrollRecorder
from edge.errors import SourceError
from edge.frames import SkeletonFrame, make_person
from edge.skeleton_files import load_skeleton_file
from edge.store import SupportStore
from edge.window import WindowConfig, Windower

pytestmark = pytest.mark.realdata


def _frames(joints: np.ndarray, fps: float = 30.0) -> list[SkeletonFrame]:
    return [SkeletonFrame(t / fps, t, (make_person(0, joints[t, 0]),)) for t in range(len(joints))]


def test_every_file_format_refuses_inf(tmp_path: Path, data_dir: Path) -> None:
    joints = load_skeleton_file(utd(data_dir, 23, 1)).joints  # a real UTD .mat goes through the check
    bad = joints.copy()
    bad[7, 0, 3, 1] = -np.inf
    for name, save in (("a.npy", lambda p: np.save(p, bad)), ("b.npz", lambda p: np.savez(p, joints=bad, fps=30.0)),
                       ("c.npy", lambda p: np.save(p, bad[:, 0]))):  # fmt: skip
        path = tmp_path / name
        save(path)
        with pytest.raises(SourceError, match=rf"{name}: skeleton sequence: contains inf \(1 joints, first at frame 7, "
                                              r"body 0, joint 3\)"):  # fmt: skip
            load_skeleton_file(path)
    np.save(tmp_path / "huge.npy", joints.astype(np.float64) * 1e300)  # beyond float32: inf after the cast
    with pytest.raises(SourceError, match="contains inf"):
        load_skeleton_file(tmp_path / "huge.npy")
    with_nan = joints.copy()
    with_nan[5:9, 0, 7] = np.nan  # NaN means a missing joint: allowed
    np.save(tmp_path / "nan.npy", with_nan)
    assert np.isnan(load_skeleton_file(tmp_path / "nan.npy").joints).sum() == 12


def test_live_inf_is_a_missing_joint_in_windows_and_enrollment(tmp_path: Path, data_dir: Path) -> None:
    joints = load_skeleton_file(data_dir / "ntu_sample/S001C001P001R001A001.skeleton").joints[:, :1].copy()
    joints[20:30, 0, 11] = np.inf  # the right wrist glitches for a third of a second
    win = Windower(WindowConfig(frames=64, stride=8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "invalid value encountered in multiply" would fail here
        outs = [o for f in _frames(joints) for o in win.push(f).outputs]
        rec = EnrollRecorder("drink", 0.0, 4.0, whole_source=True)
        for f in _frames(joints):
            rec.feed(f)
        rec.stop()
        clip, fps, _ = rec.result()
    full = [o for o in outs if o.clip is not None]
    assert full and all(not np.isinf(o.clip).any() for o in full)
    assert np.isnan(full[0].clip[:, 0, 11]).any()  # the glitch is a gap in the window
    assert not np.isinf(clip).any()
    store = SupportStore.create(tmp_path / "store", "fp", "crossglg-pp/1;frames=64")
    store.add_action("drink", clip, np.ones(8, np.float32), fps=fps)  # the store's own check agrees
    with pytest.raises(ValueError, match="exemplar clip: skeleton sequence: contains inf"):
        store.add_action("bad", joints, np.ones(8, np.float32))
