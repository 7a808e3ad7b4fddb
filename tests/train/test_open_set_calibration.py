"""Open-set calibration (train/open_set_eval.py) on generated scores whose right answer is known,
episodes from real matcher scoring of generated embeddings, the episodes file, and writing the
values into an ONNX model's metadata (train/open_set_meta.py, `crossglg-train calibrate-open-set`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from crossglg.model_meta import read_onnx_metadata
from crossglg.open_set import DEFAULTS, OpenSetParams
from edge.calibration import DCConfig
from train.open_set_eval import (
    Episodes,
    PathScores,
    calibrate,
    choose,
    choose_ranking,
    concat,
    evaluate,
    load_episodes,
    open_set_episodes,
    save_episodes,
)

ASSET = Path(__file__).resolve().parents[1] / "assets" / "crossglg_realdata.onnx"


def _episodes(draws: int, known_cos: np.ndarray, unknown_cos: np.ndarray, known_margin: float = 0.3,
              unknown_margin: float = 0.3, dc: tuple[float, float] | None = None, name: str = "p") -> Episodes:  # fmt: skip
    """Every episode: the same known queries (all ranked correctly) and never-enrolled ones."""
    n_k, n_u = known_cos.size, unknown_cos.size
    cos = np.tile(np.r_[known_cos, unknown_cos], draws).astype(np.float32)
    margin = np.tile(np.r_[np.full(n_k, known_margin), np.full(n_u, unknown_margin)], draws).astype(np.float32)
    known = np.tile(np.r_[np.ones(n_k, bool), np.zeros(n_u, bool)], draws)
    correct = known.copy()
    paths = {"cosine": PathScores(cos, margin, correct)}
    if dc is not None:
        dcm = np.tile(np.r_[np.full(n_k, dc[0]), np.full(n_u, dc[1])], draws).astype(np.float32)
        paths["dc"] = PathScores(cos, dcm, correct)
    episode = np.repeat(np.arange(draws), n_k + n_u)
    return Episodes(episode, np.zeros(episode.size, np.int64), (name,), known, paths)


def test_threshold_is_the_lowest_that_keeps_false_accepts_at_target() -> None:
    # strangers' best cosines 0.005, 0.015, ..., 0.695 (70): FAR(t) = share >= t; 10% first at t = 0.63
    ep = _episodes(4, np.linspace(0.605, 0.995, 40), np.linspace(0.005, 0.695, 70))
    params, met = choose(ep, 0.1)
    assert met and params.threshold == pytest.approx(0.63)
    assert (params.margin, params.dc_margin) == (DEFAULTS.margin, DEFAULTS.dc_margin)  # margins did not pay
    res = evaluate(ep, "cosine", params)
    assert res["false_accept"]["mean"] == pytest.approx(0.1) and res["false_accept"]["n"] == 4
    assert res["known_accuracy"]["mean"] == pytest.approx(37 / 40)  # 0.635 .. 0.995 pass
    assert res["auroc"]["mean"] > 0.95
    loose, _ = choose(ep, 0.3)
    assert loose.threshold < params.threshold  # a looser target keeps more known queries
    at_default = evaluate(ep, "cosine", DEFAULTS)
    assert at_default["false_accept"]["mean"] == pytest.approx(20 / 70)


def test_margins_are_raised_only_when_they_pay() -> None:
    # strangers score as high as known actions but sit between two of them: only a margin separates
    ep = _episodes(3, np.full(20, 0.9), np.full(20, 0.9), known_margin=0.15, unknown_margin=0.07, dc=(0.6, 0.3))
    cal = calibrate(ep, 0.1)
    p = cal["params"]
    # the margin nearest the default that rejects 0.07 and keeps 0.15; the same for DC (0.3 vs 0.6)
    assert (p["threshold"], p["margin"], p["dc_margin"]) == (0.5, 0.08, 0.35) and cal["target_met"]
    for path in ("dc", "cosine"):
        assert cal["pooled"]["calibrated"][path]["false_accept"]["mean"] == 0.0
        assert cal["pooled"]["calibrated"][path]["known_accuracy"]["mean"] == 1.0
    assert cal["pooled"]["defaults"]["cosine"]["false_accept"]["mean"] == 1.0  # 0.07 > the default 0.05
    assert cal["primary"] == "dc" and cal["defaults"] == {"threshold": 0.5, "margin": 0.05, "dc_margin": 0.2}
    json.dumps(cal)  # the results JSON keeps it


def test_unreachable_target_is_flagged_and_per_protocol_held_out_figures() -> None:
    hopeless = _episodes(2, np.full(5, 0.99), np.full(5, 0.995), known_margin=0.5, unknown_margin=0.5)
    params, met = choose(hopeless, 0.1)
    assert not met and params.threshold == pytest.approx(0.99)  # the most conservative grid point
    a = _episodes(3, np.linspace(0.605, 0.995, 40), np.linspace(0.005, 0.695, 70), name="a")
    b = _episodes(3, np.linspace(0.705, 0.995, 30), np.linspace(0.105, 0.795, 70), name="b")
    both = concat([a, b])
    assert both.count == 6 and both.names == ("a", "b") and set(both.protocol.tolist()) == {0, 1}
    cal = calibrate(both, 0.1)
    assert set(cal["per_protocol"]) == {"a", "b"} and len(cal["held_out"]) == 2
    held = {h["protocol"]: h for h in cal["held_out"]}
    assert held["a"]["params"]["threshold"] == pytest.approx(0.73)  # chosen on b alone
    assert held["b"]["params"]["threshold"] == pytest.approx(0.63)  # chosen on a: too loose for b
    assert held["b"]["cosine"]["false_accept"]["mean"] > 0.1
    pooled = cal["pooled"]["calibrated"]["cosine"]["false_accept"]["mean"]
    assert pooled <= 0.1 + 1e-9 and cal["pooled"]["calibrated"]["cosine"]["false_accept"]["n"] == 6


def test_episodes_from_matcher_scores_and_the_episodes_file(tmp_path: Path) -> None:
    from crossglg.oneshot import base_statistics

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 16))
    labels = np.repeat(np.arange(6), 5)
    feats = (centres[labels] + 0.05 * rng.normal(size=(30, 16))).astype(np.float32)  # tight, separable classes
    stats = base_statistics(rng.normal(size=(40, 16)), np.repeat(np.arange(4), 10))
    ep = open_set_episodes(feats, labels, None, stats, draws=4, seed=0, name="toy", dc=DCConfig(samples=30, steps=30))
    assert ep.count == 4 and set(ep.paths) == {"dc", "cosine"} and ep.episode.size == 4 * 27  # 3 exemplars each
    assert ep.known.sum() == 4 * 12  # 3 enrolled classes x 4 other clips
    strict = evaluate(ep, "cosine", OpenSetParams(0.9, 0.0, 0.0))
    assert strict["known_accuracy"]["mean"] > 0.95 and strict["false_accept"]["mean"] < 0.05
    assert evaluate(ep, "cosine", OpenSetParams(-1.0, 0.0, 0.0))["false_accept"]["mean"] == 1.0
    save_episodes(ep, tmp_path / "ep.npz")
    back = load_episodes(tmp_path / "ep.npz")
    assert back.names == ("toy",) and np.array_equal(back.paths["dc"].margin, ep.paths["dc"].margin)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ValueError, match="bad.npz: not an open-set episodes file"):
        load_episodes(tmp_path / "bad.npz")


def test_calibrate_open_set_command_writes_the_metadata(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from train.benchmark_results import results_document
    from train.cli import main

    ep = _episodes(3, np.linspace(0.605, 0.995, 40), np.linspace(0.005, 0.695, 70))
    cal = {**calibrate(ep, 0.1), "source": "benchmark of x.pt"}
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "benchmark.json").write_text(json.dumps(results_document([], cal, "x.pt", "cmd")))
    save_episodes(ep, bench / "open_set_episodes.npz")
    model = tmp_path / "m.onnx"
    shutil.copyfile(ASSET, model)
    assert main(["calibrate-open-set", str(bench / "benchmark.json"), "--into", str(model)]) == 0
    meta = read_onnx_metadata(model)
    assert meta["fingerprint"] == read_onnx_metadata(ASSET)["fingerprint"]
    assert json.loads(meta["open_set"]) == {"threshold": 0.63, "margin": 0.05, "dc_margin": 0.2, "target_far": 0.1,
                                            "source": "benchmark of x.pt", "ranking": "cosine"}  # fmt: skip
    # another target: recalibrated from the saved episodes
    assert main(["calibrate-open-set", str(bench / "benchmark.json"), "--into", str(model), "--target-far", "0.3"]) == 0
    again = json.loads(read_onnx_metadata(model)["open_set"])
    assert again["target_far"] == 0.3 and again["threshold"] < 0.63 and "recalibrated for 0.3" in again["source"]
    (bench / "old.json").write_text("[]")  # a baselines-only / earlier results file has no calibration
    assert main(["calibrate-open-set", str(bench / "old.json"), "--into", str(model)]) != 0
    assert "old.json: no open-set calibration" in capsys.readouterr().err


def _protocol(name: str, centred: float, dc: float) -> dict:
    """A benchmark.json protocol entry with the two ranked methods' random-draw means."""
    return {"protocol": name, "cosine_centered": {"random": {"mean": centred}}, "dc": {"random": {"mean": dc}}}


