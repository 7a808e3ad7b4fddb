"""Modal screens: key help, enrollment (label -> countdown -> recording -> processing -> done/failed),
remove, rename.

Screens never talk to the runtime themselves: they call the app's ``request_*`` methods, which run
the control request in a worker thread and hand the reply back through ``show_reply``; enrollment
progress arrives from the label stream through ``show_progress``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Digits, Input, OptionList, Static

from .control_link import Reply
from .state import EnrollProgress

if TYPE_CHECKING:
    from .app import CrossGLGApp

HELP_TEXT = """\
[b]CrossGLG live view[/b]: what the edge runtime recognises, as it happens.

[b]Keys[/b]
  [b]e[/b]    enroll a new action: type its label, get ready during the
       countdown, then perform it once while the runtime records
  [b]d[/b]    remove an enrolled action     [b]r[/b]    rename an enrolled action
  [b]c[/b]    clear the event history       [b]?[/b]    this help
  [b]q[/b]    quit (also ctrl+c)            [b]esc[/b]  close a dialog
  [b]ctrl+l[/b] repaint the whole screen

[b]Badges[/b]
  [b]live[/b] / [b]STALE[/b]     STALE: no message (not even a heartbeat) for 2.5 s;
                   the view reconnects when the runtime comes back
  [b]no person[/b]        nobody in view
  [b]unknown[/b]          motion that matches no enrolled action
  [b]backend[/b] [b]model[/b]    the runtime's inference backend and model id
  [b]control[/b]          whether the runtime answers enroll/remove/rename

Bars: the latest window's raw score for each enrolled action.
Large label: the smoothed decision.      [b]esc[/b] or [b]?[/b] closes this help."""


class HelpScreen(ModalScreen[None]):
    """Key help and what the badges mean."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss_help", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box", classes="dialog"):
            yield Static(HELP_TEXT, id="help-text")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)


class EnrollScreen(ModalScreen[str | None]):
    """Enroll one demonstration: label prompt, then the runtime's countdown/recording/done phases."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, countdown_s: float, max_seconds: float) -> None:
        super().__init__()
        self.countdown_s, self.max_seconds = countdown_s, max_seconds
        self.phase = "input"
        self.label: str | None = None
        self.job: str | None = None

    @property
    def crossglg(self) -> CrossGLGApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical(id="enroll-box", classes="dialog"):
            yield Static("[b]Enroll a new action[/b]", classes="dialog-title")
            yield Static(
                f"Type its label and press enter. After a {self.countdown_s:g} s countdown, perform the action "
                f"once (at most {self.max_seconds:g} s).", id="enroll-hint",
            )
            yield Input(placeholder="label, e.g. wave hello", id="enroll-label", max_length=80)
            yield Digits("", id="enroll-count")
            yield Static("", id="enroll-status")

    def on_mount(self) -> None:
        self.query_one("#enroll-count", Digits).display = False
        self.query_one("#enroll-label", Input).focus()

    @on(Input.Submitted, "#enroll-label")
    def _submit(self, event: Input.Submitted) -> None:
        if self.phase not in ("input", "failed"):
            return
        label = event.value.strip()
        if not label:
            self._status("a label is needed", "red")
            return
        self.label, self.job = label, None
        self._set_phase("sending", f"asking the runtime to enroll [b]{_esc(label)}[/b]\u2026")
        self.crossglg.request_enroll(label, self.countdown_s, self.max_seconds)

    def show_reply(self, reply: Reply) -> None:
        """The runtime's answer to ``enroll``: a job id (progress follows as events) or an error."""
        if not reply.ok:
            if self.phase == "sending":
                self._fail(reply.error or "refused")
            return
        if reply.data.get("job") is not None:
            self.job = str(reply.data["job"])
        if self.phase == "sending":  # progress events may overtake the reply: never step back
            self._set_phase("waiting", "the runtime accepted; waiting for the countdown\u2026")

    def show_progress(self, progress: EnrollProgress) -> None:
        """An enrollment event from the stream; ignored unless it is about this screen's job."""
        if self.phase in ("input", "done") or not self._mine(progress):
            return
        count = self.query_one("#enroll-count", Digits)
        count.display = progress.phase == "countdown"
        left = progress.seconds_left
        if progress.phase == "countdown":
            count.update("" if left is None else f"{max(0.0, left):.0f}")
            self._set_phase("countdown", "get ready\u2026")
        elif progress.phase == "recording":
            more = "" if left is None else f"  ({max(0.0, left):.0f} s left)"
            self._set_phase("recording", f"[b red]\u25cf REC[/]  perform [b]{_esc(self.label or '')}[/b] now{more}")
        elif progress.phase == "processing":
            self._set_phase("processing", "processing the recording\u2026")
        elif progress.phase == "done":
            self._set_phase("done", f"[b green]\u2713[/] enrolled [b]{_esc(progress.label or self.label or '')}[/b]")
            self.set_timer(1.2, self.action_close)  # leave the confirmation up for a moment
        elif progress.phase == "failed":
            self._fail(progress.message or "recording failed")

    def _mine(self, progress: EnrollProgress) -> bool:
        if self.job is not None and progress.job is not None:
            return progress.job == self.job
        return progress.label is None or progress.label == self.label

    def _fail(self, error: str) -> None:
        self._set_phase("failed", f"[b red]failed:[/] {_esc(error)}  (enter: try again, esc: close)")
        self.query_one("#enroll-label", Input).disabled = False
        self.query_one("#enroll-label", Input).focus()

    def _set_phase(self, phase: str, message: str) -> None:
        self.phase = phase
        self.query_one("#enroll-label", Input).disabled = phase not in ("input", "failed")
        self._status(message)

    def _status(self, message: str, style: str = "") -> None:
        self.query_one("#enroll-status", Static).update(Text.from_markup(message, style=style))

    def action_close(self) -> None:
        self.dismiss(self.label if self.phase == "done" else None)


