"""What `crossglg-train export` adds so the edge matches like training-time evaluation does.

From a checkpoint's ``base_stats`` (final checkpoints only):

- the embedding centre ``(D,)`` (base classes' mean embedding) -> ONNX metadata
  ``crossglg.embedding_center`` (see :mod:`crossglg.model_meta`); taken from the payload's exact
  ``center`` when the trainer stored one, else estimated from the Tukey-space statistics
  (:func:`crossglg.oneshot.center_from_stats`);
- the per-class statistics -> the sidecar ``<model>.onnx.basestats.npz`` (:mod:`crossglg.basestats`)
  that the edge's distribution calibration reads.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from crossglg.basestats import basestats_path, write_base_stats
from crossglg.model_meta import CENTER_KEY, encode_center, read_onnx_metadata
from crossglg.oneshot import BaseStats, center_from_stats

log = logging.getLogger(__name__)


def checkpoint_base_stats(ckpt: dict) -> tuple[BaseStats | None, np.ndarray | None, list[str]]:
    """``(stats, centre (D,), base class names)`` of a checkpoint; ``(None, None, [])`` without statistics."""
    s = ckpt.get("base_stats")
    if not s:
        return None, None, []
    stats = BaseStats(s["means"].numpy(), s["covs"].numpy(), float(s["beta"]))
    center = s["center"].numpy().astype(np.float32) if s.get("center") is not None else center_from_stats(stats)
    return stats, center, [str(c) for c in s.get("classes", [])]


def center_metadata(ckpt: dict) -> dict[str, str]:
    """``{"embedding_center": JSON}`` for the ONNX metadata, or ``{}`` when the checkpoint has no statistics."""
    _, center, _ = checkpoint_base_stats(ckpt)
    return {} if center is None else {CENTER_KEY: encode_center(center)}


def write_export_sidecar(onnx_path: str | Path, ckpt: dict) -> Path | None:
    """Write ``<onnx>.basestats.npz`` for an exported checkpoint (fingerprint read from the ONNX).

    Without statistics (an intermediate checkpoint) a stale sidecar from an earlier export is
    removed and None returned: the edge then matches by (uncentred) cosine only.
    """
    stats, center, classes = checkpoint_base_stats(ckpt)
    side = basestats_path(onnx_path)
    if stats is None or center is None:
        side.unlink(missing_ok=True)
        log.warning("%s: checkpoint has no base statistics (not a final checkpoint?): exported without "
                    "embedding centre and distribution-calibration sidecar", onnx_path)
        return None
    fingerprint = read_onnx_metadata(onnx_path).get("fingerprint", "")
    return write_base_stats(side, stats, center, fingerprint, classes if len(classes) == len(stats.means) else ())