def test_dc_ranks_only_when_it_helps_on_average() -> None:
    # DC loses on one protocol but wins on average: chosen; the figures of the 2026-12-02 benchmark: not
    helps = choose_ranking([_protocol("a", 0.80, 0.70), _protocol("b", 0.40, 0.56), {"protocol": "baselines only"}])
    assert helps["chosen"] == "dc" and helps["protocols"] == ["a", "b"]
    assert (helps["cosine_centered_mean"], helps["dc_mean"]) == (pytest.approx(0.60), pytest.approx(0.63))
    hurts = choose_ranking([_protocol("utd9", 0.850, 0.830), _protocol("kard18", 0.736, 0.682),
                            _protocol("kgator", 0.364, 0.360), _protocol("florence9", 0.563, 0.497)])  # fmt: skip
    assert hurts["chosen"] == "cosine" and hurts["dc_mean"] < hurts["cosine_centered_mean"]
    assert choose_ranking([_protocol("a", 0.5, 0.5)])["chosen"] == "cosine"  # a tie is no help
    none = choose_ranking([])
    assert none["chosen"] == "cosine" and none["dc_mean"] is None and none["protocols"] == []
    with pytest.raises(ValueError, match="random.mean"):
        choose_ranking([{"protocol": "x", "cosine_centered": {"random": {}}, "dc": {"random": {"mean": 0.1}}}])


