"""`crossglg-edge run` with a model that carries calibrated open-set values (``crossglg.open_set``):
the trained test encoder, its values written by train.open_set_meta (as `crossglg-train
calibrate-open-set` and tools/ship_starter.py do), a store enrolled with the UNcalibrated file (the
fingerprint is the weights', so the store stays valid), real ONNX Runtime, real sockets, subprocesses.
The calibrated threshold (0.999) rejects every window; --threshold overrides it. A base-statistics
sidecar (from the model's own embeddings of base-class UTD-MHAD clips) lets DC serve, so the
ranking is seen in the labels: with centred cosine ranking the best candidate's (unsmoothed) topk
score is its cosine, with DC a probability.
The calibration stores ranking "cosine": it wins over the built-in DC, and --dc wins over it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from runtime_helpers import collect, enroll_file, playlist, utd
from shared_helpers import free_port

from crossglg.basestats import basestats_path, write_base_stats
from crossglg.model_meta import read_onnx_metadata
from crossglg.oneshot import base_statistics
from edge import protocol
from edge.client import subscribe
from edge.runtime import open_model, open_support_store

pytestmark = pytest.mark.realdata
ASSET = Path(__file__).resolve().parents[1] / "assets" / "crossglg_realdata.onnx"
CAL = {"target_far": 0.1, "params": {"threshold": 0.999, "margin": 0.07, "dc_margin": 0.3},
       "source": "test calibration", "ranking": {"chosen": "cosine"}}  # fmt: skip


def _run(model: Path, store: Path, query: Path, *flags: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    pub = f"tcp://127.0.0.1:{free_port()}"
    cmd = [sys.executable, "-m", "edge.cli", "run", "--skeleton", str(query), "--model", str(model), "--headless",
           "--store", str(store), "--pub", pub, "--control", "off", "--wait-subscribers", "1", *flags]  # fmt: skip
    with subscribe(pub, topics=[protocol.TOPIC_PREFIX]) as sub:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ))
        msgs = collect(sub, quiet_s=0.5)
    assert proc.returncode == 0 and "source_end" in proc.stderr, proc.stderr
    return proc, [m.payload for m in msgs if m.kind == "label" and m.payload["topk"]]


def _with_base_stats(model: Path, data_dir: Path, tmp_path: Path) -> None:
    """A real sidecar for ``model``: statistics of its embeddings of base-class clips (a1, a2, a4, a5)."""
    with open_model(model, threads=1) as engine:
        scratch = open_support_store(tmp_path / "base-clips", engine)
        for a in (1, 2, 4, 5):
            for subject in (1, 2, 3):
                enroll_file(scratch, engine, utd(data_dir, a, subject), f"a{a}")
        sup = scratch.support()
        feats = np.concatenate(sup.embeddings)
        labels = np.concatenate([np.full(len(e), i) for i, e in enumerate(sup.embeddings)])
        center, fingerprint = engine.meta.embedding_center, engine.meta.fingerprint
    write_base_stats(basestats_path(model), base_statistics(feats, labels), center, fingerprint, list(sup.labels))


def _ranked_by_cosine(labels: list[dict]) -> bool:
    """Every label's best candidate scores its cosine (centred cosine ranking); False as soon as one
    differs (DC probabilities). ``topk`` and ``cosine`` are the window's own match, not smoothed."""
    scored = [p for p in labels if p["cosine"] is not None]
    assert scored, labels
    return all(abs(p["topk"][0]["score"] - p["cosine"]) < 1e-3 for p in scored)  # cosine: 4 decimals


