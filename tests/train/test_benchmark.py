"""The real-data benchmark: protocol definitions on the real class lists, the open-set maths, the
held-out check, and `crossglg-train benchmark` end to end on a tiny model and real recordings
(with its open-set calibration written into an ONNX file's metadata). Calibration on generated
scores: tests/train/test_open_set_calibration.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from crossglg.datasets.classes import CLASS_NAMES
from crossglg.model_meta import read_onnx_metadata
from crossglg.open_set import OpenSetParams
from edge.calibration import DCConfig
from train.benchmark import OpenSetConfig, check_held_out, markdown, open_set, summary, write_section
from train.benchmark_protocols import BENCHMARK, motion_family, same_action
from train.open_set_eval import auroc, calibrate, choose_ranking
from train.protocols import get_protocol

ASSET = Path(__file__).resolve().parents[1] / "assets" / "crossglg_realdata.onnx"


def _names(protocol) -> set[str]:  # noqa: ANN001
    return set(protocol.class_names(protocol.base))


def test_protocols_hold_out_novel_and_same_action_classes() -> None:
    utd = get_protocol("bench-utd9")
    base = _names(utd)
    assert "utd_mhad: right hand wave" in utd.class_names(utd.novel)
    for leaked in ("kard: horizontal arm wave", "florence: wave", "kinder_gator: wave your hand",
                   "nw_ucla: stand up", "florence: stand up", "sbu: pushing", "utd_mhad: right hand wave"):
        assert leaked not in base, leaked
    assert "kard: drink" in base and "utd_mhad: right arm swipe to the left" in base
    kard = get_protocol("bench-kard18")
    assert not {d for d, _ in kard.base} & {"kard"} and "florence: wave" not in _names(kard)
    assert "florence" not in {d for d, _ in get_protocol("bench-florence9").base}
    kg = get_protocol("bench-kgator")
    novel = kg.class_names(kg.novel)
    # a motion family is held out whole: both sides, both speeds
    assert ("kinder_gator: raise your hand" in novel) == ("kinder_gator: raise your other hand" in novel)
    assert 15 <= len(novel) <= 22 and all(n.startswith("kinder_gator") for n in novel)
    held = get_protocol("bench-heldout")
    for p in BENCHMARK.values():
        proto = p()
        assert not set(held.base) & set(proto.novel)
        assert set(held.base) <= set(proto.base)
    starter = get_protocol("starter-all")
    assert len(starter.base) == sum(len(CLASS_NAMES[d]) for d in {d for d, _ in starter.base}) and not starter.novel


def test_motion_family_and_same_action() -> None:
    assert motion_family("Kick a ball as far as you can with the other leg") == "kick a ball"
    assert motion_family("wave your other hand") == motion_family("Wave your hand")
    assert motion_family("draw the letter A") != motion_family("draw the letter C")
    assert motion_family("raise your arm to the other side") == motion_family("raise your arm to one side")
    clap = same_action(("kard", CLASS_NAMES["kard"].index("hand clap")))
    assert ("florence", CLASS_NAMES["florence"].index("clap")) in clap


def test_auroc_and_open_set_maths() -> None:
    assert auroc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert auroc(np.array([0.1]), np.array([0.9])) == 0.0
    assert auroc(np.array([0.5]), np.array([0.5])) == 0.5
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 16))
    labels = np.repeat(np.arange(6), 5)
    feats = centres[labels] + 0.05 * rng.normal(size=(30, 16))  # tight, separable classes
    res, ep = open_set(feats, labels, None, None, OpenSetConfig(OpenSetParams(0.9, 0.0, 0.0), draws=5), seed=0)
    assert res["enrolled_classes"] == 3 and ep.count == 5 and "dc" not in res  # no base statistics: cosine only
    c = res["cosine"]
    assert c["known_accuracy"]["mean"] > 0.95 and c["false_accept"]["mean"] < 0.05
    assert c["auroc"]["mean"] > 0.95
    loose, _ = open_set(feats, labels, None, None, OpenSetConfig(OpenSetParams(-1.0, 0.0, 0.0), draws=5), seed=0)
    assert loose["cosine"]["false_accept"]["mean"] == 1.0  # accepting everything accepts every stranger


def test_write_section_replaces_only_its_block(tmp_path: Path) -> None:
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nkeep me\n", encoding="utf-8")
    write_section(doc, "starter", "first\n")
    write_section(doc, "other", "second\n")
    write_section(doc, "starter", "third\n")
    text = doc.read_text()
    assert "keep me" in text and "first" not in text and text.count("third") == 1 and "second" in text


@pytest.mark.realdata
def test_benchmark_command_on_a_tiny_held_out_model(tiny_heldout_final: Path, data_dir: Path, tmp_path: Path) -> None:
    from train.cli import main

    final = tiny_heldout_final
    doc = tmp_path / "results.md"
    model = tmp_path / "model.onnx"  # any exported model: the values land in its metadata, weights untouched
    shutil.copyfile(ASSET, model)
    code = main(["benchmark", str(final), "--data-root", str(data_dir), "--protocols", "bench-florence9",
                 "--draws", "3", "--max-novel-per-class", "3", "--out", str(tmp_path / "bench"), "--docs", str(doc),
                 "--dtw-cache", str(tmp_path / "dtw"), "--open-set-draws", "4", "--open-set-dc-samples", "50", "--target-far", "0.25",
                 "--calibrate-into", str(model)])  # fmt: skip
    assert code == 0
    doc_json = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    res = doc_json["protocols"][0]
    assert res["protocol"] == "bench-florence9" and res["novel_classes"] == 9 and res["queries"] == 27
    for m in ("cosine", "cosine_centered", "dc", "fused", "dtw", "pose_cosine"):
        assert 0.0 <= res[m]["fixed"] <= 1.0 and len(res[m]["draws"]) == 3
    # the fusion weight comes from the model's own base clips (4 per class), never from the novel ones
    fusion = res["fusion"]
    assert 0.0 < fusion["weight"] < 1.0 and fusion["w"] == 0.5 and "protocol bench-heldout" in fusion["source"]
    # the same episodes for every method: the non-learned baselines are far above chance (1/9)
    assert res["dtw"]["random"]["mean"] > 0.3 and res["pose_cosine"]["random"]["mean"] > 0.3
    # open set: the edge's DC and cosine paths at the defaults, then calibrated on the 4 episodes
    o = res["open_set"]
    assert o["enrolled_classes"] == 4 or o["enrolled_classes"] == 5
    assert o["reference"] == {"threshold": 0.5, "margin": 0.05, "dc_margin": 0.2} and {"dc", "cosine", "fused"} <= set(o)
    cal = doc_json["open_set_calibration"]
    assert cal["episodes"] == 4 and cal["protocols"] == ["bench-florence9"]
    # the ranking decision from this run's own closed-set figures, the calibration's primary path
    rk = cal["ranking"]
    means = {"dc": res["dc"]["random"]["mean"], "cosine": res["cosine_centered"]["random"]["mean"],
             "fused": res["fused"]["random"]["mean"]}
    assert (rk["dc_mean"], rk["cosine_centered_mean"], rk["fused_mean"]) == (means["dc"], means["cosine"], means["fused"])
    best = max(means.values())
    assert cal["primary"] == rk["chosen"] and means[rk["chosen"]] == best
    assert rk["chosen"] == "cosine" or means[rk["chosen"]] > means["cosine"]  # ties go to centred cosine
    at = cal["pooled"]["calibrated"]
    if cal["target_met"]:
        assert at[rk["chosen"]]["false_accept"]["mean"] <= 0.25 + 1e-9
    assert cal["pooled"]["defaults"]["dc"] == o["dc"]  # the protocol's own figures at the same values
    stored = json.loads(read_onnx_metadata(model)["open_set"])
    assert {k: stored[k] for k in ("threshold", "margin", "dc_margin")} == cal["params"]
    assert stored["target_far"] == 0.25 and "bench-florence9" in stored["source"] and stored["ranking"] == rk["chosen"]
    written = read_onnx_metadata(model).get("fusion")  # the fusion record travels only with a fused ranking
    assert (json.loads(written)["weight"] == fusion["weight"]) if rk["chosen"] == "fused" else written is None
    assert read_onnx_metadata(model)["fingerprint"] == read_onnx_metadata(ASSET)["fingerprint"]
    assert (tmp_path / "bench" / "open_set_episodes.npz").is_file()
    # the DTW matrix went to --dtw-cache, not --out (another model's benchmark reuses it)
    assert [p.name.startswith("dtw_bench-florence9") for p in (tmp_path / "dtw").iterdir()] == [True]
    assert not list((tmp_path / "bench").glob("dtw_*.npy"))
    text = doc.read_text()
    assert "bench-florence9" in text and "| mean |" in text and "bench-florence9 (calibrated) | dc |" in text
    assert "| ranking decision | centred cosine mean % | DC mean % | fused mean % | chosen |" in text
    # a model trained on a protocol's novel classes (or the same actions elsewhere) is refused
    starter = get_protocol("starter-all")
    with pytest.raises(ValueError, match="held-out classes"):
        check_held_out(starter.class_names(starter.base), get_protocol("bench-florence9"))
    check_held_out(get_protocol("bench-heldout").class_names(get_protocol("bench-heldout").base),
                   get_protocol("bench-florence9"))


def test_summary_and_markdown_from_results() -> None:
    def m(fixed: float, mean: float) -> dict:
        return {"fixed": fixed, "random": {"mean": mean, "ci95": 0.01, "std": 0.02, "n": 3}, "draws": [mean] * 3}

    r = {"protocol": "p", "novel_classes": 3, "queries": 9, "cosine": m(0.9, 0.8), "cosine_centered": m(0.9, 0.85),
         "dc": m(0.7, 0.6), "dtw": m(0.8, 0.75), "pose_cosine": m(0.8, 0.7),
         }
    s = summary([r])
    assert s["rows"][0]["learned"] == "cosine_centered" and s["rows"][0]["baseline"] == "dtw"
    assert abs(s["mean_gap"] - 0.10) < 1e-9 and s["wins_everywhere"]
    text = markdown([r], "m.pt", "cmd")
    assert "| p | 3 | 9 | dc | 70.0 | 60.0 ± 1.0 |" in text and "+10.0" in text and "Open set" not in text
    # with the open-set calibration: rows per protocol and pooled, defaults and calibrated values
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(6), 4)
    feats = rng.normal(size=(6, 8))[labels] + 0.3 * rng.normal(size=(24, 8))
    _, ep = open_set(feats, labels, None, None, OpenSetConfig(draws=3, dc=DCConfig(samples=10, steps=10)), seed=0, name="p")
    cal = calibrate(ep, 0.1, ranking=choose_ranking([r]))
    text = markdown([r], "m.pt", "cmd", cal)
    assert "| 1 protocol(s) | 85.0 | 60.0 | centred cosine |" in text and cal["primary"] == "cosine"
    t = cal["params"]["threshold"]
    assert f"| p (calibrated) | cosine | {t:g} / {cal['params']['margin']:g} |" in text
    assert "| p (defaults) | cosine | 0.5 / 0.05 |" in text and "| **pooled** (calibrated) | cosine |" in text
