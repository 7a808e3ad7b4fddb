"""What every reader and scanner hands to training: :class:`Sample`, :class:`Skipped`, :class:`FormatError`.

A sample's skeleton is the project-wide contract: ``float32`` ``(T, M, 25, 3)``, metres, NTU-25
joint order, camera frame with y up, missing joints NaN. ``Sample.load()`` always returns that
array, whether the scan kept it in memory or left a lazy loader.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

Loader = Callable[[], np.ndarray]


class FormatError(ValueError):
    """A malformed input file. The message names the file, the line (when the format has lines)
    and what was expected, e.g. ``gtu3d/1/movement1.txt:17: expected 3 numbers, got 'abc 1 2'``."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, eq=False)
class Sample:
    """One recorded action.

    Attributes:
        name: unique name within the dataset, e.g. ``S001C001P001R001A001``, ``a1_s1_t1``,
            ``a01_s01_e00_v01``, ``1/movement1`` (GTU: folder/file), IRDS file stem.
        dataset: dataset key (see ``crossglg.datasets.classes.DATASETS``).
        label: 0-based class index within the dataset (NTU A001 -> 0, UTD a1 -> 0, NW-UCLA label
            1 -> 0, GTU folder 1 -> 0, IRDS gesture 0 -> 0).
        subject: performer id from the file name (NTU P, UTD s, NW-UCLA s, IRDS SubjectID);
            ``None`` where the dataset has none (GTU).
        fps: frame rate of the recording.
        path: the file it came from ('' for samples out of a packed file, e.g. a CTR-GCN npz).
        meta: other fields parsed from the name (setup, camera, trial, view, ...), read-only.
        frames: T when known (always for eager samples), else ``None``.
        source: the skeleton array ``(T, M, 25, 3)`` or a zero-argument loader returning it.
    """

    name: str
    dataset: str
    label: int
    subject: int | None
    fps: float
    path: str
    source: np.ndarray | Loader = field(repr=False)
    meta: Mapping[str, int | str] = field(default_factory=dict)
    frames: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))
        if isinstance(self.source, np.ndarray) and self.frames is None:
            object.__setattr__(self, "frames", int(self.source.shape[0]))

    @property
    def key(self) -> tuple[str, int]:
        """The class this sample belongs to, as ``(dataset, label)``."""
        return (self.dataset, self.label)

    def load(self) -> np.ndarray:
        """The skeleton ``(T, M, 25, 3)`` float32 (may raise :class:`FormatError` when lazy)."""
        return self.source if isinstance(self.source, np.ndarray) else self.source()


@dataclass(frozen=True)
class Skipped:
    """A file a scan could not use, and why (the :class:`FormatError` message or similar)."""

    path: str
    reason: str