class PickLabelScreen(ModalScreen[None]):
    """Base for remove/rename: pick an enrolled label from a list, then confirm or edit."""

    BINDINGS = [Binding("escape", "close", "Close")]
    TITLE_TEXT = ""

    def __init__(self, labels: list[str], preselect: str | None = None) -> None:
        super().__init__()
        self.labels = labels
        self.preselect = preselect
        self.chosen: str | None = None
        self.busy = False

    @property
    def crossglg(self) -> CrossGLGApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog pick-box"):
            yield Static(self.TITLE_TEXT, classes="dialog-title")
            yield OptionList(*self.labels, classes="pick-list")
            yield from self.compose_extra()
            yield Static("", classes="pick-status")

    def compose_extra(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if not self.labels:
            self._status("nothing is enrolled yet (esc: close)")
            return
        if self.preselect in self.labels:
            options.highlighted = self.labels.index(self.preselect)
        else:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        if self.busy:
            return
        self.chosen = self.labels[event.option_index]
        self.picked(self.chosen)

    def picked(self, label: str) -> None:
        raise NotImplementedError

    def show_reply(self, reply: Reply) -> None:
        self.busy = False
        if reply.ok:
            self.dismiss(None)
        else:
            self._status(f"[b red]failed:[/] {_esc(reply.error or 'refused')}")

    def _status(self, message: str) -> None:
        self.query_one(".pick-status", Static).update(Text.from_markup(message))

    def action_close(self) -> None:
        self.dismiss(None)


class RemoveScreen(PickLabelScreen):
    """Remove an enrolled action: pick it, then confirm with ``y``."""

    TITLE_TEXT = "[b]Remove an enrolled action[/b]  (enter: choose, y: confirm, esc: cancel)"
    BINDINGS = [*PickLabelScreen.BINDINGS, Binding("y", "confirm", "Confirm", show=False)]

    def picked(self, label: str) -> None:
        self._status(f"remove [b]{_esc(label)}[/b] and its recorded demonstration? press [b]y[/b] to confirm")

    def action_confirm(self) -> None:
        if self.chosen is None or self.busy:
            return
        self.busy = True
        self._status(f"removing [b]{_esc(self.chosen)}[/b]\u2026")
        self.crossglg.request_remove(self.chosen)


class RenameScreen(PickLabelScreen):
    """Rename an enrolled action: pick it, edit the label, enter."""

    TITLE_TEXT = "[b]Rename an enrolled action[/b]  (enter: choose / apply, esc: cancel)"

    def compose_extra(self) -> ComposeResult:
        yield Input(placeholder="new label", classes="rename-input", max_length=80, disabled=True)

    def picked(self, label: str) -> None:
        box = self.query_one(".rename-input", Input)
        box.disabled = False
        box.value = label
        box.focus()
        self._status(f"new label for [b]{_esc(label)}[/b], then enter")

    @on(Input.Submitted, ".rename-input")
    def _apply(self, event: Input.Submitted) -> None:
        new = event.value.strip()
        if self.chosen is None or self.busy:
            return
        if not new or new == self.chosen:
            self._status("type a different, non-empty label")
            return
        self.busy = True
        self._status(f"renaming [b]{_esc(self.chosen)}[/b] \u2192 [b]{_esc(new)}[/b]\u2026")
        self.crossglg.request_rename(self.chosen, new)


def _esc(text: str) -> str:
    """Escape Rich markup in user text (labels are free text and may contain brackets)."""
    from rich.markup import escape

    return escape(text)
