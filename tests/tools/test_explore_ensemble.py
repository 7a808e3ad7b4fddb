"""tools/explore_ensemble.py: several benchmark models matched together, on real Florence 3D clips."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import explore_ensemble  # noqa: E402


def test_combination_cosine_is_the_mean_of_the_members() -> None:
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(6, d)) for d in (8, 5))
    a, b = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (a, b))
    e, w = explore_ensemble.combine([(a, 0.2), (b, 0.4)])
    assert e.shape == (6, 13) and w == pytest.approx(0.3)
    np.testing.assert_allclose(e @ e.T, (a @ a.T + b @ b.T) / 2, atol=1e-12)
    with pytest.raises(ValueError, match="different clip counts"):
        explore_ensemble.combine([(a, 0.2), (b[:4], 0.4)])


@pytest.mark.realdata
def test_ensemble_on_benchmark_episodes(tiny_heldout_final: Path, data_dir: Path, tmp_path: Path, capsys) -> None:
    final = tiny_heldout_final
    args = ["--data-root", str(data_dir), "--out", str(tmp_path), "--model", f"a={final}", "--model", f"b={final}",
            "--combo", "a+b", "--protocols", "bench-florence9", "--draws", "3"]  # fmt: skip
    assert explore_ensemble.main(args) == 0
    rows = json.loads((tmp_path / "ensemble.json").read_text())["protocols"]["bench-florence9"]
    assert set(rows) == {"a", "b", "a+b"}
    # a model with itself is that model: the combination's cosine is the members' mean
    for m in ("cosine_centered", "fused"):
        assert rows["a"][m] == rows["b"][m] == pytest.approx(rows["a+b"][m])
        assert 1 / 9 < rows["a"]["fused"] <= 1.0  # pose features fused in: above chance on 9 classes
    assert (tmp_path / "feats_a_bench-florence9.npz").is_file()
    assert "mean over protocols" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown model"):
        explore_ensemble.main(args[:-4] + ["--combo", "a+c"])
