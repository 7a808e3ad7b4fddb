"""tools/run_ablation.py: several invocations may share one output folder (run locks, merged state); the
benchmark form end to end on a tiny budget (train, score on benchmark protocols, resume, table); its
checks before training (leaking training protocol, missing descriptions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from shared_helpers import ROOT, load_tool


def _tool():
    return load_tool("run_ablation")


def test_run_lock_excludes_live_owner_and_takes_over_dead_one(tmp_path: Path) -> None:
    tool = _tool()
    run = tmp_path / "baseline_s0"
    assert tool.claim_run(run)
    assert tool.claim_run(run)  # our own lock: still ours
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (run / ".lock").write_text(str(child.pid))
        assert not tool.claim_run(run)  # a live other owner
    finally:
        child.kill()
        child.wait()
    assert tool.claim_run(run)  # its owner died: taken over
    tool.release_run(run)
    assert not (run / ".lock").exists()


def test_merge_state_keeps_the_other_invocations_runs(tmp_path: Path) -> None:
    tool = _tool()
    path = tmp_path / "ablation_state.json"
    path.write_text(json.dumps({"runs": {"g2l_s2": {"status": "done", "train_seconds": 5.0}},
                                "wall_seconds": 100.0, "invocations": []}))
    mine = {"runs": {"baseline_s1": {"status": "training"}, "g2l_s2": {"status": "stale copy"}}, "commit": "abc"}
    merged = tool.merge_state(path, mine, {"baseline_s1"}, 7.5)
    assert merged["runs"]["g2l_s2"] == {"status": "done", "train_seconds": 5.0}  # not overwritten
    assert merged["runs"]["baseline_s1"] is mine["runs"]["baseline_s1"]
    assert merged["wall_seconds"] == 107.5 and merged["commit"] == "abc"


# a tiny budget; embed_dim 64 (not 256): distribution calibration's eigendecompositions and logistic
# fits grow with the embedding's size and were half of this test's time, and nothing here is about accuracy
TINY_BENCH = ["--set", "data.frames=16", "--set", "optim.batch_size=8", "--set", "data.max_per_class=1",
              "--set", "eval.draws=2", "--set", "eval.dc_samples=20", "--set", "model.params.embed_dim=64",
              "--epochs", "1", "--threads", "2", "--max-novel-per-class", "2", "--open-set-draws", "1"]


@pytest.mark.realdata
def test_benchmark_form_trains_scores_resumes_and_tables(data_dir: Path, tmp_path: Path) -> None:
    """bench-heldout recipe, 1 epoch, baseline + CrossGLG, scored on two benchmark protocols; then a
    re-run with a third protocol trains nothing and scores only the new protocol."""
    tool = _tool()
    out, results = tmp_path / "abl", tmp_path / "results.md"
    results.write_text("# Results\n\nprose kept\n")
    common = ["--data-root", str(data_dir), "--out", str(out), "--seeds", "0", "--variants", "baseline", "crossglg",
              "--config", str(ROOT / "configs" / "bench_heldout_cpu.yaml"), "--bench-cache", str(tmp_path / "cache"),
              "--results", str(results), *TINY_BENCH]
    assert tool.main([*common, "--protocols", "bench-utd9", "bench-florence9"]) == 0
    runs = {v: json.loads((out / f"{v}_s0" / "benchmark.json").read_text()) for v in ("baseline", "crossglg")}
    for res in runs.values():
        assert [r["protocol"] for r in res] == ["bench-utd9", "bench-florence9"]
        assert all(r["epochs"] == 1 and r["max_novel_per_class"] == 2 and 0 <= r["dc"]["random"]["mean"] <= 1
                   for r in res)
    for a, b in zip(runs["baseline"], runs["crossglg"], strict=True):  # the baselines ran on the same episodes
        assert a["dtw"]["draws"] == b["dtw"]["draws"] and a["pose_cosine"]["draws"] == b["pose_cosine"]["draws"]
    text = results.read_text()
    assert "prose kept" in text and "<!-- ablation-bench:begin -->" in text and "<!-- ablation:begin -->" not in text
    block = text.split("<!-- ablation-bench:begin -->")[1].split("<!-- ablation-bench:end -->")[0]
    assert "1 epochs (**shrunk from the config's 30 for every variant alike**, `--epochs 1`)" in block
    assert "mirror 0.5" in block and "metric term 1.0" in block and "protocol `bench-heldout`" in block
    assert "| InfoGCN baseline | 0 | 1 |" in block and "| CrossGLG (G2L+L2G) | 0 | 1 |" in block
    assert "| DTW 1-NN (non-learned) | – | – |" in block and "| DC | CrossGLG (G2L+L2G) | 1 |" in block
    assert "| centred cosine fused with pose cosine | CrossGLG (G2L+L2G) | 1 |" in block  # every LEARNED method
    mtime = (out / "crossglg_s0" / "final.pt").stat().st_mtime_ns
    assert tool.main([*common, "--protocols", "bench-utd9", "bench-florence9", "bench-kard18"]) == 0
    assert (out / "crossglg_s0" / "final.pt").stat().st_mtime_ns == mtime  # finished runs are not retrained
    again = json.loads((out / "crossglg_s0" / "benchmark.json").read_text())
    assert [r["protocol"] for r in again] == ["bench-utd9", "bench-florence9", "bench-kard18"]
    assert again[0]["seconds"] == runs["crossglg"][0]["seconds"]  # scored once, kept
    assert "bench-kard18 |" in results.read_text().split("<!-- ablation-bench:begin -->")[1]


@pytest.mark.realdata
def test_benchmark_form_refuses_a_leaking_training_protocol(data_dir: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """realdata's base set holds same-action classes of bench-utd9's novel ones: refused before training."""
    code = _tool().main(["--data-root", str(data_dir), "--out", str(tmp_path / "abl"), "--results",
                         str(tmp_path / "r.md"), "--protocols", "bench-utd9", *TINY_BENCH])
    assert code == 2 and "held-out classes" in capsys.readouterr().err
    assert not (tmp_path / "abl").exists() and not (tmp_path / "r.md").exists()


def test_descriptions_check_names_the_missing_class() -> None:
    from train.prepare import check_descriptions
    from train.protocols import get_protocol

    check_descriptions(get_protocol("bench-heldout").base)  # every base class of the benchmark model is described
    with pytest.raises(ValueError, match="dataset 'florence' has no class 40"):
        check_descriptions([("utd_mhad", 2), ("florence", 40)])
    with pytest.raises(ValueError, match="no shipped descriptions for dataset 'nodata'"):
        check_descriptions([("nodata", 0)])
