"""Signals for the command line: SIGTERM as an interruption, and writes no signal can cut in half.

- :func:`terminate_as_interrupt` (the CLI, once): SIGTERM raises ``KeyboardInterrupt`` like Ctrl-C,
  so `enroll`, `actions` and `listen` end with their one ``interrupted`` line and exit 130 instead
  of dying silently with 143 (`run` installs its own handler: SIGTERM stops the pipeline, exit 0).
- :func:`deferred_interrupts`: around a support-store write (``edge.store``). A SIGINT/SIGTERM
  arriving inside is noted, not acted on; when the block ends (the write committed or was undone)
  the previous handler gets it. Without this, the ``KeyboardInterrupt`` could land between the
  manifest's rename and the bookkeeping after it, and the store's clean-up would delete files the
  new manifest already names. Only the main thread receives Python signal handlers, so the
  pipeline's inference thread needs nothing; there this is a no-op.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_DEFERRED = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def terminate_as_interrupt() -> None:
    """SIGTERM raises ``KeyboardInterrupt`` in the main thread (call from the main thread)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """SIGINT/SIGTERM received inside take effect when the block has ended (see the module doc)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    previous = {s: signal.getsignal(s) for s in _DEFERRED}
    for s, handler in previous.items():
        if handler is not None and handler != signal.SIG_IGN:  # None: installed outside Python, leave it
            signal.signal(s, lambda signum, _frame: noted.append(signum))
    try:
        yield
    finally:
        for s, handler in previous.items():
            if handler is not None and handler != signal.SIG_IGN:
                signal.signal(s, handler)
        for signum in dict.fromkeys(noted):  # each signal once, in arrival order
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, None)  # e.g. KeyboardInterrupt now, after the write
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)  # what would have happened, only later
