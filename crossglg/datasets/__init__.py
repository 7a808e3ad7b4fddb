"""Dataset readers and scanners (numpy only; scipy lazily for UTD ``.mat``; never torch).

Core, not training code: the edge replays recordings through the same parsers (``edge.skeleton_files``)
and ``train.datasets`` re-exports this package for the training side.

Contract: every skeleton is ``float32`` ``(T, M, 25, 3)``, metres, NTU-25 order, camera frame with
y up, missing joints NaN (see ``crossglg.preprocess`` for what the model sees).

Main entry points:

- :func:`scan_dataset` ``(name, root) -> (list[Sample], list[Skipped])`` for ``ntu``, ``utd_mhad``,
  ``nw_ucla``, ``gtu3d``, ``irds``, ``kinder_gator``, ``kard``, ``florence``, ``sbu`` (two people,
  M = 2), ``msrc12`` (one sample per tagged instance of a long recording); :func:`scan_many` for
  several; cached on disk (:class:`SkeletonCache`, ``$CROSSGLG_CACHE``).
- :class:`Sample` (``name``, ``dataset``, ``label`` 0-based, ``subject``, ``fps``, ``path``, ``meta``,
  ``frames``; ``load()`` -> array; ``key`` -> ``(dataset, label)``).
- Per-format readers: :func:`read_ntu_skeleton` / :func:`read_ntu_skeleton_full` (with colour and
  depth pixel coordinates and tracking states), :func:`read_utd_mat`, :func:`read_nwucla_json`,
  :func:`read_gtu_txt`, :func:`read_irds_csv`, :func:`read_kinder_gator_csv`, :func:`read_kard_txt`,
  :func:`read_florence_txt`, :func:`read_sbu_txt`, :func:`read_msrc12_csv` (a whole recording; its clips
  come from :func:`msrc12_clips`), and for preprocessed NTU :func:`read_pyskl_pickle`
  (trusted files only) and :func:`read_ctrgcn_npz`.
- Class names: :data:`CLASS_NAMES` per dataset, :func:`class_name`.
"""

from .cache import CACHE_ENV, SkeletonCache, default_cache_dir
from .classes import CLASS_NAMES, DATASETS, FPS, NTU60_CLASSES, NTU120_CLASSES, class_name
from .kinder_gator import kinder_gator_timestamps, read_kinder_gator_csv
from .msrc12 import msrc12_clips, read_msrc12_csv, read_tagstream
from .ntu import (
    NtuSkeleton,
    parse_ntu_name,
    read_ctrgcn_npz,
    read_ntu_skeleton,
    read_ntu_skeleton_full,
    read_pyskl_pickle,
)
from .readers import read_gtu_txt, read_irds_csv, read_nwucla_json, read_utd_mat
from .readers_openni import read_florence_txt, read_kard_txt
from .sample import FormatError, Sample, Skipped
from .sbu import read_sbu_txt
from .scan import DEFAULT_SUBDIRS, SPECS, scan_dataset, scan_many

__all__ = [
    "CACHE_ENV", "CLASS_NAMES", "DATASETS", "DEFAULT_SUBDIRS", "FPS", "NTU60_CLASSES", "NTU120_CLASSES", "SPECS",
    "FormatError", "NtuSkeleton", "Sample", "SkeletonCache", "Skipped", "class_name", "default_cache_dir",
    "parse_ntu_name", "read_ctrgcn_npz", "read_gtu_txt", "read_irds_csv", "read_ntu_skeleton",
    "read_ntu_skeleton_full", "read_nwucla_json", "read_pyskl_pickle", "read_utd_mat", "scan_dataset", "scan_many",
    "kinder_gator_timestamps", "read_florence_txt", "read_kard_txt", "read_kinder_gator_csv",
    "msrc12_clips", "read_msrc12_csv", "read_sbu_txt", "read_tagstream",
]  # fmt: skip
