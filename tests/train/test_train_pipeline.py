"""Training pipeline end to end on a tiny real-data subset (T=16, 8 base sequences, 2 epochs):
checkpoints load with weights_only=True and carry what the edge needs; --resume continues at the
right epoch with weights identical to an uninterrupted run; eval JSON and figures; ONNX export
parity; the DTW baseline; the CLI front end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from shared_helpers import TINY_TRAIN

from train.checkpoint import load_checkpoint
from train.config import load_config
from train.prepare import ProtocolData
from train.trainer import run_training

pytestmark = pytest.mark.realdata

TINY = TINY_TRAIN  # the session's tiny run (tests/conftest.py): resume must reproduce it exactly


@pytest.fixture(scope="module")
def tiny_data(tiny_train_data: ProtocolData) -> ProtocolData:
    """8 base sequences (4 classes x 2) and 2 queries per novel class, from the real datasets."""
    return tiny_train_data


@pytest.fixture(scope="module")
def tiny_run(tiny_crossglg_run: Path) -> Path:
    return tiny_crossglg_run


def test_checkpoint_contents_weights_only(tiny_run: Path, tiny_data: ProtocolData) -> None:
    ckpt = torch.load(tiny_run / "final.pt", weights_only=True)  # no pickled classes inside
    assert ckpt["epoch"] == 2 and ckpt["layout"] == "ntu25"
    assert ckpt["class_names"] == tiny_data.base_names and len(ckpt["class_names"]) == 51
    assert ckpt["preprocess"]["frames"] == 16 and ckpt["preprocess_id"].startswith("crossglg-pp/")
    assert ckpt["config"]["model"]["variant"] == "crossglg" and ckpt["model_config"]["g2l"] is True
    st = ckpt["base_stats"]
    d = ckpt["model_config"]["embed_dim"]
    assert st["means"].shape == (4, d) and st["covs"].shape == (4, d, d) and st["beta"] == 0.5
    assert torch.isfinite(st["covs"]).all() and "z_prior" in ckpt["model"]
    assert (tiny_run / "config.yaml").is_file() and (tiny_run / "curves.png").stat().st_size > 0
    rows = (tiny_run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3 and "train_calibrate" in rows[0] and "train_cross_ce" in rows[0]


def test_resume_matches_uninterrupted(
    tiny_run: Path, tiny_data: ProtocolData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out2 = tmp_path / "interrupted"
    cfg = load_config(None, TINY)
    _interrupt_after_first_epoch(cfg, tiny_data, out2, monkeypatch)
    assert load_checkpoint(out2 / "last.pt")["epoch"] == 1
    with pytest.raises(ValueError, match="--resume"):
        run_training(cfg, tiny_data, out2, progress=False)
    run_training(cfg, tiny_data, out2, resume=True, progress=False)
    a = load_checkpoint(tiny_run / "final.pt")
    b = load_checkpoint(out2 / "final.pt")
    assert b["epoch"] == 2
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), f"resumed weights differ in {k}"
    rows = (out2 / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3
    with pytest.raises(ValueError, match="differs"):
        run_training(load_config(None, [*TINY, "optim.lr=0.1"]), tiny_data, out2, resume=True, progress=False)


class _Crash(Exception):
    pass


def _interrupt_after_first_epoch(cfg, data: ProtocolData, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Run the 2-epoch config and kill it right after epoch 1's checkpoint (as a crash would)."""
    from train.metrics import MetricsLog

    original = MetricsLog.append

    def append(self, row):  # noqa: ANN001, ANN202
        original(self, row)
        raise _Crash

    with monkeypatch.context() as m:
        m.setattr(MetricsLog, "append", append)
        with pytest.raises(_Crash):
            run_training(cfg, data, out, progress=False)


def test_eval_json_and_figures(tiny_run: Path, data_dir: Path, tmp_path: Path) -> None:
    from train.cli import main

    out = tmp_path / "eval"
    code = main(["eval", str(tiny_run / "final.pt"), "--data-root", str(data_dir),
                 "--draws", "3", "--max-novel-per-class", "2", "--out", str(out), "--json"])
    assert code == 0
    res = json.loads((out / "eval.json").read_text())
    for key in ("cosine", "cosine_centered", "dc"):
        assert 0.0 <= res[key]["fixed"] <= 1.0
        assert res[key]["random"]["n"] == 3 and len(res[key]["draws"]) == 3
        assert res[key]["random"]["ci95"] >= 0
    assert res["num_queries"] == 18 and len(res["novel_classes"]) == 9
    assert res["variant"] == "crossglg" and res["epochs"] == 2
    assert (out / "confusion.png").stat().st_size > 0 and (out / "joint_importance.png").stat().st_size > 0
    assert np.array(res["confusion_matrix"]).sum() == 18


