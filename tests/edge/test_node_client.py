"""The Node.js subscriber in clients/node against a real `crossglg-edge run` replaying UTD-MHAD
recordings: it receives every label, validates each message against the same JSON Schema files
(edge/schemas), and a schema it disagrees with makes it say so and exit 3.

Needs node and npm; ``npm ci`` fills clients/node/node_modules on first use (a fresh clone) and is
skipped while node_modules matches package-lock.json. Without node/npm the test skips, and fails
under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runtime_helpers import enroll_file, playlist, utd
from shared_helpers import free_port

from edge.runtime import open_model, open_support_store
from edge.schemas import schema_dir

pytestmark = pytest.mark.realdata
CLIENT = Path(__file__).resolve().parents[2] / "clients" / "node"


def _node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        msg = "node and npm are needed for the Node.js client test (clients/node)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg + " (CI=true: must not skip)")
        pytest.skip(msg)
    installed = CLIENT / "node_modules" / ".package-lock.json"  # npm's record of what it installed
    lock = CLIENT / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        # --ignore-scripts: zeromq ships a prebuilt addon; its install script would only rebuild it
        proc = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=CLIENT,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert proc.returncode == 0, f"npm ci in {CLIENT} failed:\n{proc.stderr[-2000:]}"
    return node


def _summary(stderr: str) -> dict:
    found = re.findall(r"^crossglg-node summary: (\{.*\})$", stderr, re.M)
    assert len(found) == 1, stderr
    return json.loads(found[0])


def test_node_client_receives_and_validates_a_real_run(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    node = _node()
    with open_model(tiny_onnx, threads=1) as engine:
        store = open_support_store(tmp_path / "store", engine)
        enroll_file(store, engine, utd(data_dir, 23, 1), "walk")
        enroll_file(store, engine, utd(data_dir, 27, 1), "squat")
    replay = tmp_path / "replay.npz"
    playlist([utd(data_dir, 23, 2), utd(data_dir, 27, 2)], replay)
    # a copy of the schemas that disagrees with the runtime: labels must carry a string motion
    strict = tmp_path / "schemas"
    shutil.copytree(schema_dir(), strict, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    label = json.loads((strict / "label.json").read_text())
    label["properties"]["motion"] = {"type": "string"}
    (strict / "label.json").write_text(json.dumps(label))

    endpoint = f"tcp://127.0.0.1:{free_port()}"
    run = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "run", "--skeleton", str(replay), "--model", str(tiny_onnx), "--headless",
         "--store", str(tmp_path / "store"), "--pub", endpoint, "--control", "off", "--name", "utd",
         "--threshold", "0", "--margin", "0", "--wait-subscribers", "2", "--wait-timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    clients: list[subprocess.Popen] = []
    try:
        deadline = time.monotonic() + 90
        while "waiting for 2 subscriber(s)" not in (line := run.stderr.readline()):  # bound and ready
            assert line and time.monotonic() < deadline, f"runtime did not start: {line!r}"
        for schemas in (schema_dir(), strict):
            clients.append(subprocess.Popen([node, str(CLIENT / "index.mjs"), endpoint, "--schemas", str(schemas),
                                             "--timeout", "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True))  # fmt: skip
        _, run_err = run.communicate(timeout=120)
        (out, err), (_, strict_err) = (c.communicate(timeout=30) for c in clients)
    finally:
        for p in (run, *clients):
            if p.poll() is None:
                p.kill()
    assert run.returncode == 0 and "source_end" in run_err, run_err
    labels = int(re.search(r"(\d+) labels", run_err).group(1))
    assert labels > 0

    # the real schemas: every label arrived (lossless replay, both subscribers waited for), all valid
    assert clients[0].returncode == 1 and "no message for 3 s" in err, err  # ends on silence after the run
    got = _summary(err)
    assert got["label"] == labels and got["invalid"] == 0 and got["missed"] == 0, (got, labels)
    assert got["hb"] >= 1 and got["messages"] == sum(got[k] for k in ("label", "event", "hb", "pose"))
    lines = out.splitlines()
    assert sum(line.startswith("label utd ") for line in lines) == labels
    assert any(re.match(r'label utd t=\d+\.\d\d track \d+ action "(walk|squat)" score -?\d\.\d{3}', x) for x in lines), lines[:20]
    assert "schema violation" not in err

    # the disagreeing schema: each label is reported as a violation, everything else passes, exit 3
    bad = _summary(strict_err)
    assert clients[1].returncode == 3, strict_err[-2000:]
    assert bad["invalid"] == labels and bad["label"] == 0 and bad["hb"] == got["hb"], bad
    assert strict_err.count("schema violation: crossglg.v1.label.utd") == labels
    assert "/motion must be string" in strict_err
