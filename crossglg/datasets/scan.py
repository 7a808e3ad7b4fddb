"""Dataset scanners: a folder of raw files -> ``(list[Sample], list[Skipped])``.

``scan_dataset(name, root)`` finds the dataset's files under ``root`` (recursively), parses labels,
subjects and other fields from the file names, reads every file (through the disk cache, see
:mod:`crossglg.datasets.cache`) and returns the samples sorted by name. A file that cannot be used
(malformed content, unexpected name) becomes a :class:`Skipped` entry with the reason; the scan
goes on. ``lazy=True`` only parses names: arrays are read on ``Sample.load()`` (errors surface
there), for datasets too big to hold in memory (full NTU RGB+D 120).

Names and roots (``root`` is the dataset's folder, e.g. ``../shared/data/utd_mhad``):

=========== ====================================== ========================================
name        files                                   sample name / label / subject
=========== ====================================== ========================================
ntu         ``SsssCcccPpppRrrrAaaa.skeleton``       stem / A-1 / P
utd_mhad    ``a{A}_s{S}_t{T}_skeleton.mat``         ``a1_s1_t1`` / A-1 / S
nw_ucla     ``a{AA}_s{SS}_e{EE}_v{VV}.json``        stem / index of AA in a01..a06,a08,a09,a11,a12 / SS
gtu3d       ``<class 1..14>/movementN.txt``         ``<class>/movementN`` / class-1 / None
irds        ``Sub_Date_Gesture_Rep_Correct_Pos.csv`` stem / Gesture / Sub
kinder_gator ``{Adults,Children}/POSE-pPID_NN-Motion-TS.csv`` stem / index of Motion in KINDER_GATOR_MOTIONS / PID
kard        ``aAA_sSS_eEE_realworld.txt``           ``aAA_sSS_eEE`` / AA-1 / SS
florence    ``aAA_sS_idN.txt``                      stem / AA-1 / S
sbu         ``sAAsBB/CC/NNN/skeleton_pos.txt``      ``sAAsBB/CC/NNN`` / CC-1 / pair 100*min+max (M = 2)
msrc12      ``PA_B_C[A]_pNN.csv`` + ``.tagstream``  ``<stem>#<k>`` per tag (one clip each) / G-1 / NN
=========== ====================================== ========================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from crossglg.skeleton.layouts import NTU25

from .cache import SkeletonCache
from .classes import CLASS_NAMES, FPS, KINDER_GATOR_GROUPS, KINDER_GATOR_MOTIONS, NW_UCLA_ACTION_CODES
from .kinder_gator import read_kinder_gator_csv
from .msrc12 import msrc12_name, msrc12_samples, read_msrc12_csv
from .ntu import parse_ntu_name, read_ntu_skeleton
from .readers import read_gtu_txt, read_irds_csv, read_nwucla_json, read_utd_mat
from .readers_openni import read_florence_txt, read_kard_txt
from .sample import FormatError, Sample, Skipped
from .sbu import read_sbu_txt, sbu_name

NameInfo = tuple[str, int, "int | None", dict]  # sample name, label, subject, meta


ClipInfo = tuple[str, int, "int | None", dict, slice]  # NameInfo of one sample + its frames in the file


@dataclass(frozen=True)
class DatasetSpec:
    """How to find, name and read one dataset's files. ``version`` keys the cache: bump it when
    the reader's output changes.

    ``clips`` is for files holding several samples (MSRC-12's long recordings): given the file and
    its :data:`NameInfo`, it returns one :data:`ClipInfo` per sample. The file is read (and cached)
    once as a whole; each sample is its ``frames`` slice with empty frames trimmed at both ends.
    """

    pattern: str
    parse_name: Callable[[Path, Path], NameInfo]
    read: Callable[[Path], np.ndarray]
    version: str
    clips: Callable[[Path, NameInfo], list[ClipInfo]] | None = None


def _ntu_name(path: Path, root: Path) -> NameInfo:
    info = parse_ntu_name(path.stem)
    if info is None:
        raise ValueError("expected a name like S001C001P001R001A001.skeleton")
    return path.stem, info["action"] - 1, info["performer"], info


# ASCII digits of bounded length: int() never sees 5,000 digits or another script's digits
_UTD = re.compile(r"a([0-9]{1,9})_s([0-9]{1,9})_t([0-9]{1,9})_skeleton")
_UCLA = re.compile(r"a([0-9]{2})_s([0-9]{2})_e([0-9]{2})_v([0-9]{2})")
_IRDS = re.compile(r"([0-9]{1,9})_([0-9]{1,9})_([0-9]{1,9})_([0-9]{1,9})_([0-9]{1,9})_([A-Za-z]+)")
_GTU = re.compile(r"movement([0-9]{1,9})")


def _match(pattern: re.Pattern[str], stem: str, expected: str) -> tuple[str, ...]:
    """The groups of ``pattern`` matching the whole ``stem``; else ``ValueError("expected " + expected)``."""
    m = pattern.fullmatch(stem)
    if m is None:
        raise ValueError(f"expected {expected}")
    return m.groups()


def _utd_name(path: Path, root: Path) -> NameInfo:
    a, s, t = map(int, _match(_UTD, path.stem, "a name like a1_s1_t1_skeleton.mat"))
    return f"a{a}_s{s}_t{t}", a - 1, s, {"action": a, "trial": t}


def _ucla_name(path: Path, root: Path) -> NameInfo:
    a, s, e, v = map(int, _match(_UCLA, path.stem, "a name like a01_s01_e00_v01.json"))
    if a not in NW_UCLA_ACTION_CODES:
        raise ValueError(f"action a{a:02d} is not one of NW-UCLA's {NW_UCLA_ACTION_CODES}")
    return path.stem, NW_UCLA_ACTION_CODES.index(a), s, {"action": a, "environment": e, "view": v}


def _gtu_name(path: Path, root: Path) -> NameInfo:
    m = _GTU.fullmatch(path.stem)
    folder = path.parent.name
    if not m or not re.fullmatch(r"[0-9]{1,9}", folder):
        raise ValueError("expected <class folder 1..14>/movementN.txt")
    return f"{folder}/{path.stem}", int(folder) - 1, None, {"movement": int(m.group(1))}


def _irds_name(path: Path, root: Path) -> NameInfo:
    fields = _match(_IRDS, path.stem, "SubjectID_DateID_Gesture_Repetition_Correct_Position.csv")
    sub, date, gesture, rep, correct = map(int, fields[:5])
    meta = {"date": date, "repetition": rep, "correct": correct, "position": fields[5]}
    return path.stem, gesture, sub, meta


_KINDER_GATOR = re.compile(r"POSE-p([0-9]{1,9})_([0-9]{1,9})-(.+)-([0-9]{1,18})")  # ms timestamp: 13 digits
_KARD = re.compile(r"a([0-9]{2})_s([0-9]{2})_e([0-9]{2})_realworld")
_FLORENCE = re.compile(r"a([0-9]{2})_s([0-9]{1,9})_id([0-9]{1,9})")


def _kinder_gator_name(path: Path, root: Path) -> NameInfo:
    pid, order, motion, stamp = _match(_KINDER_GATOR, path.stem, "POSE-pPID_NN-Motion-Name-TIMESTAMP.csv")
    if motion not in KINDER_GATOR_MOTIONS:
        raise ValueError(f"unknown motion {motion!r} (not one of the 58 in KINDER_GATOR_MOTIONS)")
    group = next((KINDER_GATOR_GROUPS[p] for p in path.relative_to(root).parts[:-1] if p in KINDER_GATOR_GROUPS), None)
    if group is None:
        raise ValueError(f"expected the file under one of the folders {sorted(KINDER_GATOR_GROUPS)}")
    meta = {"group": group, "order": int(order), "timestamp": int(stamp)}
    return path.stem, KINDER_GATOR_MOTIONS.index(motion), int(pid), meta


def _kard_name(path: Path, root: Path) -> NameInfo:
    a, s, e = map(int, _match(_KARD, path.stem, "a name like a01_s01_e01_realworld.txt"))
    return f"a{a:02d}_s{s:02d}_e{e:02d}", a - 1, s, {"action": a, "repetition": e}


def _florence_name(path: Path, root: Path) -> NameInfo:
    a, s, i = map(int, _match(_FLORENCE, path.stem, "a name like a01_s1_id1.txt"))
    return path.stem, a - 1, s, {"action": a, "id": i}


def _mirrored(read: Callable[[Path], np.ndarray]) -> Callable[[Path], np.ndarray]:
    """Wrap a reader so its output is mirrored: x negated and left/right joints swapped.

    GTU 3D and IRDS name their classes by the side that moves as seen from the camera: in "elbow
    flexion left" the joints Kinect labels *right* move (measured with tools/kgt_vs_motion.py:
    0/8 IRDS and 0/5 GTU one-sided classes move on the named side as recorded, 8/8 and 5/5
    mirrored). Mirroring the whole body keeps the geometry consistent (the left shoulder still has
    the smaller x) and makes the moving side agree with the class name and its description.
    """

    def mirrored(path: Path) -> np.ndarray:
        seq = read(path)
        out = seq[..., NTU25.mirror_permutation(), :].copy()
        out[..., 0] *= -1.0
        return out

    return mirrored


SPECS: dict[str, DatasetSpec] = {
    "ntu": DatasetSpec("*.skeleton", _ntu_name, read_ntu_skeleton, "ntu-skeleton/1;M=2"),
    "utd_mhad": DatasetSpec("*_skeleton.mat", _utd_name, read_utd_mat, "utd-mat/1"),
    "nw_ucla": DatasetSpec("*.json", _ucla_name, read_nwucla_json, "nwucla-json/1"),
    "gtu3d": DatasetSpec("movement*.txt", _gtu_name, _mirrored(read_gtu_txt), "gtu-txt/1;mirrored"),
    "irds": DatasetSpec("*.csv", _irds_name, _mirrored(read_irds_csv), "irds-csv/1;mirrored"),
    "kinder_gator": DatasetSpec("POSE-*.csv", _kinder_gator_name, read_kinder_gator_csv, "kinder-gator-csv/1"),
    "kard": DatasetSpec("*_realworld.txt", _kard_name, read_kard_txt, "kard-txt/1;x-negated"),
    "florence": DatasetSpec("a*_s*_id*.txt", _florence_name, read_florence_txt, "florence-txt/1"),
    "sbu": DatasetSpec("skeleton_pos.txt", sbu_name, read_sbu_txt, "sbu-txt/1;mm;M=2"),
    "msrc12": DatasetSpec("P*_p*.csv", msrc12_name, read_msrc12_csv, "msrc12-csv/1", clips=msrc12_samples),
}


def scan_dataset(
    name: str,
    root: str | Path,
    *,
    cache: SkeletonCache | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    lazy: bool = False,
) -> tuple[list[Sample], list[Skipped]]:
    """Scan ``root`` for dataset ``name`` (a key of :data:`SPECS`); see the module docstring.

    Pass ``cache`` to share one :class:`SkeletonCache` (and its hit counts) across scans, or
    ``cache_dir`` for its location; ``use_cache=False`` parses everything and writes nothing.
    Raises ``ValueError`` for an unknown name and ``FileNotFoundError`` for a missing root.
    """
    spec = SPECS.get(name)
    if spec is None:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(SPECS)}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: dataset folder {root} does not exist")
    cache = cache or SkeletonCache(cache_dir, enabled=use_cache)
    n_classes = len(CLASS_NAMES[name])
    samples: list[Sample] = []
    skipped: list[Skipped] = []
    for path in sorted(root.rglob(spec.pattern)):
        if not path.is_file():
            continue
        try:
            sample_name, label, subject, meta = spec.parse_name(path, root)
            if not 0 <= label < n_classes:
                raise ValueError(f"label {label} outside 0..{n_classes - 1}")
        except ValueError as exc:
            skipped.append(Skipped(str(path), f"{path}: unexpected file name: {exc}"))
            continue
        load = partial(cache.load, path, spec.version, spec.read)
        try:
            parts: list[ClipInfo] = (
                [(sample_name, label, subject, meta, slice(None))] if spec.clips is None
                else spec.clips(path, (sample_name, label, subject, meta))
            )  # fmt: skip
            whole = None if lazy else load()
        except FormatError as exc:
            skipped.append(Skipped(str(path), str(exc)))
            continue
        except OSError as exc:
            skipped.append(Skipped(str(path), f"{path}: cannot read: {exc}"))
            continue
        for part_name, part_label, part_subject, part_meta, frames in parts:
            source: np.ndarray | Callable[[], np.ndarray]
            if whole is None:
                source = load if spec.clips is None else partial(_load_clip, load, frames)
            else:
                source = whole if spec.clips is None else _trimmed(whole[frames])
                if not np.isfinite(source).any():
                    what = "no valid joint in any frame" if spec.clips is None else f"{part_name}: no valid joint in its frames"
                    skipped.append(Skipped(str(path), str(FormatError(path, what))))
                    continue
            samples.append(
                Sample(name=part_name, dataset=name, label=part_label, subject=part_subject, fps=FPS[name],
                       path=str(path), source=source, meta=part_meta)  # fmt: skip
            )
    samples.sort(key=lambda s: s.name)
    return samples, skipped


def _trimmed(seq: np.ndarray) -> np.ndarray:
    """``(T, M, 25, 3)`` without the empty (all-NaN) frames at either end."""
    valid = np.flatnonzero(np.isfinite(seq).any(axis=(1, 2, 3)))
    return seq[valid[0] : valid[-1] + 1] if valid.size else seq[:0]


def _load_clip(load: Callable[[], np.ndarray], frames: slice) -> np.ndarray:
    """Lazy clip: the whole file through ``load`` (the cache), then :func:`_trimmed` ``[frames]``."""
    return _trimmed(load()[frames])


# Default sub-folders of a data root laid out like ../shared/data (tests, benchmarks, the CLI's --data-root).
DEFAULT_SUBDIRS: dict[str, str] = {
    "ntu": "ntu_sample",
    "utd_mhad": "utd_mhad",
    "nw_ucla": "nw_ucla",
    "gtu3d": "gtu3d",
    "irds": "irds",
    "kinder_gator": "kinder_gator",
    "kard": "kard",
    "florence": "florence",
    "sbu": "sbu",
    "msrc12": "msrc12",
}


def scan_many(
    roots: Mapping[str, str | Path], *, cache: SkeletonCache | None = None, **kwargs
) -> tuple[dict[str, list[Sample]], list[Skipped]]:
    """Scan several datasets: ``{name: root}`` -> ``({name: samples}, all skipped)``."""
    cache = cache or SkeletonCache(kwargs.pop("cache_dir", None), enabled=kwargs.pop("use_cache", True))
    out: dict[str, list[Sample]] = {}
    skipped: list[Skipped] = []
    for name, root in roots.items():
        out[name], skip = scan_dataset(name, root, cache=cache, **kwargs)
        skipped += skip
    return out, skipped
