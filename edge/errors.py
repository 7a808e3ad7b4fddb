"""Exceptions the edge runtime raises for problems a user can fix (bad device, file, model), and
the exit codes every `crossglg-edge` command uses for them.

Exit codes (the same fault gives the same code in `run`, `enroll` and `actions`):

- ``0``: done (the source ended, ``--max-seconds``, Ctrl-C/SIGTERM in `run`);
- ``1`` (:data:`EXIT_RUNTIME`): a failure while working with good input: a camera that stops
  delivering, a support store that cannot be written (disk full, read-only), inference failing;
- ``2`` (:data:`EXIT_INPUT`): bad usage or input: arguments, a model, video, skeleton file or
  camera that cannot be used, a label the store refuses, a store made by another model;
- ``130``: interrupted (Ctrl-C outside `run`).

An exception's ``exit_code`` attribute says which; exceptions without one are input errors.
"""

from __future__ import annotations

EXIT_RUNTIME = 1
EXIT_INPUT = 2


class EdgeError(RuntimeError):
    """Base class: a user-facing edge failure with a message saying what to do."""

    exit_code = EXIT_INPUT


class SourceError(EdgeError):
    """A source cannot be opened or read (no camera, unreadable or invalid file)."""


class SourceLostError(SourceError):
    """A source that was delivering stopped (camera unplugged, stream gone): a runtime failure."""

    exit_code = EXIT_RUNTIME


class EndpointBusyError(EdgeError, ValueError):
    """An endpoint is already bound by another process (a second runtime on the same port or ipc
    path): a runtime failure, the first runtime is left alone."""

    exit_code = EXIT_RUNTIME


class ModelNotFoundError(EdgeError, FileNotFoundError):
    """A model file (e.g. the MediaPipe pose landmarker) cannot be found or fails verification."""


def exit_code_of(exc: BaseException) -> int:
    """The exit code for ``exc`` (see the module doc)."""
    code = getattr(exc, "exit_code", EXIT_INPUT)
    return code if isinstance(code, int) else EXIT_INPUT
