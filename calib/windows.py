"""Model inputs from a real dataset for calibration and for the FP32-vs-INT8 report (numpy only).

- :func:`preprocess_config_for` / :func:`model_input_spec`: what an exported ONNX expects (T, M,
  layout, preprocessing id), read from its ``crossglg.*`` metadata without torch.
- :func:`protocol_split`: a one-shot protocol's samples under ``--data-root`` (lazy: files are
  read only when a window is made).
- :func:`calibration_windows`: ``N`` deterministic windows ``(N, C, T, V, M)`` from the protocol's
  BASE classes (never the novel classes the report evaluates on), made with the evaluation
  transform (centre crop + :func:`crossglg.preprocess.preprocess`), as the edge would see them.
- :class:`WindowReader`: an ``onnxruntime.quantization.CalibrationDataReader`` over such windows.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from crossglg.model_meta import INPUT_NAME, read_onnx_metadata
from crossglg.preprocess import PREPROCESS_VERSION, PreprocessConfig
from crossglg.skeleton.layouts import Layout, get_layout
from train.augment import transform_test
from train.config import AugmentConfig
from train.datasets import DEFAULT_SUBDIRS, FormatError, Sample, scan_many
from train.protocols import Protocol, Split, get_protocol


@dataclass(frozen=True)
class InputSpec:
    """What one exported model takes: preprocessing (T, M, ...) and the skeleton layout."""

    preprocess: PreprocessConfig
    layout: Layout


def _parse_preprocess_id(pid: str, where: str) -> PreprocessConfig:
    """``crossglg-pp/1;frames=64;max_bodies=1;...`` -> :class:`PreprocessConfig` (the inverse of ``.id``)."""
    version, *fields = pid.split(";")
    if version != PREPROCESS_VERSION:
        raise ValueError(f"{where}: preprocessing {version!r} is not supported by this build ({PREPROCESS_VERSION!r})")
    types = {f.name: f.type for f in dataclasses.fields(PreprocessConfig)}
    values: dict[str, object] = {}
    for item in fields:
        key, sep, raw = item.partition("=")
        if not sep or key not in types:
            raise ValueError(f"{where}: preprocess_id field {item!r} is not one of {sorted(types)}")
        kind = str(types[key])
        values[key] = int(raw) if kind == "int" else (raw == "True") if kind == "bool" else raw
    return PreprocessConfig(**values)


def model_input_spec(onnx_path: str | os.PathLike[str]) -> InputSpec:
    """Preprocessing and layout of an exported model, from its metadata (frames/bodies as a
    fallback when ``preprocess_id`` is empty, e.g. a benchmark export)."""
    meta = read_onnx_metadata(onnx_path)
    where = f"{onnx_path}: metadata crossglg.preprocess_id"
    if meta.get("preprocess_id"):
        pcfg = _parse_preprocess_id(meta["preprocess_id"], where)
    else:
        try:
            pcfg = PreprocessConfig(frames=int(meta.get("frames", 64)), max_bodies=int(meta.get("bodies", 1)))
        except ValueError as exc:
            raise ValueError(f"{onnx_path}: metadata frames/bodies are not integers ({exc})") from exc
    return InputSpec(pcfg, get_layout(meta.get("layout", "ntu25")))


def protocol_split(protocol: str | Protocol, data_root: str | os.PathLike[str]) -> Split:
    """Base / exemplar / query samples of ``protocol`` under ``data_root`` (lazy samples).

    ``data_root`` holds one folder per dataset, named as in ``train.datasets.DEFAULT_SUBDIRS``.
    """
    proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
    root = Path(data_root)
    if not root.is_dir():
        raise FileNotFoundError(f"--data-root {root} is not a directory")
    roots = {}
    for d in proto.datasets:
        folder = root / DEFAULT_SUBDIRS.get(d, d)
        if not folder.is_dir():
            raise FileNotFoundError(f"protocol {proto.name}: dataset folder {folder} not found under --data-root {root}")
        roots[d] = folder
    scanned, _skipped = scan_many(roots, lazy=True)
    return proto.split([s for v in scanned.values() for s in v])


def make_window(sample: Sample, spec: InputSpec) -> np.ndarray | None:
    """One evaluation-transform window ``(C, T, V, M)`` float32, or None for an unusable file."""
    try:
        return transform_test(sample.load(), spec.preprocess, AugmentConfig(), spec.layout)
    except (FormatError, ValueError, OSError):
        return None  # a broken or empty recording: the caller draws another sample


def calibration_windows(
    samples: list[Sample], spec: InputSpec, count: int = 256, seed: int = 0, progress: bool = False
) -> np.ndarray:
    """``count`` windows ``(count, C, T, V, M)`` float32 from ``samples`` (base classes).

    Samples are visited in a seeded random order over the name-sorted list (so every dataset of a
    mixed protocol is represented), unusable files skipped; same inputs -> same windows.
    """
    if count < 1:
        raise ValueError(f"calibration windows: count must be >= 1, got {count}")
    if not samples:
        raise ValueError("calibration windows: no samples (is the protocol's base set empty?)")
    from tqdm import tqdm

    ordered = sorted(samples, key=lambda s: (s.dataset, s.name))
    order = np.random.default_rng(seed).permutation(len(ordered))
    out: list[np.ndarray] = []
    with tqdm(total=min(count, len(ordered)), desc="calibration windows", disable=not progress, leave=False) as bar:
        for i in order:
            w = make_window(ordered[i], spec)
            if w is None:
                continue
            out.append(w)
            bar.update(1)
            if len(out) == count:
                break
    if not out:
        raise ValueError("calibration windows: none of the samples could be preprocessed")
    return np.stack(out).astype(np.float32, copy=False)


def labelled_windows(samples: list[Sample], labels: np.ndarray, spec: InputSpec,
                     progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows of every usable sample: ``(x (N, C, T, V, M), labels (N,), kept indices (N,))``."""
    from tqdm import tqdm

    xs, kept = [], []
    for i, s in enumerate(tqdm(samples, desc="windows", disable=not progress, leave=False)):
        w = make_window(s, spec)
        if w is not None:
            xs.append(w)
            kept.append(i)
    if not xs:
        raise ValueError("no sample could be preprocessed")
    idx = np.array(kept)
    return np.stack(xs), np.asarray(labels)[idx], idx


class WindowReader(CalibrationDataReader):
    """Feeds windows ``(N, C, T, V, M)`` to ORT's calibrator in batches of ``batch``.

    ``rewind()`` restarts from the first window (ORT may read a reader more than once).
    """

    def __init__(self, windows: np.ndarray, batch: int = 1, input_name: str = INPUT_NAME,
                 progress: bool = False) -> None:
        if windows.ndim != 5:
            raise ValueError(f"WindowReader: windows must be (N, C, T, V, M), got shape {windows.shape}")
        if batch < 1:
            raise ValueError(f"WindowReader: batch must be >= 1, got {batch}")
        self.windows, self.batch, self.input_name, self.progress = windows, batch, input_name, progress
        self._it: Iterator[dict[str, np.ndarray]] | None = None

    def __len__(self) -> int:
        return -(-len(self.windows) // self.batch)

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        from tqdm import tqdm

        for start in tqdm(range(0, len(self.windows), self.batch), total=len(self), desc="calibrating",
                          disable=not self.progress, leave=False):
            yield {self.input_name: np.ascontiguousarray(self.windows[start : start + self.batch])}

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._it is None:
            self._it = self._batches()
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = None
