"""tools/ship_starter.py end to end on a tiny real-data checkpoint (T=16, 8 base sequences, 1 epoch):
FP32 export + compact base statistics + ort-cpu INT8 + models.json into a temp package directory,
then the edge's own loader takes the result (sha256, DC statistics for both files, the default,
the benchmark's calibrated open-set values and its ranking decision in both files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import ship_starter  # noqa: E402

from crossglg.basestats import load_base_stats_file  # noqa: E402
from crossglg.model_meta import read_onnx_metadata  # noqa: E402
from edge.installed_models import ENV_VAR, installed_models  # noqa: E402

pytestmark = [pytest.mark.realdata, pytest.mark.slow]  # one dynamo export (~30-80 s on 2 shared cores)
TINY = ["data.frames=16", "optim.batch_size=4", "optim.epochs=1", "model.variant=baseline", "eval.draws=1",
        "eval.dc_samples=20", "num_threads=2"]


@pytest.fixture(scope="module")
def tiny_checkpoint(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from train.config import load_config
    from train.prepare import load_protocol_data
    from train.trainer import run_training

    full = load_protocol_data("realdata", data_dir, max_per_class=2, max_novel_per_class=1)
    keep = np.flatnonzero(np.isin(full.train_labels, [0, 1, 18, 30]))
    data = replace(full, train=[full.train[i] for i in keep], train_labels=full.train_labels[keep])
    out = tmp_path_factory.mktemp("ship-run")
    run_training(load_config(None, TINY), data, out, progress=False)
    return out / "final.pt"


def test_ship_installs_fp32_int8_and_statistics(tiny_checkpoint: Path, data_dir: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:  # fmt: skip
    dest = tmp_path / "pkg" / "starter"
    dest.mkdir(parents=True)
    (dest / "models.json").write_text(json.dumps({"format": "crossglg-models/1", "default": "old", "models": [
        {"name": "old", "file": "old.onnx", "sha256": "0", "size": 1}]}))  # fmt: skip
    (dest / "old.onnx").write_bytes(b"x")  # an earlier ship: removed, since the new registry drops it
    card = tmp_path / "card.md"
    card.write_text("# Model card\n")
    bench = tmp_path / "benchmark.json"  # what `crossglg-train benchmark` of the recipe-mate wrote
    bench_fusion = {"weight": 0.77, "frames": 64, "features": "pose-resample64/1", "source": "heldout base clips"}
    protocols = [{"protocol": p, "cosine_centered": {"random": {"mean": c}}, "dc": {"random": {"mean": d}},
                  "fused": {"random": {"mean": f}}, "fusion": bench_fusion}
                 for p, c, d, f in (("bench-utd9", 0.85, 0.83, 0.92), ("bench-kard18", 0.736, 0.682, 0.83))]  # fmt: skip
    bench.write_text(json.dumps({"format": "crossglg-benchmark/2", "model": "heldout.pt", "command": "c",
                                 "protocols": protocols,
                                 "open_set_calibration": {"target_far": 0.1, "target_met": True, "source": "bench of h",
                                                          "primary": "fused",
                                                          "params": {"threshold": 0.41, "margin": 0.06, "dc_margin": 0.3}}}))  # fmt: skip
    code = ship_starter.main([str(tiny_checkpoint), "--data-root", str(data_dir), "--dest", str(dest),
                              "--windows", "8", "--min-cosine", "0.9", "--model-card", str(card),
                              "--open-set-from", str(bench)])  # fmt: skip
    assert code == 0
    said = capsys.readouterr().out
    assert "open-set values in starter.onnx (INT8 inherits them): threshold 0.41, margin 0.06" in said
    assert ", ranking centred cosine fused with pose features (bench of h)" in said
    # the fusion weight is this checkpoint's own, from its base clips, not the benchmark model's 0.77
    line = next(ln for ln in said.splitlines() if ln.startswith("score fusion: weight "))
    own = float(line.split()[3])
    assert "from this checkpoint's base clips" in line and "the benchmark model's was 0.770" in line and own != 0.77
    # both installed files, read back by the edge loader
    assert said.count(f"open-set values calibrated, ranking fused, fusion weight {own:.3f}") == 2
    assert "crossglg-calib quantize" in said and "mean cosine" in said and "verified starter-int8" in said
    assert sorted(p.name for p in dest.iterdir()) == ["model-card.md", "models.json", "starter-int8.onnx",
                                                      "starter.onnx", "starter.onnx.basestats.npz"]  # fmt: skip
    doc = json.loads((dest / "models.json").read_text())
    assert doc["default"] == "starter" and [m["precision"] for m in doc["models"]] == ["fp32", "int8"]
    for m in doc["models"]:
        assert m["size"] == (dest / m["file"]).stat().st_size <= 10e6
        assert m["sha256"] == ship_starter.sha256_of(dest / m["file"]) and m["classes"] == 51
        assert m["base_stats"] == "starter.onnx.basestats.npz" and "research use only" in m["licence"]
        stored = json.loads(read_onnx_metadata(dest / m["file"])["open_set"])
        assert (stored["threshold"], stored["margin"], stored["dc_margin"], stored["source"]) == (0.41, 0.06, 0.3, "bench of h")
        assert stored["ranking"] == "fused"  # the benchmark's decision: the fused score did best
        assert round(json.loads(read_onnx_metadata(dest / m["file"])["fusion"])["weight"], 3) == own
    with np.load(dest / "starter.onnx.basestats.npz", allow_pickle=False) as z:
        assert str(z["cov_form"]) == "lowrank" and z["means"].dtype == np.float32
    assert load_base_stats_file(dest / "starter.onnx.basestats.npz").means.shape[0] == 4
    assert (dest / "model-card.md").read_text() == "# Model card\n" and doc["models"][0]["model_card"] == "model-card.md"

    models = installed_models(dest)
    assert [(m.name, m.is_default) for m in models] == [("starter", True), ("starter-int8", False)]
    listed = subprocess.run([sys.executable, "-m", "edge.cli", "models", "list", "--json"], capture_output=True,
                            text=True, timeout=60, env={**os.environ, ENV_VAR: str(dest)})  # fmt: skip
    rows = json.loads(listed.stdout)["models"]
    assert [(r["name"], r["status"]) for r in rows] == [("starter", "ok"), ("starter-int8", "ok")]

    # window-level values written into an installed file in place: the registry is refreshed, not reshipped
    from train.open_set_meta import write_open_set

    write_open_set(dest / "starter.onnx", {"target_far": 0.2, "source": "window-level", "ranking": {"chosen": "fused"},
                                           "params": {"threshold": 0.65, "margin": 0.14, "dc_margin": 0.3},
                                           "fusion": json.loads(read_onnx_metadata(dest / "starter.onnx")["fusion"])})
    from edge.installed_models import InstalledModelError

    with pytest.raises(InstalledModelError, match="truncated or replaced|sha256"):
        installed_models(dest)[0].verify()
    assert ship_starter.main(["--refresh", "--dest", str(dest)]) == 0
    assert "refreshed" in capsys.readouterr().out
    installed_models(dest)[0].verify()
    assert json.loads(read_onnx_metadata(dest / "starter.onnx")["open_set"])["threshold"] == 0.65


def test_budget_refuses_oversize_files(tmp_path: Path) -> None:
    big, small = tmp_path / "big.onnx", tmp_path / "small.npz"
    big.write_bytes(b"\0" * 2_000)
    small.write_bytes(b"\0" * 10)
    ship_starter.check_budget([small], max_mb=0.001)
    with pytest.raises(SystemExit, match=r"big.onnx 0.00 MB.*nothing installed"):
        ship_starter.check_budget([big, small], max_mb=0.001)


def test_open_set_source_without_calibration_is_refused_before_export(tmp_path: Path) -> None:
    old = tmp_path / "benchmark.json"
    old.write_text("[]")  # a --baselines-only (or earlier) benchmark: no calibration
    with pytest.raises(SystemExit, match=r"--open-set-from: .*benchmark.json: no open-set calibration"):
        ship_starter.main([str(tmp_path / "never-loaded.pt"), "--data-root", str(tmp_path), "--open-set-from", str(old)])


def test_a_parked_weights_only_checkpoint_gets_its_statistics_back(tiny_checkpoint: Path, data_dir: Path,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    """tools/add_base_stats.py: a checkpoint parked without base statistics (checkpoints/*/model.pt) gets
    the same statistics training's last step computed, so it can be shipped again."""
    import add_base_stats

    from train.checkpoint import load_checkpoint, save_checkpoint

    full = load_checkpoint(tiny_checkpoint)
    parked = tmp_path / "model.pt"
    save_checkpoint(parked, {**full, "base_stats": None})
    add_base_stats.main([str(parked), "--data-root", str(data_dir), "--out", str(tmp_path / "final.pt"), "--no-progress",
                         "--max-per-class", "2"])  # as the fixture's data: 2 per class  # fmt: skip
    out = load_checkpoint(tmp_path / "final.pt")
    back = out["base_stats"]
    # the fixture trained on 4 classes of its protocol; the statistics cover every base class the data has
    assert set(full["base_stats"]["classes"]) <= set(back["classes"]) and len(back["classes"]) > 4
    means = back["means"].numpy()
    assert means.shape == (len(back["classes"]), full["base_stats"]["means"].shape[1]) and np.isfinite(means).all()
    assert all((out["model"][k] == v).all() for k, v in full["model"].items())  # weights untouched
    ship_starter.export_fp32(tmp_path / "final.pt", tmp_path / "m.onnx", rank=4)  # shippable again
    with pytest.raises(SystemExit, match="has base statistics already"):
        add_base_stats.main([str(tmp_path / "final.pt"), "--data-root", str(data_dir), "--out", str(tmp_path / "x.pt")])
