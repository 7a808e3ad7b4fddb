"""The UI against the real runtime: a Pipeline (tiny ONNX model) replaying a real UTD-MHAD recording in
real time as a live stream, with its real ControlServer. Enroll from the keyboard; the new action must
come back as a bar, and the live skeleton must be drawn."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from runtime_helpers import enroll_file, playlist, utd
from ui_helpers import connect

from edge.control import ControlConfig, ControlServer
from edge.pipeline import Pipeline, PipelineConfig
from edge.publisher import Publisher, PublisherConfig
from edge.runtime import open_model, open_support_store
from edge.sources import Source
from edge.ui.app import CrossGLGApp
from edge.ui.screens import EnrollScreen
from edge.ui.widgets import ScoreBars, SkeletonView

ANY = "tcp://127.0.0.1:*"
pytestmark = pytest.mark.realdata


def test_enroll_from_the_ui_on_a_live_replay(tmp_path: Path, data_dir: Path, tiny_onnx: Path) -> None:
    replay = tmp_path / "live.npz"
    playlist([utd(data_dir, 27, 2)], replay)  # somebody squats, as a live stream
    with open_model(tiny_onnx, threads=1) as engine:
        store = open_support_store(tmp_path / "store", engine)
        enroll_file(store, engine, utd(data_dir, 23, 1), "walk")
        with Publisher(PublisherConfig(endpoint=ANY, source="live")) as pub:
            pipe = Pipeline(Source.from_skeleton_file(replay), engine, store, pub,
                            PipelineConfig(realtime=True, max_seconds=30))
            with ControlServer(pipe, ControlConfig(endpoint=ANY)) as server:
                server.start()
                asyncio.run(_drive(pub, pipe, server.endpoint))
                pipe.stop()
                pipe.wait(timeout=10)
        assert [a.label for a in store.actions] == ["walk", "squat"]


async def _drive(pub: Publisher, pipe: Pipeline, control: str) -> None:
    app = CrossGLGApp(pub.endpoint, control, countdown_s=0.5, max_seconds=3.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await connect(pilot, pub)
        phases: set[str] = set()
        drew_pose = False
        deadline = time.monotonic() + 5
        while app.state.enrolled != ["walk"]:
            assert time.monotonic() < deadline, "the enrolled list never arrived"
            await pilot.pause(0.05)
        await pilot.press("e")
        await pilot.pause(0.2)
        assert isinstance(app.screen, EnrollScreen)
        screen = app.screen
        await pilot.press(*"squat", "enter")
        deadline = time.monotonic() + 5
        while screen.phase != "waiting":  # the job is accepted before any frame flows
            assert time.monotonic() < deadline and screen.phase != "failed", screen.phase
            await pilot.pause(0.05)
        # enrollment runs on the source's clock: start the replay now, so the countdown ends
        # while the person still stands and the squat is recorded
        pipe.start()
        deadline = time.monotonic() + 25
        while "squat" not in app.state.enrolled or isinstance(app.screen, EnrollScreen):
            assert time.monotonic() < deadline, f"enrollment did not finish; phases seen {phases}, {screen.phase}"
            assert screen.phase != "failed", str(screen.query_one("#enroll-status").render())
            phases.add(screen.phase)
            drew_pose |= _has_braille(str(app.query_one(SkeletonView).render()))
            await pilot.pause(0.05)
        assert {"countdown", "recording"} <= phases
        assert drew_pose  # braille characters from the live pose topic
        await pilot.pause(0.3)
        bars = str(app.query_one(ScoreBars).render())
        assert "walk" in bars and "squat" in bars


def _has_braille(text: str) -> bool:
    return any("\u2801" <= ch <= "\u28ff" for ch in text)
