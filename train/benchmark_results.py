"""The benchmark's results file (``benchmark.json``), torch-free so the edge-side steps
(``crossglg-train calibrate-open-set``, ``tools/ship_starter.py --open-set-from``) read it cheaply.

Format ``crossglg-benchmark/2``: ``{"format", "model", "command", "protocols": [per-protocol results
of train.benchmark.evaluate_protocol], "open_set_calibration": train.open_set_eval.calibrate's record
plus "source", or null}``. The first version was the bare list of protocol results (still read).
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS_FORMAT = "crossglg-benchmark/2"


def results_document(results: list[dict], calibration: dict | None, model: str | None, command: str) -> dict:
    """What ``benchmark.json`` holds: the per-protocol results and the open-set calibration."""
    return {"format": RESULTS_FORMAT, "model": model, "command": command, "protocols": results,
            "open_set_calibration": calibration}  # fmt: skip


def load_results(path: str | Path) -> tuple[list[dict], dict | None]:
    """``(protocol results, open-set calibration or None)`` from a ``benchmark.json`` (this format or
    the earlier plain list); ``ValueError`` naming the file when it is neither."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ValueError(f"{p}: not a readable benchmark results file ({exc})") from None
    if isinstance(doc, list):
        return doc, None
    if not isinstance(doc, dict) or doc.get("format") != RESULTS_FORMAT or not isinstance(doc.get("protocols"), list):
        raise ValueError(f"{p}: not a benchmark results file (expected format {RESULTS_FORMAT!r})")
    cal = doc.get("open_set_calibration")
    if cal is not None and not (isinstance(cal, dict) and isinstance(cal.get("params"), dict)):
        raise ValueError(f"{p}: open_set_calibration must be an object with params")
    return doc["protocols"], cal
