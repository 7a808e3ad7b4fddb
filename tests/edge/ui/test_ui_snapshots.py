"""Snapshot tests (pytest-textual-snapshot) of the main screen, the key help and the enrollment prompt.

The app runs without sockets (``start_feed=False``) on frozen clocks, and a fixed set of messages
goes in through ``app.ingest``, so every run draws exactly the same screen. Regenerate after an
intended visual change with ``pytest tests/edge/ui/test_ui_snapshots.py --snapshot-update`` and look
at the SVGs before committing them.
"""

from __future__ import annotations

import time

import pytest
from ui_helpers import WAVE_POSE, label_fields, message, standing_pose

from edge.ui.app import CrossGLGApp

SIZE = (120, 40)
ACTIONS = ["wave hello", "clap", "sit down", "drink water", "kick"]


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch):
    """Event times are drawn in local time: pin the zone so the snapshots do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _frozen_app(control: str | None = None) -> CrossGLGApp:
    return CrossGLGApp("tcp://127.0.0.1:5556", control, start_feed=False, clock=lambda: 100.0,
                       wall_clock=lambda: 1_763_780_030.0)


def _live_messages() -> list:
    msgs = []
    for i in range(40):  # a latency and fps history for the sparklines
        msgs.append(message("label", i, t_pub=1_763_780_000.0 + i * 0.25, **label_fields(
            2, "unknown", None, 0.31, [("clap", 0.31)], 40.0 + 12.0 * ((i * 7) % 5) / 4, reason="below_threshold")))
        if i % 4 == 0:
            msgs.append(message("hb", i // 4, interval_s=1.0, uptime_s=float(i), stats={"sent": i, "dropped": 0},
                                tracks=[], status={"fps": 27.0 + (i % 8) / 2}))
    msgs.append(message("label", 40, **label_fields(
        1, "action", "wave hello", 0.83, [("wave hello", 0.83), ("clap", 0.41), ("sit down", 0.22), ("kick", 0.12)], 45.0)))
    events = [("start", "action", "clap", ("none", None)), ("end", "none", None, ("action", "clap")),
              ("start", "action", "wave hello", ("none", None)), ("change", "unknown", None, ("none", None))]
    for k, (ev, state, label, prev) in enumerate(events):
        msgs.append(message("event", k, t_pub=1_763_780_000.0 + 3 * k, track_id=1 if k < 3 else 2, event=ev,
                            state=state, label=label, score=0.8 if label else 0.31, t_frame=float(k), previous={
                                "state": prev[0], "label": prev[1]}))
    msgs.append(message("pose", 0, t_frame=1.0, space="image", image_size=[640, 480], tracks=[
        {"track_id": 1, "xy": [list(p) for p in WAVE_POSE], "visibility": [1.0] * 25},
        {"track_id": 2, "xy": [list(p) for p in standing_pose()], "visibility": [1.0] * 25},
    ]))
    return msgs


async def _feed(pilot) -> None:
    app = pilot.app
    app.state.set_enrolled(ACTIONS)
    app.ingest(_live_messages())
    await pilot.pause()


def test_main_screen_snapshot(snap_compare) -> None:
    assert snap_compare(_frozen_app(), terminal_size=SIZE, run_before=_feed)


def test_help_screen_snapshot(snap_compare) -> None:
    assert snap_compare(_frozen_app(), terminal_size=SIZE, run_before=_feed, press=["question_mark"])


def test_enrollment_prompt_snapshot(snap_compare) -> None:
    async def open_prompt(pilot) -> None:
        await _feed(pilot)
        await pilot.press("e", *"drink water")
        await pilot.pause()

    assert snap_compare(_frozen_app(control="tcp://127.0.0.1:5557"), terminal_size=SIZE, run_before=open_prompt)
