"""Widgets of the live screen. Each renders from :class:`edge.ui.state.LiveState` on ``refresh()``
and sizes itself from its region at render time, so a terminal resize never needs extra work."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Digits, Sparkline

from .bigtext import big_text
from .braille import draw_skeleton
from .state import EventRow, LiveState, TrackView

STATE_STYLE = {"action": "bold green", "unknown": "bold yellow", "none": "grey62", "no_person": "grey50"}
EVENT_STYLE = {"start": "green", "end": "grey62", "change": "yellow", "enroll": "cyan", "note": "magenta"}
BADGE_STYLE = {
    "ok": "black on green", "warn": "black on yellow", "bad": "white on red", "info": "white on grey30",
    "idle": "grey70 on grey19",
}
_EIGHTHS = " \u258f\u258e\u258d\u258c\u258b\u258a\u2589\u2588"


def _ellipsize(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(0, width - 1)] + "\u2026"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar ``width`` cells wide filled to ``fraction`` (0..1) with eighth-block precision."""
    if width <= 0:
        return ""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    out = "\u2588" * full + (_EIGHTHS[part] if part else "")
    return out.ljust(width)


class StateWidget(Widget):
    """Base: a widget that draws from the shared state object, repainted by :meth:`sync` when it changed."""

    def __init__(self, state: LiveState, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self._signature: object = None

    def signature(self) -> object:
        """A cheap value that changes whenever the drawing would (repaints are the UI's main cost)."""
        return None

    def sync(self) -> None:
        sig = self.signature()
        if sig is None or sig != self._signature:
            self._signature = sig
            self.refresh()


class TextLine(Widget):
    """Fixed-size text that repaints only when it changes and never triggers a layout pass.

    (``Static.update`` re-lays out the screen, which at 10 redraws/s costs more than everything else.)
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text = Text()

    def set(self, text: Text) -> None:
        if text != self.text:
            self.text = text
            self.refresh()

    def render(self) -> Text:
        return self.text


class Badges(TextLine):
    """One line of state badges (stream, person, unknown, backend, model, control)."""

    def show(self, badges: Sequence[tuple[str, str]]) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        for label, kind in badges:
            text.append(f" {label} ", style=BADGE_STYLE.get(kind, BADGE_STYLE["info"]))
            text.append(" ")
        self.set(text)


class BigLabel(Widget):
    """A label in large type (3 rows) when the font has it and it fits, else letter-spaced capitals."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.text, self.style = "", ""

    def show(self, text: str, style: str) -> None:
        if (text, style) != (self.text, self.style):
            self.text, self.style = text, style
            self.refresh()

    def render(self) -> Text:
        width = self.size.width
        rows = big_text(self.text, width)
        if rows is None:
            title = " ".join(self.text.upper()) if len(self.text) * 2 <= width else self.text.upper()
            return Text("\n" + _ellipsize(title, width), style=self.style, justify="center")
        pad = " " * max(0, (width - len(rows[0])) // 2)
        return Text("\n".join(pad + row for row in rows), style=self.style, no_wrap=True)


class CurrentAction(Vertical):
    """The primary track's state: the label in large type, its score as big digits, and details."""

    def compose(self) -> ComposeResult:
        yield BigLabel(id="action-label")
        yield Digits("", id="action-score")
        yield TextLine(id="action-detail")

    def show(self, view: TrackView | None, stale: bool, heard: bool = True, error: str | None = None) -> None:
        """``heard``: anything received yet (else the stream has not been reached); ``error``: the
        runtime stopped with this error (shown here, where the eye is, with what to do next)."""
        self.set_class(error is not None, "-error")
        if error is not None:
            self.query_one("#action-label", BigLabel).show("stopped", "bold red")
            digits = self.query_one("#action-score", Digits)
            if digits.value:
                digits.update("")
            detail = Text(justify="center")
            detail.append("the runtime stopped: ", style="bold red")
            detail.append(error)
            detail.append("\npress q to quit, fix the cause and start it again", style="italic")
            self.query_one("#action-detail", TextLine).set(detail)
            return
        label_w = self.query_one("#action-label", BigLabel)
        if view is None:
            title, style = ("no person", STATE_STYLE["no_person"]) if heard else ("waiting for the stream", "grey50")
        elif view.state == "action":
            title, style = (view.label or "?", STATE_STYLE["action"])
        else:
            title, style = ({"unknown": "unknown action", "none": "no action", "no_person": "no person"}[view.state],
                            STATE_STYLE[view.state])
        if stale:
            style = "grey42"
        label_w.show(title, style)
        for cls in ("action", "unknown", "none", "no_person"):
            self.set_class(view is not None and view.state == cls, f"-{cls}")
        self.set_class(stale, "-stale")
        score = view.score if view is not None else None
        digits = self.query_one("#action-score", Digits)
        value = "" if score is None else f"{score:.2f}"
        if digits.value != value:
            digits.update(value)
        detail = Text(justify="center")
        if view is not None:
            who = "nobody in view" if view.track_id is None else f"person #{view.track_id}"
            detail.append(who, style="bold")
            if view.source != "default":
                detail.append(f" @ {view.source}")
            if view.margin is not None:
                detail.append(f"   margin {view.margin:.2f}")
            if view.reason:
                detail.append(f"   ({view.reason.replace('_', ' ')})", style="italic grey62")
        self.query_one("#action-detail", TextLine).set(detail)


class ScoreBars(StateWidget):
    """A score bar per enrolled action for the primary track's latest window, best label highlighted."""

    def signature(self) -> object:
        view = self.state.primary()
        return (tuple(self.state.bar_scores()), view.label if view is not None and view.state == "action" else None)

    def render(self) -> Text:
        rows = self.state.bar_scores()
        width = self.size.width
        text = Text(no_wrap=True, overflow="ellipsis")
        if not rows:
            text.append("no enrolled actions (press e to enroll one)", style="italic grey50")
            return text
        view = self.state.primary()
        current = view.label if view is not None and view.state == "action" else None
        hidden = 0
        if len(rows) > max(1, self.size.height):
            # more actions than lines: keep the best-scoring ones (in their usual order) and say so
            keep = max(1, self.size.height - 1)
            best = sorted(range(len(rows)), key=lambda i: -(rows[i][1] if rows[i][1] is not None else -1.0))[:keep]
            hidden = len(rows) - keep
            rows = [rows[i] for i in sorted(best)]
        name_w = max(6, min(24, max(len(lbl) for lbl, _ in rows), width // 3))
        bar_w = max(4, width - name_w - 8)
        for i, (lbl, score) in enumerate(rows):
            if i:
                text.append("\n")
            hot = lbl == current
            text.append(_ellipsize(lbl, name_w).ljust(name_w) + " ", style="bold green" if hot else "")
            if score is None:
                text.append("\u2500" * bar_w, style="grey23")
                text.append("    \u2013")
            else:
                text.append(bar(score, bar_w), style="green" if hot else "dodger_blue2")
                text.append(f" {score:5.2f}")
        if hidden:
            text.append(f"\n\u2026 {hidden} more (lower scores)", style="italic grey50")
        return text


class EventLog(StateWidget):
    """The newest events that fit, oldest at the top, newest at the bottom."""

    def signature(self) -> object:
        return (len(self.state.events), id(self.state.events[-1]) if self.state.events else None)

    def render(self) -> Text:
        rows: list[EventRow] = list(self.state.events)[-max(1, self.size.height) :]
        text = Text(no_wrap=True, overflow="ellipsis")
        if not rows:
            text.append("no events yet", style="italic grey50")
        for i, row in enumerate(rows):
            if i:
                text.append("\n")
            stamp = time.strftime("%H:%M:%S", time.localtime(row.t_pub)) if row.t_pub else "--:--:--"
            text.append(stamp + " ", style="grey50")
            text.append(f"{row.kind:<6} ", style=EVENT_STYLE.get(row.kind, ""))
            text.append(row.text)
            if row.score is not None:
                text.append(f" {row.score:.2f}", style="grey62")
        return text


class Meter(Vertical):
    """A caption with the latest value over a sparkline of the recent values."""

    def __init__(self, title: str, unit: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title, self.unit = title, unit

    def compose(self) -> ComposeResult:
        yield TextLine(classes="meter-caption")
        yield Sparkline([], classes="meter-line")

    def show(self, values: Sequence[float]) -> None:
        values = list(values)
        cap = Text(f"{self.title} ", style="bold")
        if values:
            cap.append(f"{values[-1]:.1f} {self.unit}".rstrip())
            cap.append(f"  ({min(values):.0f}\u2013{max(values):.0f})", style="grey50")
        else:
            cap.append("\u2013", style="grey50")
        self.query_one(".meter-caption", TextLine).set(cap)
        self.query_one(".meter-line", Sparkline).data = values


class SkeletonView(StateWidget):
    """A braille stick figure per tracked person (side by side), each titled with its state."""

    def signature(self) -> object:
        out = []
        for key in self.state.person_tracks()[:4]:
            view = self.state.tracks.get(key)
            out.append((key, id(self.state.poses[key]), None if view is None else (view.state, view.label)))
        return tuple(out)

    def render(self) -> Text:
        keys = self.state.person_tracks()[:4]
        width, height = self.size.width, self.size.height
        text = Text(no_wrap=True)
        if not keys or width < 4 or height < 3:
            text.append("no pose", style="italic grey50")
            return text
        col_w = max(3, width // len(keys))
        drawings, titles = [], []
        for key in keys:
            pose = self.state.poses[key]
            drawings.append(draw_skeleton(pose.points, col_w - 1, height - 1, aspect=pose.aspect))
            view = self.state.tracks.get(key)
            who = "?" if key[1] is None else f"#{key[1]}"
            what = (view.label if view.state == "action" else view.state) if view is not None else ""
            titles.append((_ellipsize(f"{who} {what}".strip(), col_w - 1).ljust(col_w), view))
        for r in range(height - 1):
            for drawing in drawings:
                text.append(drawing[r].ljust(col_w), style="bold cyan")
            text.append("\n")
        for title, view in titles:
            text.append(title, style=STATE_STYLE.get(view.state, "") if view is not None else "grey50")
        return text
