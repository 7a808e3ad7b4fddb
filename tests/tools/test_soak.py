"""tools/bench/soak.py, short: 30 s of the looped one- and two-person replay through the real
runtime with a subscriber process; every label arrives, memory stays flat, the report is complete."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.realdata
SOAK = Path(__file__).resolve().parents[2] / "tools" / "bench" / "soak.py"


def test_short_soak_loses_no_label_and_keeps_memory_flat(data_dir: Path) -> None:
    proc = subprocess.run([sys.executable, str(SOAK), "--minutes", "0.5", "--sample-s", "2", "--warmup-s", "10",
                           "--data", str(data_dir), "--json"], capture_output=True, text=True, timeout=180)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    r = json.loads(proc.stdout)
    assert r["end"] == "max_seconds" and r["error"] is None
    assert r["frames"] >= 0.5 * 60 * 25 and r["frames_with_two_people"] > 0  # camera-paced, both kinds replayed
    assert r["labels_published"] > 50 and r["embedded"] > 5
    assert r["labels_received"] == r["labels_published"] and r["label_seq_gaps"] == 0
    assert r["queue_dropped"] == 0 and r["publisher_dropped"] == 0 and r["subscriber"]["invalid"] == 0
    assert len(r["rss_mb"]) >= 10 and r["rss_growth_after_warmup"] < 0.05
    assert r["latency_per_minute"][0]["model_labels"] > 0 and r["latency_model_p95_ms"] is not None
    assert r["checks"]["no_label_lost"] and r["checks"]["rss_growth_under_5pct"]
