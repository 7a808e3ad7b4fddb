"""Training-side name for the dataset readers, which live in the core as :mod:`crossglg.datasets`.

The readers are numpy-only and shared with the edge (skeleton replay), so they sit below both
``train`` and ``edge``; this module keeps ``from train.datasets import ...`` working.
"""

from crossglg.datasets import (
    CACHE_ENV,
    CLASS_NAMES,
    DATASETS,
    DEFAULT_SUBDIRS,
    FPS,
    NTU60_CLASSES,
    NTU120_CLASSES,
    SPECS,
    FormatError,
    NtuSkeleton,
    Sample,
    SkeletonCache,
    Skipped,
    class_name,
    default_cache_dir,
    parse_ntu_name,
    read_ctrgcn_npz,
    read_gtu_txt,
    read_irds_csv,
    read_ntu_skeleton,
    read_ntu_skeleton_full,
    read_nwucla_json,
    read_pyskl_pickle,
    read_utd_mat,
    scan_dataset,
    scan_many,
)

__all__ = [
    "CACHE_ENV", "CLASS_NAMES", "DATASETS", "DEFAULT_SUBDIRS", "FPS", "NTU60_CLASSES", "NTU120_CLASSES", "SPECS",
    "FormatError", "NtuSkeleton", "Sample", "SkeletonCache", "Skipped", "class_name", "default_cache_dir",
    "parse_ntu_name", "read_ctrgcn_npz", "read_gtu_txt", "read_irds_csv", "read_ntu_skeleton",
    "read_ntu_skeleton_full", "read_nwucla_json", "read_pyskl_pickle", "read_utd_mat", "scan_dataset", "scan_many",
]  # fmt: skip
