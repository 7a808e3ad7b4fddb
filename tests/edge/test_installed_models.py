"""The installed starter model (edge/installed_models.py) as a user meets it: the trained test encoder
installed into a temp dir through $CROSSGLG_MODELS_DIR, with base statistics from real UTD-MHAD
clips; `run` and `enroll` without --model use it and say so, `models list` shows it, a flipped
byte or an empty install gives one clear line. Real ONNX Runtime, real sockets, CLI subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from runtime_helpers import utd
from shared_helpers import free_port

from crossglg.basestats import write_base_stats
from crossglg.datasets import read_utd_mat
from crossglg.oneshot import base_statistics, center_from_stats
from edge.installed_models import (
    ENV_VAR,
    FORMAT,
    InstalledModelError,
    installed_models,
    installed_precision,
    resolve_model,
    sha256_of,
)
from edge.runtime import embed_clips, matching_aids, open_model, open_model_arg, preprocess_config_for

pytestmark = pytest.mark.realdata
ASSET = Path(__file__).resolve().parents[1] / "assets" / "crossglg_realdata.onnx"
BASE = (1, 2, 4, 5, 7, 8)  # UTD actions the asset was trained on


@pytest.fixture(scope="module")
def install_dir(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The test encoder + its base statistics (6 UTD base actions x 4 subjects) + models.json."""
    root = tmp_path_factory.mktemp("models")
    model = root / "starter.onnx"
    shutil.copyfile(ASSET, model)
    with open_model(model, threads=1) as engine:
        pp = preprocess_config_for(engine.meta)
        clips = [read_utd_mat(utd(data_dir, a, s)) for a in BASE for s in (1, 2, 3, 4)]
        feats = embed_clips(engine, pp, clips)
        fingerprint, pp_id = engine.meta.fingerprint, pp.id
    stats = base_statistics(feats, np.repeat(np.arange(len(BASE)), 4))
    side = write_base_stats(root / "starter.onnx.basestats.npz", stats, center_from_stats(stats), fingerprint)
    entry = {"name": "starter", "file": model.name, "sha256": sha256_of(model), "size": model.stat().st_size,
             "precision": "fp32", "base_stats": side.name, "base_stats_sha256": sha256_of(side),
             "base_stats_size": side.stat().st_size, "model_card": None, "licence": "research use only",
             "classes": 51, "preprocess_id": pp_id, "model_id": "test", "fingerprint": fingerprint}  # fmt: skip
    (root / "models.json").write_text(json.dumps({"format": FORMAT, "default": "starter", "models": [entry]}))
    return root


def _cli(*args: str, models: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, ENV_VAR: str(models)}
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip


def _endpoints() -> list[str]:
    return ["--pub", f"tcp://127.0.0.1:{free_port()}", "--control", f"tcp://127.0.0.1:{free_port()}"]


def _one_line_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and needle in errors[0], proc.stderr


def test_enroll_and_run_without_model_use_the_installed_one(install_dir: Path, data_dir: Path,
                                                            tmp_path: Path) -> None:  # fmt: skip
    store = ["--store", str(tmp_path / "store")]
    said = f"using the installed starter model starter ({install_dir / 'starter.onnx'})"
    for label, action in (("hand wave", 3), ("clap", 4), ("walk", 23)):
        proc = _cli("enroll", label, "--skeleton", str(utd(data_dir, action, 1)), *store, models=install_dir)
        assert proc.returncode == 0, proc.stderr
        assert said in proc.stderr and f"enrolled new action {label!r}" in proc.stdout
    proc = _cli("run", "--skeleton", str(utd(data_dir, 23, 2)), "--headless", *store, *_endpoints(),
                models=install_dir)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert f"crossglg-edge run: {said}" in lines
    assert "3 action(s) enrolled" in proc.stderr and "source_end" in proc.stderr
    # the store is keyed on the installed model: the same model by explicit path opens it too
    proc = _cli("run", "--skeleton", str(utd(data_dir, 23, 2)), "--headless", "--model",
                str(install_dir / "starter.onnx"), *store, *_endpoints(), models=install_dir)  # fmt: skip
    assert proc.returncode == 0 and "using the installed" not in proc.stderr, proc.stderr


