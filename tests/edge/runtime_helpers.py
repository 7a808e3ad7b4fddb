"""Helpers for the runtime tests (pipeline, control channel, CLI): real data, real sockets."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from edge.client import Subscription
from edge.enrollment import enroll_recording
from edge.publisher import Publisher
from edge.skeleton_files import load_skeleton_file
from edge.store import SupportStore

FPS = 30.0
HOLD = 30  # frames the person stands still before and after each clip (a live stream has no cuts)
GAP = 75  # empty frames between clips: longer than the window's track timeout (2 s)


def utd(data_dir: Path, action: int, subject: int, trial: int = 1) -> Path:
    return data_dir / "utd_mhad" / "Skeleton" / f"a{action}_s{subject}_t{trial}_skeleton.mat"


def sync(pub: Publisher, sub: Subscription, tries: int = 200) -> None:
    """Wait out ZeroMQ's slow-joiner window (heartbeat until heard), then drop what was heard."""
    for _ in range(tries):
        pub.heartbeat()
        if sub.recv(timeout=0.025) is not None:
            time.sleep(0.05)
            sub.drain()
            return
    raise AssertionError("subscriber never connected")


def collect(sub: Subscription, quiet_s: float = 0.5) -> list:
    """Every message until ``quiet_s`` seconds pass without one."""
    out = []
    while (msg := sub.recv(timeout=quiet_s)) is not None:
        out.append(msg)
    return out


def store_bytes(root: Path) -> dict[str, bytes]:
    """Every file under a support store: relative path -> content (to show a run changed nothing)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def enroll_file(store: SupportStore, engine, path: Path, label: str) -> str:
    """Enroll a recorded demonstration exactly as `crossglg-edge enroll --skeleton` does."""
    return enroll_recording(store, engine, path, label)


def playlist(paths: list[Path], out: Path) -> list[tuple[Path, float, float]]:
    """Concatenate recordings into one ``.npz`` replay ``(T, 1, 25, 3)`` like a live stream: each clip
    held still for 1 s before and after, clips separated by empty frames. Returns each clip's
    ``(path, t_start, t_end)`` in replay seconds."""
    parts, spans, t = [], [], 0
    for p in paths:
        j = load_skeleton_file(p).joints[:, :1]
        seq = np.concatenate([np.repeat(j[:1], HOLD, 0), j, np.repeat(j[-1:], HOLD, 0)])
        spans.append((p, t / FPS, (t + len(seq)) / FPS))
        parts += [seq, np.full((GAP, 1, 25, 3), np.nan, np.float32)]
        t += len(seq) + GAP
    np.savez(out, joints=np.concatenate(parts).astype(np.float32), fps=np.float64(FPS))
    return spans
