"""`crossglg-train descriptions check --json`: per-dataset counts and problems, exit code."""

from __future__ import annotations

import json
from pathlib import Path

from crossglg.text.descriptions import JOINT_NAMES, SCHEMA, load_shipped, save_descriptions, shipped_path
from train.cli import main


def _run(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["descriptions", "check", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_shipped_files(capsys):
    code, report = _run(capsys)
    by_name = {r["dataset"]: r for r in report["datasets"]}
    expected = {"utd_mhad": 27, "nw_ucla": 10, "gtu3d": 14, "irds": 9}
    if shipped_path("ntu120").exists():
        expected["ntu120"] = 120
    assert set(expected) <= set(by_name)
    for name, count in expected.items():
        assert by_name[name]["classes"] == count and by_name[name]["expected_classes"] == count
        assert by_name[name]["problems"] == [], (name, by_name[name]["problems"][:5])
    assert report["ok"] is True and code == 0


def test_broken_files_give_problems_and_non_zero_exit(tmp_path: Path, capsys):
    # a quality problem: a copy of the UTD file with 26 classes and templated filler
    utd = load_shipped("utd_mhad").to_dict()
    utd["classes"] = utd["classes"][:26]
    for c in utd["classes"][:5]:
        c["joints"]["FootLeft"] = "Not involved."
    quality = tmp_path / "utd_mhad.json"
    quality.write_text(json.dumps(utd))
    # a schema problem: a joint name typo
    bad = {"schema": SCHEMA, "dataset": "mine", "classes": [
        {"id": "x1", "name": "clap", "global": "Both hands clap.",
         "joints": {("Nek" if j == "Neck" else j): "moves" for j in JOINT_NAMES}}]}
    schema = tmp_path / "mine.json"
    schema.write_text(json.dumps(bad))
    good = tmp_path / "nw.json"
    save_descriptions(load_shipped("nw_ucla"), good)

    code, report = _run(capsys, str(quality), str(schema), str(good))
    assert code == 1 and report["ok"] is False
    q, s, g = report["datasets"]
    assert q["classes"] == 26 and q["expected_classes"] == 27
    messages = [p["message"] for p in q["problems"]]
    assert any("26 classes, expected 27" in m for m in messages)
    assert any("identical joint text in 5 classes" in m for m in messages)
    assert s["classes"] is None and "'x1'" in s["problems"][0]["message"]
    assert "joints.Nek" in s["problems"][0]["message"]
    assert g["problems"] == [] and g["classes"] == 10

    # the human-readable form says the same, and a good file alone exits 0
    assert main(["descriptions", "check", str(quality)]) == 1
    assert "identical joint text" in capsys.readouterr().out
    assert main(["descriptions", "check", str(good)]) == 0


def test_console_script_runs_check():
    import subprocess
    import sys

    script = Path(sys.executable).parent / "crossglg-train"
    assert script.exists(), "crossglg-train console script not installed (pip install -e .)"
    proc = subprocess.run([str(script), "descriptions", "check", "--json"], capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout)
    assert proc.returncode == (0 if report["ok"] else 1)
    assert {"utd_mhad", "nw_ucla", "gtu3d", "irds"} <= {r["dataset"] for r in report["datasets"]}
