"""Exceptions the edge runtime raises for problems a user can fix (bad device, file, model)."""

from __future__ import annotations


class EdgeError(RuntimeError):
    """Base class: a user-facing edge failure with a message saying what to do."""


class SourceError(EdgeError):
    """A source cannot be opened or stopped delivering (no camera, unreadable file, timeout)."""


class ModelNotFoundError(EdgeError, FileNotFoundError):
    """A model file (e.g. the MediaPipe pose landmarker) cannot be found or fails verification."""
