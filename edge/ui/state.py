"""What the terminal UI knows about the live stream, kept apart from Textual so it is plain data.

:class:`LiveState` ingests decoded :class:`edge.protocol.Message` objects (labels, events,
heartbeats, poses, enrollment progress) and answers what the widgets need: the primary track, a score
per enrolled action, the event history, fps and latency series, the skeletons. Time comes in as
``now`` (a monotonic clock chosen by the app), so tests can freeze it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from edge import protocol
from edge.protocol import Message

TrackKey = tuple[str, int | None]  # (source, track_id); track_id None = "nobody in view"


@dataclass
class TrackView:
    """Last known smoothed state of one tracked person (``track_id`` None: nobody in view)."""

    source: str
    track_id: int | None
    state: str
    label: str | None = None
    score: float | None = None
    margin: float | None = None
    reason: str | None = None
    topk: list[tuple[str, float]] = field(default_factory=list)
    t_rx: float = 0.0


@dataclass
class PoseView:
    """2D joints of one track: ``points`` V entries (x, y) in image coordinates, None where not visible."""

    source: str
    track_id: int | None
    points: list[tuple[float, float] | None]
    aspect: float = 1.0
    t_rx: float = 0.0


@dataclass(frozen=True)
class EventRow:
    """One line of the event history: a state change from the runtime, or a note from the UI itself."""

    t_pub: float
    source: str
    kind: str  # "start" | "end" | "change" | "enroll" | "note"
    text: str
    track_id: int | None = None
    score: float | None = None


@dataclass(frozen=True)
class EnrollProgress:
    """One enrollment progress event (``phase`` in :data:`edge.protocol.ENROLL_PHASES`)."""

    phase: str
    label: str | None
    job: str | None = None
    seconds_left: float | None = None
    message: str = ""
    track_id: int | None = None


def parse_enrollment(payload: dict[str, Any]) -> EnrollProgress | None:
    """The enrollment progress in an ``event`` payload with ``event: "enroll"``, else None."""
    if payload.get("event") != "enroll" or payload.get("phase") not in protocol.ENROLL_PHASES:
        return None
    left = payload.get("seconds_left")
    label, message = payload.get("label"), payload.get("message")
    return EnrollProgress(
        phase=str(payload["phase"]),
        label=label if isinstance(label, str) else None,
        job=str(payload["job"]) if payload.get("job") is not None else None,
        seconds_left=float(left) if _is_num(left) else None,
        message=message if isinstance(message, str) else "",
        track_id=payload.get("track_id") if isinstance(payload.get("track_id"), int) else None,
    )


def parse_pose_tracks(payload: dict[str, Any]) -> list[tuple[int | None, list[tuple[float, float] | None], float]]:
    """``(track_id, points, aspect)`` per track of a pose payload, points in drawing order (y down).

    ``space="image"``: normalised [0, 1] image coordinates, y down; ``aspect`` = width / height from
    ``image_size`` so the figure keeps its proportions. ``space="camera"``: metres with y up, flipped
    here. A joint is drawn when it is present and its visibility is at least 0.5.
    """
    size = payload.get("image_size")
    camera = payload.get("space") == "camera"
    aspect = 1.0
    if not camera and isinstance(size, list) and len(size) == 2 and all(_is_num(v) and v > 0 for v in size):
        aspect = float(size[0]) / float(size[1])
    out = []
    for t in payload.get("tracks", []):
        if not isinstance(t, dict) or not isinstance(t.get("xy"), list):
            continue
        vis = t.get("visibility")
        pts: list[tuple[float, float] | None] = []
        for j, xy in enumerate(t["xy"]):
            ok = isinstance(xy, list) and len(xy) == 2 and _is_num(xy[0]) and _is_num(xy[1])
            if ok and isinstance(vis, list) and j < len(vis) and _is_num(vis[j]):
                ok = vis[j] >= 0.5
            pts.append((float(xy[0]), -float(xy[1]) if camera else float(xy[1])) if ok else None)
        tid = t.get("track_id")
        out.append((tid if isinstance(tid, int) and not isinstance(tid, bool) else None, pts, aspect))
    return out


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class LiveState:
    """Everything the UI shows, updated message by message.

    ``stale_after``: seconds without any message before the stream counts as stale.
    ``track_ttl``: a track with no label for this long is dropped (the person left).
    """

    def __init__(self, *, history: int = 200, series: int = 90, stale_after: float = 2.5, track_ttl: float = 3.0) -> None:
        self.stale_after = stale_after
        self.track_ttl = track_ttl
        self.sessions: dict[str, str] = {}
        self.tracks: dict[TrackKey, TrackView] = {}
        self.poses: dict[TrackKey, PoseView] = {}
        self.events: deque[EventRow] = deque(maxlen=history)
        self.latency_ms: deque[float] = deque(maxlen=series)
        self.fps: deque[float] = deque(maxlen=series)
        self.enrolled: list[str] = []
        self.enrolled_known = False  # True once the runtime told us its list (control or heartbeat)
        self.seen_labels: list[str] = []  # top-k labels in order of first appearance: bars keep their places
        self.backend = ""
        self.model_id = ""
        self.status: dict[str, Any] = {}
        self.last_rx: float | None = None
        self.restarts = 0
        self.received = 0
        self.enrollment: EnrollProgress | None = None
        self._labelled: set[str] = set()  # sources whose labels we receive: their heartbeat snapshots are older

    # ---- ingest ---------------------------------------------------------------------------

    def ingest(self, msg: Message, now: float) -> bool:
        """Apply one message; True when it revealed a runtime restart (new ``session``: state was reset)."""
        p = msg.payload
        self.last_rx = now
        self.received += 1
        restarted = self._check_session(msg.source, str(p.get("session", "")), p, now)
        if isinstance(p.get("backend"), str) and p["backend"]:
            self.backend = p["backend"]
        if isinstance(p.get("model_id"), str) and p["model_id"]:
            self.model_id = p["model_id"]
        if msg.kind == "label":
            self._on_label(msg.source, p, now)
        elif msg.kind == "event":
            self._on_event(msg.source, p, now)
        elif msg.kind == "hb":
            self._on_heartbeat(msg.source, p, now)
        elif msg.kind == "pose":
            for tid, pts, aspect in parse_pose_tracks(p):
                self.poses[(msg.source, tid)] = PoseView(msg.source, tid, pts, aspect, now)
        return restarted

    def _check_session(self, source: str, session: str, p: dict[str, Any], now: float) -> bool:
        old = self.sessions.get(source)
        self.sessions[source] = session
        if old is None or old == session:
            return False
        # the runtime restarted: everything it told us before is void
        self.restarts += 1
        for key in [k for k in self.tracks if k[0] == source]:
            del self.tracks[key]
        for key in [k for k in self.poses if k[0] == source]:
            del self.poses[key]
        self.latency_ms.clear()
        self.fps.clear()
        self.seen_labels.clear()
        self._labelled.discard(source)
        self.enrollment = None
        self.note(f"runtime restarted ({source}: session {session})", _t(p), source)
        return True

    def _on_label(self, source: str, p: dict[str, Any], now: float) -> None:
        self._labelled.add(source)
        tid = p.get("track_id")
        if tid is None:
            # nobody in view: every person track of this source is gone
            for key in [k for k in self.tracks if k[0] == source and k[1] is not None]:
                del self.tracks[key]
            for key in [k for k in self.poses if k[0] == source]:
                del self.poses[key]
        else:
            self.tracks.pop((source, None), None)
        topk = [(str(t["label"]), float(t["score"])) for t in p.get("topk", []) if isinstance(t, dict)]
        self.seen_labels.extend(lbl for lbl, _ in topk if lbl not in self.seen_labels)
        self.tracks[(source, tid)] = TrackView(
            source, tid, p["state"], p.get("label"), p.get("score"), p.get("margin"), p.get("reason"), topk, now
        )
        lat = p.get("latency_ms") or {}
        total = lat.get("total")
        if not _is_num(total) and lat:
            total = sum(v for v in lat.values() if _is_num(v))
        if _is_num(total):
            self.latency_ms.append(float(total))
        if _is_num(p.get("fps")):
            self.fps.append(float(p["fps"]))

    def _on_event(self, source: str, p: dict[str, Any], now: float) -> None:
        progress = parse_enrollment(p)
        if progress is not None:
            before = self.enrollment
            self.enrollment = progress
            if progress.phase == "done" and progress.label and progress.label not in self.enrolled:
                self.enrolled.append(progress.label)
            # countdown ticks repeat the phase: the history gets one line per phase change
            if before is None or (before.job, before.phase) != (progress.job, progress.phase):
                text = f"{progress.label} \u2192 {progress.phase}" + (f": {progress.message}" if progress.message else "")
                self.events.append(EventRow(_t(p), source, "enroll", text, progress.track_id))
            return
        tid = p.get("track_id")
        key = (source, tid)
        view = self.tracks.get(key)
        if view is None:
            view = self.tracks[key] = TrackView(source, tid, p["state"], t_rx=now)
        view.state, view.label, view.score, view.t_rx = p["state"], p.get("label"), p.get("score"), now
        prev = p.get("previous") or {}
        before = prev.get("label") or prev.get("state")
        after = p.get("label") or p.get("state")
        who = "nobody" if tid is None else f"#{tid}"
        self.events.append(EventRow(_t(p), source, str(p.get("event")), f"{who} {before} \u2192 {after}", tid, p.get("score")))

    def _on_heartbeat(self, source: str, p: dict[str, Any], now: float) -> None:
        status = p.get("status")
        if isinstance(status, dict):
            self.status = status
            # frames the pipeline processed per second (what limits recognition), else the source rate
            fps = next((status[k] for k in ("fps", "fps_pipeline", "fps_source") if _is_num(status.get(k))), None)
            if fps is not None:
                self.fps.append(float(fps))
            actions = status.get("actions")
            if isinstance(actions, list) and all(isinstance(a, str) for a in actions):
                self.set_enrolled(actions)
        # a late joiner learns the live tracks from the snapshot until labels flow; after that the
        # labels are fresher (and a snapshot may still list a track the runtime did not forget)
        if source in self._labelled:
            return
        for t in p.get("tracks", []):
            key = (source, t.get("track_id"))
            if key not in self.tracks:
                self.tracks[key] = TrackView(source, t.get("track_id"), t["state"], t.get("label"), t.get("score"), t_rx=now)

    def note(self, text: str, t: float, source: str = "") -> None:
        """Add a line from the UI itself (restarts, control replies) to the event history."""
        self.events.append(EventRow(t, source, "note", text))

    def set_enrolled(self, labels: list[str]) -> None:
        """The runtime's enrolled actions (from the control channel's ``list``)."""
        self.enrolled = list(dict.fromkeys(labels))
        self.enrolled_known = True

    # ---- queries --------------------------------------------------------------------------

    def expire(self, now: float) -> bool:
        """Drop tracks and poses not updated for ``track_ttl`` seconds; True if anything went."""
        old = [k for k, v in self.tracks.items() if now - v.t_rx > self.track_ttl]
        old_poses = [k for k, v in self.poses.items() if now - v.t_rx > self.track_ttl]
        for k in old:
            del self.tracks[k]
        for k in old_poses:
            del self.poses[k]
        return bool(old or old_poses)

    def is_stale(self, now: float, started: float) -> bool:
        """No message (heartbeats included) for more than ``stale_after`` s (or none since ``started``)."""
        last = started if self.last_rx is None else self.last_rx
        return now - last > self.stale_after

    def primary(self) -> TrackView | None:
        """The track to show large: an active action with the best score, else the freshest track."""
        if not self.tracks:
            return None
        views = list(self.tracks.values())
        acting = [v for v in views if v.state == "action"]
        if acting:
            return max(acting, key=lambda v: (v.score or 0.0, -(v.track_id or 0)))
        people = [v for v in views if v.track_id is not None] or views
        return max(people, key=lambda v: (v.t_rx, -(v.track_id or 0)))

    def bar_scores(self) -> list[tuple[str, float | None]]:
        """``(label, score)`` per enrolled action; score None if absent from the latest top-k.

        Scores are the primary track's raw top-k scores of its latest window. Without the runtime's
        list (no control channel), the labels seen in top-k stand in for it. The order is stable
        (enrolment order, or first appearance) so bars do not jump around as scores change.
        """
        view = self.primary()
        scores = dict(view.topk) if view is not None else {}
        labels = self.enrolled if self.enrolled_known else self.seen_labels
        return [(lbl, scores.get(lbl)) for lbl in labels]

    def person_tracks(self) -> list[TrackKey]:
        """Keys of the tracked people with a pose to draw, in a stable order."""
        return sorted(self.poses, key=lambda k: (k[0], -1 if k[1] is None else k[1]))


def _t(p: dict[str, Any]) -> float:
    t = p.get("t_pub")
    return float(t) if _is_num(t) else 0.0