def test_run_uses_the_models_calibrated_values_and_flags_win(tmp_path: Path, data_dir: Path) -> None:
    from train.open_set_meta import write_open_set

    model, plain = tmp_path / "calibrated.onnx", tmp_path / "plain.onnx"
    shutil.copyfile(ASSET, model)
    shutil.copyfile(ASSET, plain)
    stored = write_open_set(model, CAL)
    assert stored.params.threshold == 0.999 and stored.source == "test calibration" and stored.ranking == "cosine"
    _with_base_stats(model, data_dir, tmp_path)
    shutil.copyfile(basestats_path(model), basestats_path(plain))  # same weights, same fingerprint
    assert read_onnx_metadata(model)["fingerprint"] == read_onnx_metadata(ASSET)["fingerprint"]
    store = tmp_path / "store"
    with open_model(ASSET, threads=1) as engine:  # enrolled with the file before calibration
        s = open_support_store(store, engine)
        enroll_file(s, engine, utd(data_dir, 1, 1), "swipe left")
        enroll_file(s, engine, utd(data_dir, 23, 1), "walk")
    query = tmp_path / "walks.npz"
    playlist([utd(data_dir, 23, 2), utd(data_dir, 23, 3)], query)  # other subjects walking, as a stream

    proc, labels = _run(model, store, query)
    said = ("crossglg-edge run: open-set threshold 0.999, margin 0.07, DC margin 0.3 (calibrated for this model: "
            "false accepts <= 10% on never-enrolled actions, test calibration); ranking: centred cosine (DC did not "
            "beat it on this model's benchmark)")  # fmt: skip
    assert said in proc.stderr.splitlines(), proc.stderr
    assert labels and all(p["state"] != "action" for p in labels), [(p["state"], p["reason"]) for p in labels]
    assert {p["reason"] for p in labels} <= {"below_threshold", "confirming"}
    assert _ranked_by_cosine(labels)  # the model's ranking beats the built-in DC (statistics are there)

    proc, labels = _run(model, store, query, "--threshold", "-1", "--margin", "0", "--dc")
    line = next(ln for ln in proc.stderr.splitlines() if "open-set threshold" in ln)
    assert line.startswith("crossglg-edge run: open-set threshold -1, margin 0, DC margin 0.3 (--threshold, "
                           "--margin given; the rest calibrated for this model"), line  # fmt: skip
    assert line.endswith("; ranking: distribution calibration (--dc)"), line
    assert not _ranked_by_cosine(labels)  # the flag beats the model
    assert all(0 <= c["score"] <= 1 for p in labels for c in p["topk"])  # probabilities
    accepted = [p for p in labels if p["state"] == "action"]
    assert accepted and {p["label"] for p in accepted} <= {"swipe left", "walk"}

    proc, labels = _run(plain, store, query)  # the same weights without the key: the built-in defaults
    assert ("crossglg-edge run: open-set threshold 0.5, margin 0.05, DC margin 0.2 (built-in defaults; the model "
            "carries no calibrated values); ranking: distribution calibration when the model has base statistics "
            "(built-in)") in proc.stderr.splitlines(), proc.stderr
    assert not _ranked_by_cosine(labels)  # today's behaviour: DC whenever base statistics are present


def test_a_model_with_score_fusion_matches_on_pose_features_too(tmp_path: Path, data_dir: Path) -> None:
    """The fused ranking and its fusion record in the model: `run` says so, every window's cosine is the
    fused one (it differs from --no-fusion's on the same windows), and walks are still recognised."""
    from crossglg.pose_features import Fusion, encode_fusion
    from train.open_set_meta import write_open_set

    model = tmp_path / "fused.onnx"
    shutil.copyfile(ASSET, model)
    cal = {**CAL, "params": {"threshold": 0.2, "margin": 0.0, "dc_margin": 0.3}, "ranking": {"chosen": "fused"},
           "fusion": json.loads(encode_fusion(Fusion(0.5, source="test")))}  # fmt: skip
    assert write_open_set(model, cal).ranking == "fused"
    store = tmp_path / "store"
    with open_model(ASSET, threads=1) as engine:
        s = open_support_store(store, engine)
        enroll_file(s, engine, utd(data_dir, 1, 1), "swipe left")
        enroll_file(s, engine, utd(data_dir, 23, 1), "walk")
    query = tmp_path / "walks.npz"
    playlist([utd(data_dir, 23, 2), utd(data_dir, 23, 3)], query)
    proc, fused = _run(model, store, query)
    assert "; ranking: centred cosine fused with pose features (weight 0.5 learned, 0.5 pose; --no-fusion: the " \
           "model alone)" in proc.stderr, proc.stderr
    proc, alone = _run(model, store, query, "--no-fusion")
    assert "--no-fusion: the model's calibrated values are for its fused score" in proc.stderr, proc.stderr
    by_time = {p["t_frame"]: p["cosine"] for p in alone if p["cosine"] is not None}
    pairs = [(p["cosine"], by_time[p["t_frame"]]) for p in fused if p["cosine"] is not None and p["t_frame"] in by_time]
    assert len(pairs) >= 5 and all(abs(a - b) > 1e-3 for a, b in pairs[:5])
    walks = [p for p in fused if p["state"] == "action"]
    assert walks and sum(p["label"] == "walk" for p in walks) >= 0.8 * len(walks), [p["label"] for p in walks]
