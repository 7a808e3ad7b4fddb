"""The base-statistics sidecar of an exported model: ``<model>.onnx.basestats.npz`` (numpy only).

Distribution calibration on the edge needs the base classes' statistics, which are far too big for
ONNX metadata_props (``(B, D, D)`` floats). ``crossglg-train export`` writes them next to the model
with :func:`write_base_stats`; the edge finds them with :func:`basestats_path` and reads the arrays
with :func:`edge.calibration.load_base_stats` and the rest with :func:`read_base_stats_info`.

Arrays (``np.savez``, loadable with ``allow_pickle=False``):

==============  ==========================================================================
``format``      0-d string ``crossglg-basestats/1``
``means``       ``(B, D)`` float32, per-base-class mean of Tukey-transformed embeddings
``covs``        ``(B, D, D)`` float32, their covariances
``beta``        0-d float64, the Tukey exponent
``center``      ``(D,)`` float32, raw-space mean embedding (also in the ONNX metadata)
``classes``     ``(B,)`` strings, base-class names (order of ``means``)
``fingerprint`` 0-d string, weights fingerprint of the model the statistics belong to
==============  ==========================================================================
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .oneshot import BaseStats

FORMAT = "crossglg-basestats/1"
SUFFIX = ".basestats.npz"


def basestats_path(model_path: str | os.PathLike[str]) -> Path:
    """``model.onnx`` -> ``model.onnx.basestats.npz`` (likewise for ``.engine`` / ``.plan``)."""
    p = Path(model_path)
    return p.with_name(p.name + SUFFIX)


def write_base_stats(
    path: str | os.PathLike[str],
    stats: BaseStats,
    center: np.ndarray,
    fingerprint: str,
    classes: list[str] | tuple[str, ...] = (),
) -> Path:
    """Write the sidecar atomically (temp file in the same folder + ``os.replace``); returns ``path``."""
    out = Path(path)
    d = stats.means.shape[1]
    c = np.asarray(center, dtype=np.float32)
    if c.shape != (d,):
        raise ValueError(f"base statistics sidecar: centre has shape {c.shape}, expected ({d},)")
    if classes and len(classes) != stats.means.shape[0]:
        raise ValueError(f"base statistics sidecar: {len(classes)} class names for {stats.means.shape[0]} classes")
    with atomic_path(out) as tmp, open(tmp, "wb") as f:  # a file object: np.savez appends no ".npz"
        np.savez(f, format=np.array(FORMAT), means=stats.means.astype(np.float32),
                 covs=stats.covs.astype(np.float32), beta=np.float64(stats.beta), center=c,
                 classes=np.array([str(x) for x in classes], dtype=str), fingerprint=np.array(fingerprint))
    return out


@dataclass(frozen=True)
class BaseStatsInfo:
    """What a sidecar says besides the statistics: ``center`` ``(D,)`` or None, ``fingerprint``, ``classes``."""

    fingerprint: str
    center: np.ndarray | None
    classes: tuple[str, ...]


def read_base_stats_info(path: str | os.PathLike[str]) -> BaseStatsInfo:
    """Read the non-statistics fields (``allow_pickle=False``); ValueError for a foreign file."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            fields = {k: z[k] for k in ("format", "center", "fingerprint", "classes") if k in z.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:  # ValueError: pickled / not an npz
        raise ValueError(f"{p}: not a readable base statistics file ({exc})") from exc
    fmt = str(fields.get("format", ""))
    if fmt != FORMAT:
        raise ValueError(f"{p}: format must be {FORMAT!r}, got {fmt!r}")
    center = np.asarray(fields["center"], dtype=np.float32) if "center" in fields else None
    classes = tuple(str(x) for x in fields["classes"]) if "classes" in fields else ()
    return BaseStatsInfo(fingerprint=str(fields.get("fingerprint", "")), center=center, classes=classes)
