"""The CrossGLG terminal UI: a Textual app fed by the label stream, with enrollment over the control channel.

``run_ui("tcp://127.0.0.1:5556", control="tcp://127.0.0.1:5557")`` (what ``crossglg-edge run`` and
``crossglg-edge ui`` call) opens it. The app is a plain subscriber: a :class:`edge.ui.feed.Feed`
thread reads the SUB socket and wakes the UI loop; control requests run in worker threads. Nothing
on the UI loop waits on the network, and nothing in the UI can slow the runtime down.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TextIO

import zmq
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Footer

from .control_link import DEFAULT_TIMEOUT_S, ControlLink, Reply
from .feed import Feed
from .screens import EnrollScreen, HelpScreen, PickLabelScreen, RemoveScreen, RenameScreen
from .state import EnrollProgress, LiveState
from .widgets import Badges, CurrentAction, EventLog, Meter, ScoreBars, SkeletonView

LIST_POLL_S = 5.0  # how often the enrolled list is re-read (enrollments made elsewhere show up)


class FeedWake(Message):
    """The feed buffered new messages (posted from the feed thread)."""


class ControlReplied(Message):
    """A control request finished (posted from a worker thread)."""

    def __init__(self, op: str, fields: dict, reply: Reply, screen: object | None) -> None:
        super().__init__()
        self.op, self.fields, self.reply, self.screen = op, fields, reply, screen


class CrossGLGApp(App[int]):
    """Live view of one runtime's label stream (``connect``) with enrollment via ``control``.

    ``control`` None: a read-only view (enroll/remove/rename say there is no control channel).
    ``max_fps``: most redraws per second however fast messages arrive (state updates are not delayed).
    ``clock`` (monotonic seconds) and ``wall_clock`` (epoch seconds) can be frozen by tests;
    ``start_feed=False`` builds the app without sockets or timers (messages then come through
    :meth:`ingest`; control requests happen only when the user asks): a frozen view for snapshots.
    ``output``: a terminal file to draw on instead of ``sys.__stderr__`` (Linux; see :func:`run_ui`).
    """

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))  # absolute: subclasses elsewhere find it too
    TITLE = "CrossGLG live"
    ENABLE_COMMAND_PALETTE = False  # every action has a key; the palette would only add theme switching
    BINDINGS = [
        Binding("e", "enroll", "Enroll"),
        Binding("d", "remove", "Remove"),
        Binding("r", "rename", "Rename"),
        Binding("c", "clear_events", "Clear log"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("ctrl+l", "redraw", "Redraw", show=False),
    ]

    def __init__(
        self,
        connect: str,
        control: str | None = None,
        *,
        source: str | None = None,
        stale_after: float = 2.5,
        countdown_s: float = 3.0,
        max_seconds: float = 4.0,
        control_timeout: float = DEFAULT_TIMEOUT_S,
        max_fps: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        start_feed: bool = True,
        server_key: str | None = None,
        client_key: str | None = None,
        output: TextIO | None = None,
    ) -> None:
        super().__init__(driver_class=_driver_drawing_on(output) if output is not None else None)
        self.connect, self.source = connect, source
        # CURVE: the same server key protects the stream and the control channel of one runtime
        self._curve = {"server_public_key": server_key, "client_secret_key": client_key} if server_key else {}
        self.control = ControlLink(control, control_timeout, **self._curve) if control else None
        self.countdown_s, self.max_seconds = countdown_s, max_seconds
        self.clock, self.wall_clock = clock, wall_clock
        self.state = LiveState(stale_after=stale_after)
        self.started = clock()
        self.stale = False
        self.control_ok: bool | None = None
        self.feed: Feed | None = None
        self._start_feed = start_feed
        self._last_progress: EnrollProgress | None = None
        self.max_fps = max_fps
        self._last_redraw = -1e9
        self._redraw_pending = False
        self._hb_count: object = None

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Badges(id="badges")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield CurrentAction(id="current")
                yield ScoreBars(self.state, id="bars")
                with Horizontal(id="meters"):
                    yield Meter("fps", "", id="fps")
                    yield Meter("latency", "ms", id="latency")
            with Vertical(id="right"):
                yield SkeletonView(self.state, id="skeleton")
                yield EventLog(self.state, id="events")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#bars").border_title = "scores"
        self.query_one("#skeleton").border_title = "pose"
        self.query_one("#events").border_title = "events"
        self.query_one("#current").border_title = "now"
        if self._start_feed:
            self.feed = Feed(self.connect, lambda: self.post_message(FeedWake()), source=self.source,
                             subscription_kwargs=self._curve).start()
            self.set_interval(0.25, self._tick)
        if self.control is not None and self._start_feed:
            self._fetch_labels()
            self.set_interval(LIST_POLL_S, self._fetch_labels)
        self.redraw()

    def on_unmount(self) -> None:
        if self.feed is not None:
            self.feed.stop()

    # ---- stream ---------------------------------------------------------------------------

    def on_feed_wake(self, _: FeedWake) -> None:
        if self.feed is not None:
            self.ingest(self.feed.take())

    def ingest(self, messages: list) -> None:
        """Apply decoded messages to the state and redraw once (also the tests' way in)."""
        restarted = False
        now = self.clock()
        for msg in messages:
            restarted |= self.state.ingest(msg, now)
        progress = self.state.enrollment
        if progress is not None and progress is not self._last_progress:
            self._last_progress = progress
            if isinstance(self.screen, EnrollScreen):
                self.screen.show_progress(progress)
            if progress.phase == "done":
                self._fetch_labels()
        count = self.state.status.get("actions")
        recount = isinstance(count, int) and count != self._hb_count
        self._hb_count = count
        if restarted or (recount and self.state.enrolled_known and count != len(self.state.enrolled)):
            # a restarted runtime, or a heartbeat counting a different number of actions (enrolled
            # or removed by another client): re-read the list (once per change, not per message)
            self._fetch_labels()
        if messages:
            self.stale = False
        self._request_redraw()

    def _request_redraw(self) -> None:
        """Redraw now, or once when the frame interval ends: a fast stream costs at most ``max_fps`` redraws/s."""
        if self._redraw_pending:
            return
        wait = self._last_redraw + 1.0 / self.max_fps - time.monotonic()
        if wait <= 0:
            self.redraw()
        else:
            self._redraw_pending = True
            self.set_timer(wait, self._deferred_redraw)

    def _deferred_redraw(self) -> None:
        self._redraw_pending = False
        self.redraw()

    def _tick(self) -> None:
        """Periodic: stale detection and track expiry (the stream may have stopped entirely)."""
        now = self.clock()
        stale = self.state.is_stale(now, self.started) or (self.feed is not None and self.feed.error is not None)
        expired = self.state.expire(now)
        if stale != self.stale or expired:
            self.stale = stale
            self.redraw()
        else:
            with suppress(NoMatches):  # the app is shutting down: widgets already gone
                self.query_one(Badges).show(self.badges())

    def badges(self) -> list[tuple[str, str]]:
        """``(text, kind)`` per badge; kind picks the colour (ok / warn / bad / info / idle)."""
        out: list[tuple[str, str]] = []
        if self.feed is not None and self.feed.error:
            out.append(("feed error", "bad"))
        elif self.stale:
            out.append(("STALE" if self.state.last_rx is not None else "no stream", "bad"))
        elif self.state.last_rx is None:
            out.append(("waiting", "idle"))
        else:
            out.append(("\u25cf live", "ok"))
        view = self.state.primary()
        if self.state.last_rx is not None and (view is None or view.state == "no_person"):
            out.append(("no person", "warn"))
        elif view is not None and view.state == "unknown":
            out.append(("unknown", "warn"))
        runtime_state = self.state.status.get("state")
        if isinstance(runtime_state, str) and runtime_state not in ("running", "idle"):
            out.append((f"runtime {runtime_state}", "info" if runtime_state == "enrolling" else "warn"))
        if self.state.status.get("error"):
            out.append((f"error: {self.state.status['error']}", "bad"))
        job = self.state.enrollment
        if job is not None and job.phase in ("countdown", "recording", "processing") and not self.stale:
            out.append((f"\u25cf enrolling {job.label}: {job.phase}", "bad" if job.phase == "recording" else "warn"))
        out.append((f"backend {self.state.backend or '?'}", "info"))
        out.append((f"model {self.state.model_id or '?'}", "info"))
        if self.control is None:
            out.append(("read-only", "idle"))
        elif self.control_ok is False:
            out.append(("control \u2717", "bad"))
        elif self.control_ok:
            out.append(("control ok", "ok"))
        if self.feed is not None and (self.feed.missed or self.feed.dropped):
            out.append((f"lost {self.feed.missed + self.feed.dropped}", "warn"))
        out.append((self.connect + (f" [{self.source}]" if self.source else ""), "idle"))
        return out

    def runtime_error(self) -> str | None:
        """The runtime's error when its heartbeat says it stopped on one (else None)."""
        error = self.state.status.get("error")
        return error if self.state.status.get("state") == "error" and isinstance(error, str) and error else None

    def redraw(self) -> None:
        """Push the state into every widget (they render on the next frame)."""
        self._last_redraw = time.monotonic()
        try:
            self.query_one(Badges).show(self.badges())
            self.query_one(CurrentAction).show(self.state.primary(), self.stale, self.state.last_rx is not None,
                                               self.runtime_error())  # fmt: skip
            self.query_one("#fps", Meter).show(self.state.fps)
            self.query_one("#latency", Meter).show(self.state.latency_ms)
            for widget in (ScoreBars, EventLog, SkeletonView):
                self.query_one(widget).sync()
        except NoMatches:
            pass  # a timer or feed wake-up raced the shutdown: nothing left to draw

    # ---- control channel ------------------------------------------------------------------

    @work(thread=True, group="control-poll", exclusive=True, exit_on_error=False)
    def _fetch_labels(self) -> None:
        if self.control is not None:
            self.post_message(ControlReplied("list", {}, self.control.list_labels(), None))

    @work(thread=True, group="control", exit_on_error=False)
    def _request(self, op: str, fields: dict, screen: object | None) -> None:
        if self.control is not None:
            self.post_message(ControlReplied(op, fields, self.control.request(op, **fields), screen))

    def on_control_replied(self, msg: ControlReplied) -> None:
        reply = msg.reply
        self.control_ok = reply.ok or bool(reply.data)  # an error *reply* still means the runtime answered
        if msg.op == "list":
            if reply.ok:
                self.state.set_enrolled(reply.data.get("labels", []))
        else:
            t, f = self.wall_clock(), msg.fields
            if reply.ok:
                if msg.op == "remove":
                    self.state.note(f"removed {f['label']}", t)
                elif msg.op == "rename":
                    self.state.note(f"renamed {f['label']} \u2192 {f['new_label']}", t)
                if msg.op in ("remove", "rename"):
                    self._fetch_labels()
            else:
                self.state.note(f"{msg.op} failed: {reply.error}", t)
            if msg.screen is self.screen and hasattr(msg.screen, "show_reply"):
                msg.screen.show_reply(reply)
        self.redraw()

    def request_enroll(self, label: str, countdown_s: float, max_seconds: float) -> None:
        self._request("enroll", {"label": label, "countdown_s": countdown_s, "max_seconds": max_seconds}, self.screen)

    def request_remove(self, label: str) -> None:
        # the dialog picks from the enrolled labels: match the label only (a slug must never win)
        self._request("remove", {"label": label, "by": "label"}, self.screen)

    def request_rename(self, label: str, new_label: str) -> None:
        self._request("rename", {"label": label, "new_label": new_label, "by": "label"}, self.screen)

    # ---- actions --------------------------------------------------------------------------

    def _can_open(self) -> bool:
        if len(self.screen_stack) > 1:
            return False  # one dialog at a time
        if self.control is None:
            self.notify("read-only view: start with --control to enroll, remove or rename", severity="warning")
            return False
        return True

    def action_enroll(self) -> None:
        if self._can_open():
            self.push_screen(EnrollScreen(self.countdown_s, self.max_seconds), self._dialog_closed)

    def _pick(self, screen_cls: type[PickLabelScreen]) -> None:
        if self._can_open():
            view = self.state.primary()
            current = view.label if view is not None else None
            self.push_screen(screen_cls(list(self.state.enrolled), current), self._dialog_closed)

    def action_remove(self) -> None:
        self._pick(RemoveScreen)

    def action_rename(self) -> None:
        self._pick(RenameScreen)

    def _dialog_closed(self, _: object) -> None:
        self.redraw()

    def action_clear_events(self) -> None:
        self.state.events.clear()
        self.redraw()

    def action_redraw(self) -> None:
        """Repaint the whole terminal (e.g. after a library wrote log lines over the screen)."""
        self.refresh(repaint=True, layout=True)

    def action_help(self) -> None:
        if len(self.screen_stack) == 1:
            self.push_screen(HelpScreen())

    def on_resize(self) -> None:
        self.redraw()  # the render-based widgets re-render at their new size by themselves


def run_ui(connect: str | None = None, control: str | None = None, *, pub: str | None = None, **opts) -> int:
    """Run the UI in this terminal until the user quits; returns the exit code (0).

    ``connect``: the label stream (``pub`` is accepted as another name for it); ``control``: the
    runtime's control endpoint or None; ``opts``: :class:`CrossGLGApp` keyword options (``source``,
    ``server_key``, ``client_key``, ``stale_after``, ``countdown_s``, ``max_seconds``, ``output``:
    the terminal to draw on when it is not stderr, e.g. stdout for ``run ... 2>log``, ...).
    """
    endpoint = connect or pub
    if not endpoint:
        raise ValueError("run_ui: the label stream endpoint (connect=...) is required")
    check_endpoint(endpoint, "label stream")
    if control:
        check_endpoint(control, "control")
    app = CrossGLGApp(endpoint, control, **opts)
    app.run()
    return int(app.return_code or 0)


def _driver_drawing_on(output: TextIO) -> type | None:
    """A Textual Linux driver that writes the screen to ``output`` (and sizes itself from it)
    instead of ``sys.__stderr__``; None where that driver does not exist (then the default)."""
    try:
        from textual.drivers.linux_driver import LinuxDriver
    except ImportError:
        return None

    class OutputDriver(LinuxDriver):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._file = output  # Textual's writer thread takes its file from here at start

        def _get_terminal_size(self) -> tuple[int, int]:
            try:
                size = os.get_terminal_size(output.fileno())
                return size.columns or 80, size.lines or 25
            except (OSError, ValueError):
                return super()._get_terminal_size()

    return OutputDriver


def check_endpoint(endpoint: str, what: str) -> None:
    """Raise ``ValueError`` for an endpoint ZeroMQ cannot connect to (bad scheme, missing port)
    before the terminal is taken over; an unreachable but well-formed one is fine (ZeroMQ retries)."""
    sock = zmq.Context.instance().socket(zmq.SUB)
    try:
        sock.connect(endpoint)
    except zmq.ZMQError as exc:
        raise ValueError(f"{what} endpoint {endpoint!r}: {exc.strerror} (expected e.g. tcp://127.0.0.1:5556)") from None
    finally:
        sock.close(linger=0)
