"""The live view under Pilot against a real ZeroMQ publisher: labels, bars, events, stale, reconnection, keys."""

from __future__ import annotations

import asyncio

from ui_helpers import connect, label_fields, make_publisher, message, wait_until

from edge.publisher import Publisher
from edge.ui.app import CrossGLGApp
from edge.ui.bigtext import big_text
from edge.ui.screens import HelpScreen
from edge.ui.widgets import BigLabel, CurrentAction, EventLog, ScoreBars


def _text(widget) -> str:
    """What a widget shows, as plain text."""
    rendered = widget.render()
    return getattr(rendered, "plain", str(rendered))


def _label(pub: Publisher, label: str, score: float, other: float, track_id: int = 1) -> None:
    pub.publish_label(
        track_id=track_id, state="action", label=label, score=score, margin=score - other,
        topk=[(label, score), ("clap" if label != "clap" else "wave", other)], t_frame=1.0,
        latency_ms={"pose": 20.0, "model": 18.0, "total": 40.0},
    )


def test_current_action_bars_and_events(publisher: Publisher) -> None:
    async def main() -> None:
        app = CrossGLGApp(publisher.endpoint)
        async with app.run_test(size=(120, 40)) as pilot:
            await connect(pilot, publisher)
            _label(publisher, "wave hello", 0.83, 0.41)
            await wait_until(pilot, lambda: app.state.primary() is not None and app.state.primary().label == "wave hello",
                             what="the first label")
            big = app.query_one(BigLabel)
            # widgets repaint at most 10 times a second: wait for the paint, not just the state
            await wait_until(pilot, lambda: big.text == "wave hello", what="the big label")
            await wait_until(pilot, lambda: "0.41" in _text(app.query_one(ScoreBars)), what="the bars")
            lines, expected = _text(big).split("\n"), big_text("wave hello", big.size.width)
            assert expected is not None and len(lines) == 3 and all(e in s for e, s in zip(expected, lines, strict=True))
            bars = _text(app.query_one(ScoreBars))
            assert "wave hello" in bars and "0.83" in bars and "0.41" in bars
            # a new window moves the bars
            _label(publisher, "wave hello", 0.55, 0.77)
            await wait_until(pilot, lambda: "0.77" in _text(app.query_one(ScoreBars)), what="the bars to update")
            publisher.publish_event(track_id=1, event="start", state="action", label="clap", score=0.9, t_frame=2.0,
                                    previous=("none", None))
            await wait_until(pilot, lambda: "clap" in _text(app.query_one(EventLog)), what="the event in the history")
            assert "start" in _text(app.query_one(EventLog))
            assert app.state.backend == "onnxruntime" and app.state.model_id == "test-model"
            assert any("live" in b for b, _ in app.badges())
            assert app.state.latency_ms and app.state.latency_ms[-1] == 40.0

    asyncio.run(main())


def test_no_person_and_unknown_badges(publisher: Publisher) -> None:
    async def main() -> None:
        app = CrossGLGApp(publisher.endpoint)
        async with app.run_test(size=(120, 40)) as pilot:
            await connect(pilot, publisher)
            publisher.publish_label(track_id=None, state="no_person", reason="no_person", t_frame=0.5)
            await wait_until(pilot, lambda: any(b == "no person" for b, _ in app.badges()), what="no-person badge")
            publisher.publish_label(track_id=3, state="unknown", score=0.3, reason="below_threshold",
                                    topk=[("wave", 0.3)], t_frame=0.6)
            await wait_until(pilot, lambda: any(b == "unknown" for b, _ in app.badges()), what="unknown badge")
            assert not any(b == "no person" for b, _ in app.badges())
            # widgets repaint at most 10 times a second: the detail line may follow the badge
            await wait_until(pilot, lambda: "below threshold" in _text(app.query_one("#action-detail")),
                             what="below-threshold detail")

    asyncio.run(main())


def test_stale_then_reconnect_with_new_session() -> None:
    pub = make_publisher()
    port_endpoint = pub.endpoint

    async def main() -> None:
        nonlocal pub
        app = CrossGLGApp(port_endpoint, stale_after=0.6)
        async with app.run_test(size=(120, 40)) as pilot:
            await connect(pilot, pub)
            _label(pub, "wave", 0.9, 0.2)
            await wait_until(pilot, lambda: app.state.primary() is not None, what="a label")
            first = pub.session
            pub.close()  # the runtime dies
            await wait_until(pilot, lambda: app.stale, what="stale")
            assert app.badges()[0] == ("STALE", "bad")
            assert app.query_one(CurrentAction).has_class("-stale")
            # the runtime comes back on the same port: ZeroMQ reconnects the SUB socket
            pub = make_publisher(port_endpoint)
            assert pub.session != first
            await connect(pilot, pub, timeout=15.0)
            await wait_until(pilot, lambda: not app.stale, what="live again")
            assert app.state.restarts == 1
            assert app.state.primary() is None  # the old session's tracks are gone
            assert "runtime restarted" in _text(app.query_one(EventLog))
            _label(pub, "clap", 0.8, 0.1)
            await wait_until(pilot, lambda: app.state.primary() is not None and app.state.primary().label == "clap",
                             what="labels from the new session")

    try:
        asyncio.run(main())
    finally:
        pub.close()


def test_help_resize_and_quit(publisher: Publisher) -> None:
    async def main() -> None:
        app = CrossGLGApp(publisher.endpoint)
        async with app.run_test(size=(120, 40)) as pilot:
            await connect(pilot, publisher)
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help screen")
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed")
            _label(publisher, "wave", 0.7, 0.3)
            for size in ((60, 15), (30, 8), (200, 60), (120, 40)):
                await pilot.resize_terminal(*size)
                _label(publisher, "wave", 0.7, 0.3)
                await pilot.pause(0.1)
                assert app.size == size
            # read-only view: enrollment is refused with a notification, no dialog
            await pilot.press("e")
            await pilot.pause()
            assert len(app.screen_stack) == 1
            await pilot.press("q")
            await pilot.pause()
        assert app.return_code == 0
        assert app.feed is not None and not app.feed._thread.is_alive()

    asyncio.run(main())


def test_many_actions_keep_the_best_bars_in_view() -> None:
    async def main() -> None:
        app = CrossGLGApp("tcp://127.0.0.1:5556", start_feed=False, clock=lambda: 5.0)
        async with app.run_test(size=(100, 30)) as pilot:
            labels = [f"action {i:02d}" for i in range(40)]
            app.state.set_enrolled(labels)
            app.ingest([message("label", 0, **label_fields(1, "action", "action 33", 0.9,
                                                           [("action 33", 0.9), ("action 05", 0.7)], 40.0))])
            await pilot.pause(0.2)
            bars = app.query_one(ScoreBars)
            lines = _text(bars).split("\n")
            assert len(lines) == bars.size.height  # fits its box
            assert "more (lower scores)" in lines[-1]
            shown = [line.split()[1] for line in lines[:-1]]
            assert "33" in shown and "05" in shown and shown == sorted(shown)  # best kept, usual order

    asyncio.run(main())
