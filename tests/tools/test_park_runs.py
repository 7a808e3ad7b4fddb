"""tools/park_runs.py on a run_ablation output folder (small generated files: the logic is file copying)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import park_runs  # noqa: E402


def _run(d: Path, epochs: int, scored: bool) -> None:
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text("epoch,seconds\n" + "".join(f"{i},1\n" for i in range(epochs)))
    (d / "config.yaml").write_text("seed: 0\n")
    (d / "last.pt").write_bytes(b"weights")
    (d / "final.pt").write_bytes(b"weights + stats")
    if scored:
        (d / "benchmark.json").write_text("{}")


def test_an_ablation_folder_parks_results_and_only_unscored_weights(tmp_path: Path) -> None:
    group = tmp_path / "runs" / "ablation_bench"
    _run(group / "baseline_s0", 10, scored=True)
    _run(group / "l2g_s0", 8, scored=False)
    (group / "ablation_state.json").write_text('{"runs": {}}')
    parked = tmp_path / "checkpoints" / "ablation_bench"
    park_runs._save_group(group, parked)
    assert sorted(p.name for p in (parked / "baseline_s0").iterdir()) == ["benchmark.json", "config.yaml", "metrics.csv"]
    assert sorted(p.name for p in (parked / "l2g_s0").iterdir()) == ["config.yaml", "last.pt", "metrics.csv"]
    fresh = tmp_path / "fresh" / "ablation_bench"
    park_runs._restore_group(parked, fresh)
    assert (fresh / "ablation_state.json").is_file() and (fresh / "baseline_s0" / "benchmark.json").is_file()
    assert (fresh / "l2g_s0" / "last.pt").read_bytes() == b"weights"
    (fresh / "l2g_s0" / "metrics.csv").write_text("epoch,seconds\n" + "".join(f"{i},1\n" for i in range(9)))
    park_runs._restore_group(parked, fresh)  # a run further along than its parked copy is kept
    assert len((fresh / "l2g_s0" / "metrics.csv").read_text().splitlines()) == 10


def test_the_dtw_cache_parks_and_restores_without_overwriting(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    runs, parked = tmp_path / "runs", tmp_path / "checkpoints"
    monkeypatch.setattr(park_runs, "PARKED", parked)
    (runs / "benchmark").mkdir(parents=True)
    (runs / "benchmark" / "dtw_bench-utd9_abc.npy").write_bytes(b"matrix")
    (runs / "benchmark" / "benchmark.json").write_text("{}")  # results are not the cache: not parked
    park_runs.save([runs / "benchmark"])
    assert sorted(p.name for p in (parked / "benchmark").iterdir()) == ["dtw_bench-utd9_abc.npy"]
    fresh = tmp_path / "fresh"
    park_runs.restore(fresh)
    assert (fresh / "benchmark" / "dtw_bench-utd9_abc.npy").read_bytes() == b"matrix"
    (fresh / "benchmark" / "dtw_bench-utd9_abc.npy").write_bytes(b"newer")
    park_runs.restore(fresh)  # a file already there is kept
    assert (fresh / "benchmark" / "dtw_bench-utd9_abc.npy").read_bytes() == b"newer"
