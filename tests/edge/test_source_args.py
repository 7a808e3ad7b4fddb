"""Shared source options: one of --camera/--video/--skeleton/--kinect-azure, pose settings."""

from __future__ import annotations

import argparse
import importlib.util

import numpy as np
import pytest

from edge.errors import SourceError
from edge.source_args import add_source_arguments, source_from_args
from edge.sources import PoseSource, RecordingSource


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_source_arguments(parser)
    return parser.parse_args(list(argv))


def test_skeleton_option_builds_a_replay(tmp_path):
    np.save(tmp_path / "clip.npy", np.zeros((4, 25, 3), np.float32))
    src = source_from_args(_parse("--skeleton", str(tmp_path / "clip.npy"), "--fps", "10"))
    assert isinstance(src, RecordingSource) and src.fps == 10.0
    assert [f.timestamp_s for f in src] == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_video_options_reach_the_pose_config(tmp_path):
    video, model = tmp_path / "v.avi", tmp_path / "m.task"
    video.write_bytes(b"x")
    model.write_bytes(b"x")
    args = _parse("--video", str(video), "--pose-model", str(model), "--max-people", "3", "--mirror",
                  "--hfov", "84.1", "--translation", "none")  # fmt: skip
    src = source_from_args(args)
    assert isinstance(src, PoseSource)
    cfg = src.config
    assert (cfg.max_people, cfg.mirror, cfg.hfov_deg, cfg.translation, cfg.model_path) == (3, True, 84.1, "none", model)


def test_exactly_one_source(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _parse("--camera", "0", "--video", "x.avi")
    with pytest.raises(SystemExit):
        _parse()
    assert "one of the arguments" in capsys.readouterr().err
    with pytest.raises(SourceError, match="not found"):
        source_from_args(_parse("--video", str(tmp_path / "missing.avi")))


@pytest.mark.skipif(importlib.util.find_spec("pykinect_azure") is not None, reason="pykinect_azure is installed")
def test_kinect_without_package_says_how_to_install():
    with pytest.raises(SourceError, match="pip install pykinect_azure"):
        source_from_args(_parse("--kinect-azure"))
