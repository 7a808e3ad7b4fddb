"""`crossglg-edge run` with a model that carries calibrated open-set values (``crossglg.open_set``):
the trained test encoder, its values written by train.open_set_meta (as `crossglg-train
calibrate-open-set` and tools/ship_starter.py do), a store enrolled with the UNcalibrated file (the
fingerprint is the weights', so the store stays valid), real ONNX Runtime, real sockets, subprocesses.
The calibrated threshold (0.999) rejects every window; --threshold overrides it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from runtime_helpers import collect, enroll_file, playlist, utd
from shared_helpers import free_port

from crossglg.model_meta import read_onnx_metadata
from edge import protocol
from edge.client import subscribe
from edge.runtime import open_model, open_support_store

pytestmark = pytest.mark.realdata
ASSET = Path(__file__).resolve().parents[1] / "assets" / "crossglg_realdata.onnx"
CAL = {"target_far": 0.1, "params": {"threshold": 0.999, "margin": 0.07, "dc_margin": 0.3},
       "source": "test calibration"}  # fmt: skip


def _run(model: Path, store: Path, query: Path, *flags: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    pub = f"tcp://127.0.0.1:{free_port()}"
    cmd = [sys.executable, "-m", "edge.cli", "run", "--skeleton", str(query), "--model", str(model), "--headless",
           "--store", str(store), "--pub", pub, "--control", "off", "--wait-subscribers", "1", *flags]  # fmt: skip
    with subscribe(pub, topics=[protocol.TOPIC_PREFIX]) as sub:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ))
        msgs = collect(sub, quiet_s=0.5)
    assert proc.returncode == 0 and "source_end" in proc.stderr, proc.stderr
    return proc, [m.payload for m in msgs if m.kind == "label" and m.payload["topk"]]


def test_run_uses_the_models_calibrated_values_and_flags_win(tmp_path: Path, data_dir: Path) -> None:
    from train.open_set_meta import write_open_set

    model = tmp_path / "calibrated.onnx"
    shutil.copyfile(ASSET, model)
    stored = write_open_set(model, CAL)
    assert stored.params.threshold == 0.999 and stored.source == "test calibration"
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
            "false accepts <= 10% on never-enrolled actions, test calibration)")  # fmt: skip
    assert said in proc.stderr.splitlines(), proc.stderr
    assert labels and all(p["state"] != "action" for p in labels), [(p["state"], p["reason"]) for p in labels]
    assert {p["reason"] for p in labels} <= {"below_threshold", "confirming"}

    proc, labels = _run(model, store, query, "--threshold", "-1", "--margin", "0")
    line = next(ln for ln in proc.stderr.splitlines() if "open-set threshold" in ln)
    assert line.startswith("crossglg-edge run: open-set threshold -1, margin 0, DC margin 0.3 (--threshold, "
                           "--margin given; the rest calibrated for this model"), line  # fmt: skip
    accepted = [p for p in labels if p["state"] == "action"]
    assert accepted and {p["label"] for p in accepted} <= {"swipe left", "walk"}

    proc, _ = _run(ASSET, store, query)  # the same weights without the key: the built-in defaults
    assert ("crossglg-edge run: open-set threshold 0.5, margin 0.05, DC margin 0.2 (built-in defaults; the model "
            "carries no calibrated values)") in proc.stderr.splitlines(), proc.stderr
