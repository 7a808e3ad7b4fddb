"""`crossglg-calib` commands: quantize and report on real data, JSON keys, error paths."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from calib.cli import main

pytestmark = pytest.mark.realdata


def test_report_json(tiny_fp32, tiny_int8, data_dir, capsys) -> None:
    rc = main(["report", str(tiny_fp32), str(tiny_int8.path), "--data-root", str(data_dir), "--json",
               "--draws", "3", "--rounds", "5", "--no-progress"])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "delta_points", "agreement", "latency_ms_batch1", "speedup_int8", "queries"):
        assert key in rep
    for k in ("fp32", "int8"):
        acc = rep["accuracy"]["cosine_1nn"][k]
        assert 0.0 <= acc["fixed"] <= 1.0 and acc["random"]["n"] == 3
        assert rep["latency_ms_batch1"][k]["median"] > 0
    assert rep["novel_classes"] == 9 and rep["queries"] > 200
    assert rep["agreement"]["cosine_mean"] > 0.98


def test_quantize_cli_writes_model_and_table(tiny_fp32, data_dir, tmp_path, capsys) -> None:
    out = tmp_path / "m.int8.onnx"
    rc = main(["quantize", str(tiny_fp32), "--data-root", str(data_dir), "--windows", "8", "--out", str(out),
               "--trt-table", str(tmp_path / "t"), "--json", "--no-progress", "--no-preprocess"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)  # stdout is pure JSON (ORT's calibrator prints elsewhere)
    assert out.is_file() and summary["windows"] == 8 and summary["qdq_nodes"] > 0
    assert len(summary["trt_table"]) == 3


def test_missing_model_is_a_clear_error(data_dir, tmp_path, capsys) -> None:
    rc = main(["quantize", str(tmp_path / "nope.onnx"), "--data-root", str(data_dir), "--out", str(tmp_path / "o.onnx")])
    assert rc != 0
    assert "nope.onnx" in capsys.readouterr().err


def test_missing_data_root_and_bad_method(tiny_fp32, tmp_path, capsys) -> None:
    rc = main(["quantize", str(tiny_fp32), "--data-root", str(tmp_path / "nodata"), "--out", str(tmp_path / "o.onnx")])
    assert rc != 0 and "nodata" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["quantize", str(tiny_fp32), "--data-root", ".", "--out", "o.onnx", "--method", "kl"])
    assert exc.value.code != 0


def test_console_script_missing_file(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "calib.cli", "report", str(tmp_path / "a.onnx"),
                           str(tmp_path / "b.onnx"), "--data-root", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "a.onnx" in proc.stderr and "Traceback" not in proc.stderr