def _dc_only_separates(draws: int = 3) -> Episodes:
    # strangers' best cosine (0.995) is above every known query's and every grid threshold, their cosine
    # margin as wide as the known queries': only the DC margin (0.6 vs 0.3) tells them apart
    return _episodes(draws, np.full(20, 0.9), np.full(20, 0.995), known_margin=0.3, unknown_margin=0.3, dc=(0.6, 0.3))


def test_the_chosen_ranking_is_the_calibrations_primary_path() -> None:
    ep = _dc_only_separates()
    by_dc = calibrate(ep, 0.1, ranking=choose_ranking([_protocol("a", 0.5, 0.6)]))
    assert by_dc["primary"] == "dc" and by_dc["ranking"]["chosen"] == "dc"
    assert by_dc["params"]["threshold"] == 0.5 and by_dc["params"]["dc_margin"] == 0.35  # DC keeps every known query
    by_cos = calibrate(ep, 0.1, ranking=choose_ranking([_protocol("a", 0.6, 0.5)]))
    assert by_cos["primary"] == "cosine" and by_cos["ranking"]["chosen"] == "cosine"
    # cosine never reaches the target: its most conservative point (highest threshold, largest margin)
    assert (by_cos["params"]["threshold"], by_cos["params"]["margin"]) == (0.99, 0.2) and not by_cos["target_met"]
    assert calibrate(ep, 0.1)["primary"] == "dc" and "ranking" not in calibrate(ep, 0.1)  # no decision: DC if present
    no_dc = _episodes(2, np.full(5, 0.9), np.full(5, 0.1))
    with pytest.raises(ValueError, match="ranking 'dc' chosen, but the episodes hold only cosine"):
        calibrate(no_dc, 0.1, ranking=choose_ranking([_protocol("a", 0.5, 0.6)]))


