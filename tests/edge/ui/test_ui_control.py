"""Enrollment, remove and rename from the UI, through a real ControlServer (REQ/REP) and a real publisher.

A small fake runtime (ui_helpers.FakeRuntime) stands behind :class:`edge.control.ControlServer`; the
test publishes each enrollment phase on the real stream and checks the screen between phases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from textual.widgets import Digits, Input, Static
from ui_helpers import FakeRuntime, connect, wait_until

from edge.control import ControlConfig, ControlServer
from edge.keys import generate_keypair
from edge.publisher import Publisher, PublisherConfig
from edge.ui.app import CrossGLGApp
from edge.ui.screens import EnrollScreen, RemoveScreen, RenameScreen
from edge.ui.widgets import EventLog, ScoreBars


@pytest.fixture
def runtime(publisher: Publisher) -> Iterator[tuple[FakeRuntime, ControlServer]]:
    fake = FakeRuntime(publisher, ["wave", "clap"])
    server = ControlServer(fake, ControlConfig(endpoint="tcp://127.0.0.1:*"))
    server.start()
    yield fake, server
    server.close()


def _plain(widget) -> str:
    rendered = widget.render()
    return getattr(rendered, "plain", str(rendered))


def _status(screen) -> str:
    return str(screen.query_one(".pick-status, #enroll-status", Static).render())


def _topk(pub: Publisher, scores: dict[str, float]) -> None:
    best = max(scores, key=scores.get)
    pub.publish_label(track_id=1, state="action", label=best, score=scores[best], margin=0.2,
                      topk=sorted(scores.items(), key=lambda kv: -kv[1]), t_frame=1.0, latency_ms={"total": 30.0})


def test_enroll_flow_new_action_appears_in_bars(publisher: Publisher, runtime) -> None:
    fake, server = runtime

    async def main() -> None:
        app = CrossGLGApp(publisher.endpoint, server.endpoint, countdown_s=2.0, max_seconds=3.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await connect(pilot, publisher)
            await wait_until(pilot, lambda: app.state.enrolled == ["wave", "clap"], what="the enrolled list")
            assert app.control_ok
            _topk(publisher, {"wave": 0.8, "clap": 0.3})
            await wait_until(pilot, lambda: "0.80" in _plain(app.query_one(ScoreBars)), what="bars")
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, EnrollScreen), what="the enrollment prompt")
            screen = app.screen
            await pilot.press(*"drink water", "enter")
            await wait_until(pilot, lambda: fake.jobs != [], what="the enroll request")
            assert fake.requests[-1] == ("enroll", {"label": "drink water", "countdown_s": 2.0, "max_seconds": 3.0})
            await wait_until(pilot, lambda: screen.phase == "waiting", what="the job id")
            assert screen.job == fake.jobs[-1][0]

            fake.progress("countdown", seconds_left=2.0)
            await wait_until(pilot, lambda: screen.phase == "countdown", what="countdown")
            assert screen.query_one("#enroll-count", Digits).value == "2"
            assert ("\u25cf enrolling drink water: countdown", "warn") in app.badges()
            fake.progress("countdown", seconds_left=1.0)
            await wait_until(pilot, lambda: screen.query_one("#enroll-count", Digits).value == "1", what="tick")
            fake.progress("recording", seconds_left=3.0)
            await wait_until(pilot, lambda: screen.phase == "recording", what="recording")
            assert "REC" in _status(screen) and screen.query_one("#enroll-label", Input).disabled
            fake.progress("processing")
            await wait_until(pilot, lambda: screen.phase == "processing", what="processing")
            fake.progress("done")
            await wait_until(pilot, lambda: not isinstance(app.screen, EnrollScreen), what="the prompt to close")
            # the new action shows up without a restart (list re-read from the runtime)
            await wait_until(pilot, lambda: "drink water" in _plain(app.query_one(ScoreBars)), what="the new bar")
            assert app.state.enrolled == ["wave", "clap", "drink water"]
            log = _plain(app.query_one(EventLog))
            assert "drink water \u2192 countdown" in log and "drink water \u2192 done" in log
            assert log.count("\u2192 countdown") == 1  # ticks do not flood the history

    asyncio.run(main())


def test_enroll_errors_are_shown(publisher: Publisher, runtime) -> None:
    fake, server = runtime

    async def main() -> None:
        app = CrossGLGApp(publisher.endpoint, server.endpoint)
        async with app.run_test(size=(120, 40)) as pilot:
            await connect(pilot, publisher)
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, EnrollScreen), what="the prompt")
            screen = app.screen
            await pilot.press("enter")  # empty label: refused locally, nothing sent
            await pilot.pause()
            assert "label is needed" in _status(screen) and fake.requests == []
            fake.busy = True
            await pilot.press(*"wave", "enter")  # the runtime refuses while another enrollment runs
            await wait_until(pilot, lambda: screen.phase == "failed", what="the refusal")
            assert "already running" in _status(screen) and fake.jobs == []
            fake.busy = False
            await pilot.press(*["backspace"] * 4, *"squat", "enter")  # retry; "q" types, it does not quit
            await wait_until(pilot, lambda: len(fake.jobs) == 1 and screen.phase == "waiting", what="the retry")
            fake.progress("failed", message="nobody was recorded")
            await wait_until(pilot, lambda: screen.phase == "failed", what="the failure event")
            assert "nobody was recorded" in _status(screen)
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, EnrollScreen), what="close")
            assert app.state.enrolled == ["wave", "clap"]

    asyncio.run(main())


def test_remove_and_rename(publisher: Publisher, runtime) -> None:
    fake, server = runtime

    async def main() -> None:
        app = CrossGLGApp(publisher.endpoint, server.endpoint)
        async with app.run_test(size=(120, 40)) as pilot:
            await connect(pilot, publisher)
            await wait_until(pilot, lambda: app.state.enrolled == ["wave", "clap"], what="the enrolled list")
            _topk(publisher, {"clap": 0.7, "wave": 0.2})  # the current action is preselected in the dialogs
            await wait_until(pilot, lambda: app.state.primary() is not None, what="a label")
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen), what="rename dialog")
            await pilot.press("enter")
            box = app.screen.query_one(".rename-input", Input)
            assert box.value == "clap" and not box.disabled
            await pilot.press("ctrl+u", *"applause", "enter")
            await wait_until(pilot, lambda: not isinstance(app.screen, RenameScreen), what="rename done")
            assert fake.requests[-1] == ("rename", {"label": "clap", "new_label": "applause", "by": "label"})
            await wait_until(pilot, lambda: app.state.enrolled == ["wave", "applause"], what="the renamed bar")

            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, RemoveScreen), what="remove dialog")
            await pilot.press("home", "enter")  # the first entry, "wave"
            assert "press y" in _status(app.screen) and fake.requests[-1][0] == "rename"  # nothing sent yet
            await pilot.press("y")
            await wait_until(pilot, lambda: not isinstance(app.screen, RemoveScreen), what="remove done")
            assert fake.requests[-1] == ("remove", {"label": "wave", "by": "label"})
            await wait_until(pilot, lambda: app.state.enrolled == ["applause"], what="the list without wave")
            assert "wave" not in _plain(app.query_one(ScoreBars))
            assert "removed wave" in _plain(app.query_one(EventLog))

    asyncio.run(main())


def test_unreachable_control_is_a_badge_not_a_hang(publisher: Publisher) -> None:
    async def main() -> None:
        # nothing listens on this control endpoint: requests time out in a worker, the UI stays live
        app = CrossGLGApp(publisher.endpoint, "tcp://127.0.0.1:1", control_timeout=0.3)
        async with app.run_test(size=(120, 40)) as pilot:
            await connect(pilot, publisher)
            await wait_until(pilot, lambda: app.control_ok is False, what="the control failure")
            assert ("control \u2717", "bad") in app.badges()
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, EnrollScreen), what="the prompt")
            await pilot.press(*"wave", "enter")
            await wait_until(pilot, lambda: app.screen.phase == "failed", what="the timeout")
            assert "no reply" in _status(app.screen)

    asyncio.run(main())


def test_enrollment_elsewhere_shows_up_from_the_heartbeat_count(publisher: Publisher, runtime) -> None:
    fake, server = runtime

    async def main() -> None:
        app = CrossGLGApp(publisher.endpoint, server.endpoint)
        async with app.run_test(size=(120, 40)) as pilot:
            await connect(pilot, publisher)
            await wait_until(pilot, lambda: app.state.enrolled == ["wave", "clap"], what="the enrolled list")
            fake.labels.append("kick")  # e.g. `crossglg-edge enroll` from another terminal
            publisher.set_status(actions=3)  # the runtime's heartbeat counts its actions
            publisher.heartbeat()
            # well before the 5 s list poll
            await wait_until(pilot, lambda: "kick" in _plain(app.query_one(ScoreBars)), timeout=3.0,
                             what="the list re-read after the count changed")

    asyncio.run(main())


def test_curve_stream_and_control_with_the_runtime_key(tmp_path) -> None:
    """With CURVE the UI needs the runtime's public key for both sockets; without it, it hears nothing."""
    public, secret = generate_keypair(tmp_path, "server")
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="cam0", curve_secret_key=str(secret))) as pub:
        fake = FakeRuntime(pub, ["wave"])
        with ControlServer(fake, ControlConfig(endpoint="tcp://127.0.0.1:*", curve_secret_key=str(secret))) as server:
            server.start()

            async def main(key: str | None) -> CrossGLGApp:
                app = CrossGLGApp(pub.endpoint, server.endpoint, server_key=key, control_timeout=0.5)
                async with app.run_test(size=(120, 40)) as pilot:
                    if key is None:
                        for _ in range(20):
                            pub.heartbeat()
                            await pilot.pause(0.05)
                        await wait_until(pilot, lambda: app.control_ok is False, what="the control failure")
                    else:
                        await connect(pilot, pub)
                        await wait_until(pilot, lambda: app.state.enrolled == ["wave"], what="the list over CURVE")
                return app

            assert asyncio.run(main(str(public))).control_ok
            assert asyncio.run(main(str(secret))).control_ok  # what `crossglg-edge run` passes: its own key file
            plain = asyncio.run(main(None))
            assert plain.state.received == 0 and not plain.state.enrolled
