"""A quiet, readable console: our own one-line messages reach the user, library chatter does not.

MediaPipe / LiteRT / TFLite write dozens of ``INFO: [accelerator_registry.cc...]``, ``WARNING:
[model_load.cc:402] Sparsity tensors...`` and ``W0000 ...`` lines straight to file descriptor 2
from native code while a model loads and runs its first inference; LiteRT ignores the GLOG/TF
environment variables. So:

- :func:`configure` (once, from the CLI): unless verbose, set those variables anyway (older
  builds honour them), hide Python warnings and third-party Python loggers below ERROR. Our own
  loggers (``edge.*``, ``crossglg.*``) keep WARNING. Verbose: everything at INFO.
- :func:`native_quiet`: a context manager that points fd 2 at ``/dev/null`` for its duration
  (``dup2``) and restores it afterwards. Meanwhile Python's ``sys.stderr`` writes to a duplicate
  of the real stderr, so our own messages from any thread still show. Re-entrant and
  thread-safe (a counter: the first entry redirects, the last exit restores). A no-op when
  verbose.

Wrap native model loading, the first inferences and the model's teardown in it (``edge.pose``),
and a terminal UI that draws on its own descriptor (``edge.commands.run``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

OWN_LOGGERS = ("edge", "crossglg", "train", "calib")
# OPENCV_FFMPEG_LOGLEVEL -8 (AV_LOG_QUIET): FFmpeg's own "[h264 @ 0x...] error while decoding MB"
# lines for a cut video; edge.video says it in one line of ours instead
_NATIVE_ENV = (("OPENCV_LOG_LEVEL", "OFF"), ("OPENCV_FFMPEG_LOGLEVEL", "-8"), ("GLOG_minloglevel", "2"),
               ("TF_CPP_MIN_LOG_LEVEL", "2"))

_lock = threading.Lock()
_state = {"verbose": False, "depth": 0}
_saved_fd: int | None = None
_saved_stream: TextIO | None = None  # sys.stderr as it was
_own_stream: TextIO | None = None  # the duplicate we installed as sys.stderr


def verbose() -> bool:
    return bool(_state["verbose"])


def configure(verbose: bool = False) -> None:
    """Quiet (default) or verbose console for this process; call before libraries load."""
    _state["verbose"] = verbose
    root = logging.getLogger()
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(levelname)s: %(message)s")
        root.setLevel(logging.INFO)
        return
    for key, value in _NATIVE_ENV:
        os.environ.setdefault(key, value)
    # numpy's floating-point RuntimeWarnings (handled where they matter) and library deprecations go;
    # our own UserWarnings (an insecure endpoint, a readable key file) stay
    warnings.simplefilter("ignore")
    warnings.filterwarnings("default", category=UserWarning, module=r"^(edge|crossglg|train|calib)(\.|$)")
    if not root.handlers:
        handler = logging.StreamHandler()  # resolves sys.stderr at each write: follows native_quiet's swap
        handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.ERROR)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def native_quiet() -> Iterator[None]:
    """Native writes to fd 2 go to /dev/null inside; Python's sys.stderr still reaches the user."""
    if _state["verbose"]:
        yield
        return
    entered = _enter()
    try:
        yield
    finally:
        if entered:
            _exit()


def _enter() -> bool:
    global _saved_fd, _saved_stream, _own_stream
    with _lock:
        if _state["depth"]:
            _state["depth"] += 1
            return True
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
            saved = os.dup(2)
            null = os.open(os.devnull, os.O_WRONLY)
        except (OSError, ValueError):  # no fd 2 (a daemon without stderr): nothing to protect
            return False
        os.dup2(null, 2)
        os.close(null)
        _saved_fd = saved
        _saved_stream = sys.stderr
        if _writes_to_fd2(sys.stderr):
            # our own messages (any thread) keep going to the real stderr while fd 2 is silenced
            _own_stream = open(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
            sys.stderr = _own_stream
        _state["depth"] = 1
        return True


def _exit() -> None:
    global _saved_fd, _saved_stream, _own_stream
    with _lock:
        _state["depth"] -= 1
        if _state["depth"] or _saved_fd is None:
            return
        if _own_stream is not None:
            _own_stream.flush()
            if sys.stderr is _own_stream:
                sys.stderr = _saved_stream
            _own_stream.close()
        os.dup2(_saved_fd, 2)
        os.close(_saved_fd)
        _saved_fd, _saved_stream, _own_stream = None, None, None


def _writes_to_fd2(stream: object) -> bool:
    try:
        return stream is not None and stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False  # e.g. Textual's print capture while the UI runs