@pytest.fixture(scope="module")
def run_export(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run's final checkpoint exported once (`crossglg-train export`): ONNX + sidecar."""
    from train.commands.export import export_checkpoint

    return export_checkpoint(tiny_run / "final.pt", tmp_path_factory.mktemp("export") / "model.onnx")


@pytest.mark.slow  # the dynamo ONNX export alone takes ~30-80 s on 2 shared cores
def test_export_onnx_parity(tiny_run: Path, run_export: Path, tmp_path: Path) -> None:
    from crossglg.model_meta import REQUIRED_KEYS, decode_classes, read_onnx_metadata
    from train.commands.export import export_checkpoint, parity

    path = run_export
    meta = read_onnx_metadata(path)
    assert all(k in meta for k in REQUIRED_KEYS)
    assert meta["frames"] == "16" and len(decode_classes(meta)) == 51
    assert meta["preprocess_id"] == load_checkpoint(tiny_run / "final.pt")["preprocess_id"]
    assert parity(tiny_run / "final.pt", path, batch=3) < 1e-4
    with pytest.raises(ValueError, match="frames"):
        export_checkpoint(tiny_run / "final.pt", tmp_path / "bad.onnx", frames=32)


@pytest.mark.slow  # shares the export above
def test_export_writes_center_and_sidecar(tiny_run: Path, run_export: Path) -> None:
    from crossglg.basestats import basestats_path, read_base_stats_info
    from crossglg.model_meta import decode_center, read_onnx_metadata
    from crossglg.oneshot import center_from_stats
    from edge.calibration import load_base_stats
    from edge.runtime import matching_aids, open_model
    from train.export_stats import checkpoint_base_stats

    stats, _, classes = checkpoint_base_stats(load_checkpoint(tiny_run / "final.pt"))
    assert stats is not None and len(classes) == len(stats.means) == 4
    meta = read_onnx_metadata(run_export)
    center = np.array(decode_center(meta, int(meta["embedding_dim"])))
    # the centre estimated from the Tukey-space statistics (test_export_stats.py checks that estimate
    # against the raw mean of known embeddings)
    np.testing.assert_allclose(center, center_from_stats(stats), rtol=1e-6)
    assert np.abs(center).max() > 0
    side = basestats_path(run_export)
    assert side.name == "model.onnx.basestats.npz" and side.is_file()
    loaded = load_base_stats(side)  # the edge's reader, allow_pickle=False
    np.testing.assert_array_equal(loaded.means, stats.means)
    # compact sidecar (format /2, float16 eigenvectors): variances to ~0.1%, covariances low-rank + diagonal
    np.testing.assert_allclose(np.einsum("bdd->bd", loaded.covs), np.einsum("bdd->bd", stats.covs), rtol=1e-2, atol=1e-9)
    np.testing.assert_allclose(loaded.covs, stats.covs, atol=0.05 * float(np.abs(stats.covs).max()))
    sinfo = read_base_stats_info(side)
    assert sinfo.fingerprint == meta["fingerprint"] and sinfo.classes == tuple(classes)
    assert not [p for p in side.parent.iterdir() if p.name.startswith(".")]  # no temp files left
    with open_model(run_export, threads=1) as engine:  # and the runtime picks both up
        np.testing.assert_allclose(engine.meta.embedding_center, center, rtol=1e-6)
        aids = matching_aids(engine)
        assert aids.base_stats is not None and aids.stats_path == side
        np.testing.assert_array_equal(aids.center, engine.meta.embedding_center)


def test_dtw_baseline_on_real_subset(tiny_data: ProtocolData, tmp_path: Path) -> None:
    from train.baselines.dtw import evaluate_dtw

    res = evaluate_dtw(tiny_data, draws=3, seed=0, cache_dir=tmp_path)
    assert res["num_queries"] == 18 and res["dtw"]["random"]["n"] == 3
    assert res["dtw"]["fixed"] > 1 / 9  # DTW is far above chance on UTD-MHAD
    cached = list(tmp_path.glob("dtw_realdata_*.npy"))
    assert len(cached) == 1
    again = evaluate_dtw(tiny_data, draws=3, seed=0, cache_dir=tmp_path)
    assert again["dtw"] == res["dtw"]


def test_bad_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "x.pt"
    p.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a loadable checkpoint"):
        load_checkpoint(p)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