def test_models_list_text_and_json(install_dir: Path, tmp_path: Path) -> None:
    proc = _cli("models", "list", models=install_dir)
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in proc.stdout.splitlines() if "starter.onnx" in line)
    assert row.startswith("* starter ") and "7.3 MB" in row and "51 classes" in row and "sha256 ok" in row
    assert "pose model:" in proc.stdout
    doc = json.loads(_cli("models", "list", "--json", models=install_dir).stdout)
    assert doc["models_dir"] == str(install_dir)
    (m,) = doc["models"]
    assert m["name"] == "starter" and m["default"] and m["status"] == "ok" and m["size"] == ASSET.stat().st_size
    assert doc["pose_model"]["status"] in ("ok", "missing", "other")


def test_the_installed_base_statistics_reach_the_matcher(install_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(install_dir))
    with open_model_arg(None, threads=1) as engine:
        aids = matching_aids(engine)
    assert aids.base_stats is not None and aids.base_stats.means.shape == (len(BASE), 256)
    assert aids.stats_path == install_dir / "starter.onnx.basestats.npz"
    said: list[str] = []
    assert resolve_model("starter", said.append).installed.name == "starter" and said  # a name works
    assert resolve_model("elsewhere.onnx", said.append).path == Path("elsewhere.onnx")  # a path is a path
    assert installed_precision("fp32").name == "starter"
    with pytest.raises(InstalledModelError, match="no installed int8 model"):
        installed_precision("int8")


def test_corrupt_file_and_empty_install_say_so(install_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(install_dir, broken)
    raw = bytearray((broken / "starter.onnx").read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one flipped bit, same size
    (broken / "starter.onnx").write_bytes(bytes(raw))
    store = ["--store", str(tmp_path / "store")]
    proc = _cli("run", "--skeleton", str(utd(data_dir, 23, 2)), "--headless", *store, *_endpoints(), models=broken)
    _one_line_error(proc, "fails its sha256 check")
    assert "starter.onnx" in proc.stderr and "--model" in proc.stderr
    listed = _cli("models", "list", models=broken)
    assert listed.returncode == 0 and "CORRUPT" in listed.stdout

    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _cli("enroll", "wave", "--skeleton", str(utd(data_dir, 3, 1)), *store, models=empty)
    _one_line_error(proc, "no starter model is installed")
    assert "--model MODEL.onnx" in proc.stderr
    assert "no starter model is installed" in _cli("models", "list", models=empty).stdout
    calib = subprocess.run([sys.executable, "-m", "calib.cli", "report", "--data-root", str(data_dir)],
                           capture_output=True, text=True, timeout=120, env={**os.environ, ENV_VAR: str(empty)})  # fmt: skip
    assert calib.returncode == 2 and "crossglg-calib report: error: no starter model is installed" in calib.stderr
    assert not (tmp_path / "store").exists()  # nothing was written


def test_malformed_registry_names_the_field(tmp_path: Path) -> None:
    for doc, needle in (({"format": "x"}, "field 'format'"),
                        ({"format": FORMAT, "default": "a", "models": [{"name": "a"}]}, "missing field 'file'"),
                        ({"format": FORMAT, "default": "a", "models": [{"name": "a", "file": "../m.onnx",
                                                                       "sha256": "0", "size": 1}]}, "file name"),
                        ({"format": FORMAT, "default": "b", "models": [{"name": "a", "file": "m.onnx",
                                                                       "sha256": "0", "size": 1}]}, "'default'")):  # fmt: skip
        (tmp_path / "models.json").write_text(json.dumps(doc))
        with pytest.raises(InstalledModelError, match=needle):
            installed_models(tmp_path)
    (tmp_path / "models.json").write_text("{")
    with pytest.raises(InstalledModelError, match="models.json: not a readable"):
        installed_models(tmp_path)
