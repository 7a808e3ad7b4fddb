"""tools/ablation_summary.py: one table from several run_ablation folders (small generated result
files: the tool only reads benchmark.json / config.yaml / ablation_state.json), the budget check,
and the seed-level difference with its verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from shared_helpers import load_tool

from train import ablation_bench

PROTOCOLS = ["p-a", "p-b"]


def _summary(mean: float) -> dict:
    return {"fixed": mean, "random": {"mean": mean, "ci95": 0.02}}


def _run(folder: Path, variant: str, seed: int, means: tuple[float, float], epochs: int = 10) -> None:
    run = folder / f"{variant}_s{seed}"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(f"seed: {seed}\noptim:\n  epochs: {epochs}\nmodel:\n  variant: {variant}\n")
    res = [{"protocol": p, "epochs": epochs, **{m: _summary(x) for m in ("cosine", "cosine_centered", "dc", "fused")},
            "dtw": _summary(0.5), "pose_cosine": _summary(0.55)} for p, x in zip(PROTOCOLS, means, strict=True)]
    (run / "benchmark.json").write_text(json.dumps(res))
    state = folder / "ablation_state.json"
    runs = json.loads(state.read_text())["runs"] if state.is_file() else {}
    runs[run.name] = {"status": "done", "epochs_done": epochs, "train_seconds": 600.0}
    state.write_text(json.dumps({"runs": runs}))


def test_welch_difference_and_verdicts() -> None:
    d = ablation_bench.difference([60.0, 62.0, 61.0], [50.0, 51.0, 52.0])
    assert d[0] == pytest.approx(10.0)
    # Welch with equal variances and sizes: df = 4, t(0.975, 4) = 2.776, se = sqrt(2/3)
    assert d[2] - d[0] == pytest.approx(2.776 * np.sqrt(2 / 3), abs=1e-3)
    assert ablation_bench.verdict(d) == "gain"
    assert ablation_bench.verdict(ablation_bench.difference([50.0, 58.0], [52.0, 55.0])) == "not separable"
    assert ablation_bench.verdict(ablation_bench.difference([40.0, 41.0], [50.0, 51.0])) == "loss"
    assert ablation_bench.verdict(ablation_bench.difference([40.0], [50.0, 51.0])) == "too few seeds"


def test_combined_table_takes_each_variant_from_its_folder(tmp_path: Path) -> None:
    tool = load_tool("ablation_summary")
    old, new = tmp_path / "old", tmp_path / "new"
    for seed, (a, b) in enumerate([(0.50, 0.60), (0.52, 0.62), (0.51, 0.61)]):
        _run(old, "baseline", seed, (a, b))
        _run(new, "g2l", seed, (a + 0.10, b + 0.10))
    _run(old, "g2l", 0, (0.10, 0.10))  # superseded: the table must take +G2L from `new`
    folders = tool.parse_parts([f"baseline={old}", f"g2l={new}"])
    text = tool.render(folders, [0, 1, 2], PROTOCOLS, "baseline", "cmd")
    assert "| +G2L | 0 | 10 | 10 | done | 60.0 / 60.0 | 70.0 / 70.0 |" in text
    diffs = text.split("Difference from InfoGCN baseline", 1)[1].splitlines()
    row = next(line for line in diffs if line.startswith("| centred cosine 1-NN (edge) | +G2L | 3 |"))
    assert "| 65.0, 67.0, 66.0 | 66.0 | +10.0 (" in row and row.endswith("| gain |")
    assert "| pose cosine (non-learned) | – | – | 55.0 ± 2.0 | 55.0 ± 2.0 | 55.0 |" in text


def test_runs_trained_differently_are_refused(tmp_path: Path) -> None:
    tool = load_tool("ablation_summary")
    _run(tmp_path / "a", "baseline", 0, (0.5, 0.5), epochs=10)
    _run(tmp_path / "b", "g2l", 0, (0.5, 0.5), epochs=30)
    with pytest.raises(ValueError, match=r"g2l_s0/config.yaml: training budget differs .* in optim"):
        tool.render(tool.parse_parts([f"baseline={tmp_path / 'a'}", f"g2l={tmp_path / 'b'}"]), [0], PROTOCOLS,
                    "baseline", "cmd")


@pytest.mark.parametrize("part, message", [("baseline", "expected VARIANT"), ("base=runs/x", "unknown variant 'base'"),
                                           ("baseline,baseline=runs/x", "already taken")])
def test_bad_parts_are_named(part: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_tool("ablation_summary").parse_parts([part])
