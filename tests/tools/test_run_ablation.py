"""tools/run_ablation.py: several invocations may share one output folder (run locks, merged state)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from shared_helpers import load_tool


def _tool():
    return load_tool("run_ablation")


def test_run_lock_excludes_live_owner_and_takes_over_dead_one(tmp_path: Path) -> None:
    tool = _tool()
    run = tmp_path / "baseline_s0"
    assert tool.claim_run(run)
    assert tool.claim_run(run)  # our own lock: still ours
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (run / ".lock").write_text(str(child.pid))
        assert not tool.claim_run(run)  # a live other owner
    finally:
        child.kill()
        child.wait()
    assert tool.claim_run(run)  # its owner died: taken over
    tool.release_run(run)
    assert not (run / ".lock").exists()


def test_merge_state_keeps_the_other_invocations_runs(tmp_path: Path) -> None:
    tool = _tool()
    path = tmp_path / "ablation_state.json"
    path.write_text(json.dumps({"runs": {"g2l_s2": {"status": "done", "train_seconds": 5.0}},
                                "wall_seconds": 100.0, "invocations": []}))
    mine = {"runs": {"baseline_s1": {"status": "training"}, "g2l_s2": {"status": "stale copy"}}, "commit": "abc"}
    merged = tool.merge_state(path, mine, {"baseline_s1"}, 7.5)
    assert merged["runs"]["g2l_s2"] == {"status": "done", "train_seconds": 5.0}  # not overwritten
    assert merged["runs"]["baseline_s1"] is mine["runs"]["baseline_s1"]
    assert merged["wall_seconds"] == 107.5 and merged["commit"] == "abc"
