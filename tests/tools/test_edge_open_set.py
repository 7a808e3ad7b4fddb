"""tools/bench/edge_open_set.py: window-level open-set calibration through the edge path.

Unit tests of the chooser on generated window scores; then one short real run (the trained test
asset, UTD-MHAD and KARD streams, two episodes each, one stream per episode) through the real
pipeline: the offline sweep reproduces the decisions the pipeline published, the chosen values meet
the target on the episodes they were chosen on, and --calibrate-into writes values the edge reads back.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "bench"))
import edge_open_set as eos  # noqa: E402

from crossglg.open_set import OpenSetParams  # noqa: E402
from train.open_set_eval import Episodes, PathScores, episode_rates, evaluate  # noqa: E402

ASSET = ROOT / "tests" / "assets" / "crossglg_realdata.onnx"


def _episodes(cos: np.ndarray, margin: np.ndarray, known: np.ndarray, correct: np.ndarray, draws: int) -> Episodes:
    n = cos.size
    episode = np.repeat(np.arange(draws), n // draws)
    return Episodes(episode, np.zeros(n, np.int64), ("gen",), known, {"cosine": PathScores(cos, margin, correct)})


def _separable(seed: int = 0) -> Episodes:
    """Known windows (all ranked right) with cosines ~U(0.5, 1), unknown ones ~U(0, 0.7); margins wide."""
    rng = np.random.default_rng(seed)
    draws, per = 4, 200
    known = np.tile(np.r_[np.ones(per // 2, bool), np.zeros(per // 2, bool)], draws)
    cos = np.where(known, rng.uniform(0.5, 1.0, known.size), rng.uniform(0.0, 0.7, known.size))
    return _episodes(cos, np.full(known.size, 0.5), known, known.copy(), draws)


def test_choose_values_takes_the_most_accurate_feasible_point() -> None:
    ep = _separable()
    params, met = eos.choose_values(ep, "cosine", 0.1, OpenSetParams(0.84, 0.02, 0.0))
    assert met
    acc, far = episode_rates(ep, "cosine", eos.THRESHOLDS, params.margin)
    acc, far = acc.mean(axis=1), far.mean(axis=1)
    i = int(np.flatnonzero(np.isclose(eos.THRESHOLDS, params.threshold))[0])
    assert far[i] <= 0.1 + 1e-12
    assert acc[i] == acc[far <= 0.1 + 1e-12].max()  # nothing feasible beats it
    assert 0.6 < params.threshold < 0.7  # unknown cosines reach 0.7: FAR 10% needs ~0.65
    assert params.dc_margin == 0.0  # the other margin field keeps the current value


def test_choose_values_ties_go_to_the_current_values() -> None:
    # every window accepted right or rejected the same way for any threshold in (0.3, 0.9): a plateau
    known = np.tile([True, False], 100)
    cos = np.where(known, 0.95, 0.2)
    ep = _episodes(cos, np.full(cos.size, 0.5), known, known.copy(), 2)
    for current in (OpenSetParams(0.42, 0.07, 0.2), OpenSetParams(0.8, 0.13, 0.2)):
        params, met = eos.choose_values(ep, "cosine", 0.2, current)
        assert met and params.threshold == current.threshold and params.margin == current.margin


def test_choose_values_without_a_feasible_point_is_the_most_conservative() -> None:
    known = np.tile([True, False], 50)
    cos = np.full(known.size, 0.999)  # unknown windows as close as known ones: FAR 100% at every threshold
    ep = _episodes(cos, np.full(cos.size, 0.9), known, known.copy(), 2)
    params, met = eos.choose_values(ep, "cosine", 0.2, OpenSetParams(0.5, 0.05, 0.2))
    assert not met
    assert params.threshold == eos.THRESHOLDS.max() and params.margin == eos.WINDOW_MARGINS.max()


def test_check_decisions_counts_what_the_rule_would_decide_otherwise() -> None:
    w = eos.Windows(draw=np.zeros(4, np.int64), t_frame=np.arange(4.0), cosine=np.array([0.9, 0.3, 0.84, -np.inf]),
                    margin=np.array([0.5, 0.5, 0.5, np.nan]), best=np.array(["a", "b", "a", ""]),
                    truth=np.array(["a", "a", "c", "a"]), known=np.array([True, True, False, True]),
                    state=np.array(["action", "unknown", "unknown", "none"]), label=np.array(["a", "", "", ""]))  # fmt: skip
    ok = eos.check_decisions(w, OpenSetParams(0.5, 0.05, 0.2), "cosine")
    assert ok == {"windows": 4, "gated": 1, "accepted": 1, "mismatches": 1, "near_threshold": 0}  # 0.84 >= 0.5
    at = eos.check_decisions(w, OpenSetParams(0.84, 0.05, 0.2), "cosine")
    assert at["mismatches"] == 1 and at["near_threshold"] == 1  # 0.84 sits on the threshold: rounding


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    assert eos.main(["--model", str(ASSET), "--data-root", str(tmp_path), "--draws", "0"]) == 2
    assert eos.main(["--model", str(ASSET), "--data-root", str(tmp_path), "--protocols", "florence"]) == 2


@pytest.fixture(scope="module")
def short_run(data_dir: Path) -> tuple[dict, dict]:
    return eos.run(ASSET, data_dir, ["utd-novel9", "kard18"], draws=2, streams=1, target_far=0.2, seed=3)


@pytest.mark.realdata
@pytest.mark.slow
def test_offline_sweep_reproduces_the_pipelines_decisions(short_run: tuple[dict, dict]) -> None:
    report, windows = short_run
    path = report["ranking"]
    stored = OpenSetParams(**report["calibration"]["stored"])  # the asset carries none: the built-in values
    assert stored == OpenSetParams() and path == "cosine"  # no base statistics: centred cosine
    ep = report["episodes"]
    for k, (name, w) in enumerate(windows.items()):
        check = report["check"][name]
        assert check["windows"] == w.draw.size > 150 and check["mismatches"] == check["near_threshold"]
        assert 0 < check["accepted"] < check["windows"]  # both decisions occur: the comparison can fail
        # known accuracy and FAR per episode from the published states equal the sweep's at those values
        mine = ep.select(ep.protocol == k)
        acc, far = episode_rates(mine, path, np.array([stored.threshold]), stored.margin)
        for e in range(2):
            sel = w.draw == e
            pub = w.state[sel] == "action"
            right = pub & (w.label[sel] == w.truth[sel]) & w.known[sel]
            assert np.isclose(acc[0, e], right.sum() / w.known[sel].sum(), atol=2 / w.known[sel].sum())
            assert np.isclose(far[0, e], pub[~w.known[sel]].sum() / (~w.known[sel]).sum(),
                              atol=2 / (~w.known[sel]).sum())  # fmt: skip
    assert set(report["windows"]) == {"utd-novel9", "kard18"}


@pytest.mark.realdata
@pytest.mark.slow
def test_chosen_values_meet_the_target_and_the_smoothed_pass_reports(short_run: tuple[dict, dict]) -> None:
    report, _ = short_run
    cal = report["calibration"]
    chosen = OpenSetParams(**cal["chosen"])
    figs = evaluate(report["episodes"], report["ranking"], chosen)
    assert cal["target_met"] and figs["false_accept"]["mean"] <= 0.2 + 1e-12
    assert figs == cal["pooled"]["chosen"]
    assert len(cal["held_out"]) == 2 and {h["protocol"] for h in cal["held_out"]} == set(report["windows"])
    sm = report["smoothed_chosen"]
    assert sm["params"] == cal["chosen"] and set(sm["per_protocol"]) == set(report["windows"])
    for f in sm["per_protocol"].values():
        assert f["known_segments"] > 0 and f["unknown_segments"] > 0 and f["stream_minutes"] > 0.5
        assert 0 <= f["known_accuracy"]["mean"] <= 1 and 0 <= f["false_accept"]["mean"] <= 1


@pytest.mark.realdata
@pytest.mark.slow
def test_calibrate_into_writes_values_the_edge_reads_back(short_run: tuple[dict, dict], tmp_path: Path) -> None:
    from edge.open_set_values import choose_open_set
    from edge.runtime import open_model

    report, _ = short_run
    target = tmp_path / "model.onnx"
    shutil.copy(ASSET, target)
    lines = eos.calibrate_into([target], ASSET, report)
    assert len(lines) == 1 and str(target) in lines[0]
    with open_model(target) as engine:
        chosen = choose_open_set(engine.meta)
        stored = engine.meta.open_set
    assert chosen.params == OpenSetParams(**report["calibration"]["chosen"])
    assert stored.target_far == 0.2 and stored.source.startswith("window-level, edge path")
    assert stored.ranking is None and engine.meta.fusion is None  # the asset's: none stored, no fusion
    other = tmp_path / "other.onnx"
    shutil.copy(ROOT / "edge" / "starter" / "starter-int8.onnx", other)
    with pytest.raises(ValueError, match="fingerprints differ"):
        eos.calibrate_into([other], ASSET, report)


@pytest.mark.realdata
@pytest.mark.slow
def test_transfer_into_a_recipe_mate_keeps_its_own_fusion_and_names_the_measured_model(
        short_run: tuple[dict, dict], tmp_path: Path) -> None:  # fmt: skip
    """The all-data starter cannot be measured on protocols it trained on: values measured on its
    held-out recipe-mate are carried over (--from-report + --transfer-into), saying so."""
    import json

    from edge.runtime import open_model

    report, _ = short_run
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps({k: v for k, v in report.items() if k != "episodes"}))
    mate = tmp_path / "mate.onnx"
    shutil.copy(ROOT / "edge" / "starter" / "starter.onnx", mate)
    with open_model(mate) as engine:
        assert engine.meta.fusion is not None  # the starter fuses; these values are for the cosine alone
    assert eos.main(["--from-report", str(saved), "--transfer-into", str(mate)]) == 0
    with open_model(mate) as engine:
        stored, fusion = engine.meta.open_set, engine.meta.fusion
    assert stored.params == OpenSetParams(**report["calibration"]["chosen"])
    assert stored.ranking == "cosine" and fusion is None
    assert "measured on the recipe-mate " in stored.source and "(fingerprint " in stored.source
    same = tmp_path / "self.onnx"
    shutil.copy(ASSET, same)
    with pytest.raises(ValueError, match="the measured model itself"):
        eos.transfer_into([same], report)
    with pytest.raises(ValueError, match="no fusion record"):  # fused values need a fused target
        eos.transfer_into([same], {**report, "ranking": "fused", "model": "elsewhere.onnx"})
    with pytest.raises(SystemExit):
        eos.main(["--from-report", str(saved), "--calibrate-into", str(mate), "--transfer-into", str(mate)])
