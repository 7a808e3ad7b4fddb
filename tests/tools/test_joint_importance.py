"""tools/joint_importance.py and train/joint_importance.py: text vs learned joint importance.

Agreement maths on small generated rows; the tool end to end on a tiny CrossGLG model trained for
two epochs on a real-data subset (the session's ``tiny_crossglg_run``: PNG written, numbers in
range, shuffled reference computed), and its refusal of a baseline checkpoint (one epoch on the
same subset, no JID)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from shared_helpers import load_tool

from train.joint_importance import ClassImportance, agreement, pick_classes, spearman, top_hit, window_spread

TINY = ["data.frames=16", "optim.batch_size=4", "optim.epochs=1", "eval.draws=2", "eval.dc_samples=20",
        "num_threads=2"]


def _imp(text: np.ndarray, learned: np.ndarray) -> ClassImportance:
    k = text.shape[0]
    return ClassImportance(protocol="p", checkpoint="c.pt", variant="crossglg", split="novel", epochs=1,
                           class_names=tuple(f"class {i}" for i in range(k)), text=text, learned=learned,
                           windows=np.full(k, 3))


def _rows(k: int, seed: int) -> np.ndarray:
    r = np.random.default_rng(seed).gamma(0.5, size=(k, 25))
    return r / r.sum(1, keepdims=True)


def test_spearman_and_top_hit_handle_ties() -> None:
    a = np.arange(25.0)
    assert spearman(a, a) == pytest.approx(1.0) and spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.ones(25)) == 0.0  # a constant row has no ranking
    text = np.full(25, 0.01)
    text[[3, 7]] = 0.3  # two named joints, the rest tie at the floor
    learned = np.zeros(25)
    learned[[3, 7, 10, 11, 12]] = [5, 4, 3, 2, 1]
    assert top_hit(learned, text) == 1.0  # the text's 5th value is the floor: every joint reaches it
    text[[0, 1, 2]] = 0.2
    assert top_hit(learned, text) == pytest.approx(0.4)  # only joints 3 and 7 of the model's top 5


def test_agreement_separates_matched_from_shuffled_text() -> None:
    text = _rows(8, 0)
    matched = agreement(_imp(text, text + 0.001 * _rows(8, 1)), permutations=300)
    assert matched["spearman"]["mean"] > 0.95 and matched["top5"]["mean"] > 0.9
    assert matched["shuffled_spearman"]["mean"] < matched["spearman"]["mean"] - 0.3
    assert matched["permutation"]["p"] < 0.01 and matched["permutation"]["n"] == 300
    one_profile = agreement(_imp(text, np.tile(text.mean(0), (8, 1))), permutations=300)
    assert one_profile["between_classes"]["learned"] == pytest.approx(1.0)
    assert one_profile["spearman"]["mean"] == pytest.approx(one_profile["shuffled_spearman"]["mean"], abs=0.05)
    assert one_profile["permutation"]["p"] > 0.05  # the same row for every class is not class-specific
    # identical rows: every shuffle's mean equals the matched one (up to float summation order): p = 1
    assert one_profile["permutation"]["p"] == pytest.approx(1.0)
    picked = pick_classes(matched, 3)
    rho = [c["spearman"] for c in matched["per_class"]]
    assert rho[picked[0]] == max(rho) and rho[picked[-1]] == min(rho) and len(set(picked)) == 3
    with pytest.raises(ValueError, match="at least 2"):
        agreement(_imp(text[:1], text[:1]))


def test_window_spread_is_zero_only_for_an_input_blind_output() -> None:
    row = _rows(1, 2)
    assert window_spread(np.tile(row, (6, 1))) == pytest.approx(0.0)
    two = np.zeros((4, 25))
    two[:2, 0] = two[2:, 1] = 1.0  # half the windows all on joint 0, half on joint 1
    assert window_spread(two) == pytest.approx(0.5)
    assert 0 < window_spread(_rows(6, 3)) < 1


@pytest.fixture(scope="module")
def tiny_runs(tiny_crossglg_run: Path, tiny_train_data, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The session's tiny CrossGLG run (2 epochs on 8 real base sequences, 4 classes x 2) and a
    baseline trained for one epoch on the same sequences."""
    from train.config import load_config
    from train.trainer import run_training

    out = tmp_path_factory.mktemp("ji") / "baseline"
    run_training(load_config(None, [*TINY, "model.variant=baseline"]), tiny_train_data, out, progress=False)
    return {"crossglg": tiny_crossglg_run / "final.pt", "baseline": out / "final.pt"}


@pytest.mark.realdata
def test_tool_writes_png_and_agreement(tiny_runs: dict[str, Path], data_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_tool("joint_importance")
    png, js = tmp_path / "ji.png", tmp_path / "ji.json"
    code = tool.main([str(tiny_runs["crossglg"]), "--data-root", str(data_dir), "--max-per-class", "2",
                      "--permutations", "50", "--threads", "2", "--png", str(png), "--json", str(js)])
    assert code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    res = json.loads(js.read_text())
    assert res["classes"] == 9 and res["windows"] == 18 and res["variant"] == "crossglg"  # 2 queries x 9 classes
    for key in ("spearman", "shuffled_spearman"):
        assert -1 <= res[key]["mean"] <= 1 and res[key]["n"] == 9 and res[key]["ci95"] >= 0
    for key in ("top5", "shuffled_top5"):
        assert 0 <= res[key]["mean"] <= 1
    assert all(-1 <= c["shuffled_spearman"] <= 1 and c["windows"] == 2 for c in res["per_class"])
    assert 0 < res["permutation"]["p"] <= 1 and res["permutation"]["n"] == 50
    assert len(res["png"]["classes"]) == 4
    learned, text = np.array(res["learned"]), np.array(res["text"])
    assert learned.shape == text.shape == (9, 25) and np.allclose(learned.sum(1), 1, atol=1e-3)
    assert 0 <= res["window_tv"] <= 1
    assert "Spearman, other classes' text" in capsys.readouterr().out


@pytest.mark.realdata
def test_tool_refuses_a_baseline_checkpoint(tiny_runs: dict[str, Path], data_dir: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    tool = load_tool("joint_importance")
    png = tmp_path / "ji.png"
    code = tool.main([str(tiny_runs["baseline"]), "--data-root", str(data_dir), "--png", str(png)])
    err = capsys.readouterr().err
    assert code == 2 and not png.exists()
    assert "variant 'baseline' has no joint-importance discriminator" in err and str(tiny_runs["baseline"]) in err