def test_existing_benchmark_files_get_the_ranking_decision(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from train.benchmark import open_set_markdown
    from train.benchmark_results import results_document
    from train.cli import main
    from train.open_set_meta import calibration_from_results

    ep = _dc_only_separates()
    old = {**calibrate(ep, 0.1), "source": "benchmark of x.pt"}  # as written before the decision: DC primary
    bench = tmp_path / "benchmark.json"
    hurts = [_protocol("a", 0.85, 0.83), _protocol("b", 0.74, 0.68)]
    bench.write_text(json.dumps(results_document(hurts, old, "x.pt", "cmd")))
    with pytest.raises(ValueError, match=r"benchmark.json: calibrated .* with dc ranking; recalibrating for centred "
                                         r"cosine ranking needs .*open_set_episodes.npz"):  # fmt: skip
        calibration_from_results(bench)
    save_episodes(ep, tmp_path / "open_set_episodes.npz")
    cal = calibration_from_results(bench)
    assert cal["primary"] == "cosine" and cal["params"]["threshold"] == 0.99
    assert cal["ranking"]["chosen"] == "cosine" and cal["source"].endswith("recalibrated for centred cosine ranking")
    assert "| 2 protocol(s) | 79.5 | 75.5 | centred cosine |" in open_set_markdown(cal)
    model = tmp_path / "m.onnx"
    shutil.copyfile(ASSET, model)
    assert main(["calibrate-open-set", str(bench), "--into", str(model), "--target-far", "0.2"]) == 0
    assert "ranking centred cosine (benchmark of x.pt; recalibrated for 0.2 and for centred" in capsys.readouterr().out
    stored = json.loads(read_onnx_metadata(model)["open_set"])
    assert (stored["ranking"], stored["threshold"], stored["target_far"]) == ("cosine", 0.99, 0.2)
    # DC helped: the old DC-primary calibration stands as it is, now with the decision
    bench.write_text(json.dumps(results_document([_protocol("a", 0.5, 0.6)], old, "x.pt", "cmd")))
    kept = calibration_from_results(bench)
    assert kept["params"] == old["params"] and kept["source"] == "benchmark of x.pt" and kept["ranking"]["chosen"] == "dc"
    assert main(["calibrate-open-set", str(bench), "--into", str(model)]) == 0
    assert json.loads(read_onnx_metadata(model)["open_set"])["ranking"] == "dc"


def test_a_fused_ranking_is_calibrated_on_its_own_scores_and_written_with_the_fusion(tmp_path: Path) -> None:
    from crossglg.pose_features import Fusion, encode_fusion
    from edge.engines.onnx import OnnxEngine
    from edge.open_set_values import choose_open_set
    from train.benchmark import open_set_markdown
    from train.benchmark_results import results_document
    from train.open_set_meta import calibration_from_results, write_open_set

    # embeddings that barely separate classes, pose features that do: only the fused path can be calibrated well
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(6), 8)
    feats = rng.normal(size=(labels.size, 16)).astype(np.float32)
    poses = (np.eye(6, 24)[labels] * 3 + rng.normal(0, 0.3, (labels.size, 24))).astype(np.float32)
    fusion = Fusion(0.3)
    ep = open_set_episodes(feats, labels, None, None, 6, 0, "p", poses=poses, fusion=fusion)
    assert set(ep.paths) == {"cosine", "fused"}
    fused_right, cos_right = ep.paths["fused"].correct[ep.known].mean(), ep.paths["cosine"].correct[ep.known].mean()
    assert fused_right > 0.9 and fused_right > cos_right + 0.3  # enrolled queries ranked to their own action

    def protocol(name: str, fused: float) -> dict:
        return {**_protocol(name, 0.5, 0.4), "fused": {"random": {"mean": fused}},
                "fusion": json.loads(encode_fusion(fusion))}  # fmt: skip

    ranking = choose_ranking([protocol("a", 0.7), protocol("b", 0.6)])
    assert ranking["chosen"] == "fused" and ranking["fused_mean"] == pytest.approx(0.65)
    assert choose_ranking([protocol("a", 0.5)])["chosen"] == "cosine"  # a tie is no help
    cal = calibrate(ep, 0.1, ranking=ranking)
    assert cal["primary"] == "fused" and cal["target_met"]
    fused_acc = cal["pooled"]["calibrated"]["fused"]["known_accuracy"]["mean"]
    assert fused_acc > 0.8 and cal["pooled"]["calibrated"]["fused"]["false_accept"]["mean"] <= 0.1
    assert "| 1 protocol(s) | 50.0 | 40.0 | 65.0 | centred cosine fused with pose features |" in open_set_markdown(
        {**cal, "ranking": {**ranking, "protocols": ["a"]}})
    bench = tmp_path / "benchmark.json"
    bench.write_text(json.dumps(results_document([protocol("a", 0.7), protocol("b", 0.6)], cal, "x.pt", "cmd")))
    got = calibration_from_results(bench)
    assert got["fusion"]["weight"] == 0.3 and got["params"] == cal["params"]
    model = tmp_path / "m.onnx"
    shutil.copyfile(ASSET, model)
    write_open_set(model, got)
    with OnnxEngine(model) as engine:  # what the edge reads back: fused ranking at the calibrated values
        chosen = choose_open_set(engine.meta)
    assert chosen.fusion == Fusion(0.3) and chosen.params.threshold == cal["params"]["threshold"]
    # recalibrated for another ranking, the fusion record goes: the values are for that score alone
    write_open_set(model, {**got, "ranking": {**ranking, "chosen": "cosine"}})
    assert "fusion" not in read_onnx_metadata(model)
    with pytest.raises(ValueError, match="fused ranking without the model's fusion record"):
        write_open_set(model, {k: v for k, v in got.items() if k != "fusion"})
