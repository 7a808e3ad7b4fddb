"""Training configuration: frozen dataclasses, YAML loading, dotted CLI overrides, resolved save.

A run is fully described by one :class:`TrainConfig`. It is built from defaults (the paper's recipe),
then a YAML file, then ``--set section.field=value`` overrides, and saved resolved as
``config.yaml`` next to the outputs so a run can be reproduced from its folder alone.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crossglg.atomic import atomic_write

VARIANTS: dict[str, tuple[bool, bool]] = {
    # name -> (global-to-local guidance, local-to-global guidance)
    "baseline": (False, False),
    "g2l": (True, False),
    "l2g": (False, True),
    "crossglg": (True, True),
}


@dataclass(frozen=True)
class DataConfig:
    """What the model sees.

    Attributes:
        protocol: one-shot protocol name (see ``train.protocols``), e.g. ``"realdata"``.
        frames: window length T after preprocessing (the paper: 64).
        max_bodies: bodies M per sample.
        layout: skeleton layout name.
        max_per_class: keep at most this many training samples per class (0 = all); for quick runs.
        num_workers: DataLoader worker processes (0 = in the main process).
        cache_dir: raw-sequence cache ("" = ``<out>/../.cache`` is not used; no cache).
    """

    protocol: str = "realdata"
    frames: int = 64
    max_bodies: int = 1
    layout: str = "ntu25"
    max_per_class: int = 0
    num_workers: int = 0
    cache_dir: str = ""


@dataclass(frozen=True)
class AugmentConfig:
    """InfoGCN's augmentation (random crop of 50-100% of the valid frames, random rotation) plus
    transfer augmentations for other people and sensors, all off (0) by default.

    Units of ``jitter`` / ``bone_jitter``: after preprocessing, coordinates are in torso
    lengths. ``joint_drop``: chance per joint that its trajectory is replaced by its parent's (what a
    sensor without that joint, or a derived joint, looks like). ``mirror``: chance of a left/right mirror;
    a class that names a side becomes its counterpart class (see :func:`train.augment.mirror_label_map`)
    and samples of side-named classes without a counterpart are never mirrored. ``relayout``: chance
    per clip that the joints one sensor family (OpenNI-15, Kinect v1 or MediaPipe, uniformly) derives
    instead of measuring are rebuilt from the clip's other joints with that family's rules
    (:data:`crossglg.skeleton.joint_maps.SENSOR_DERIVES`): every class is then seen with every
    family's derived joints, so a dataset's layout cannot serve as a cue for its classes.
    """

    enabled: bool = True
    crop_min: float = 0.5
    crop_max: float = 1.0
    rotate: float = 0.3  # radians, uniform in [-rotate, rotate] about each axis
    test_crop: float = 0.95  # centre crop at evaluation
    scale: float = 0.0  # per-axis scale uniform in [1 - scale, 1 + scale]
    shear: float = 0.0  # off-diagonal shear entries uniform in [-shear, shear]
    jitter: float = 0.0  # per-frame Gaussian noise (torso lengths)
    bone_jitter: float = 0.0  # per-joint constant offset for the whole clip (torso lengths)
    joint_drop: float = 0.0
    mirror: float = 0.0
    relayout: float = 0.0  # chance per clip of re-deriving one sensor family's derived joints


@dataclass(frozen=True)
class OptimConfig:
    """The paper's recipe: SGD Nesterov, lr 0.05, batch 128, 110 epochs, warm-up, step decay."""

    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    batch_size: int = 128  # global batch (split across DDP ranks)
    epochs: int = 110
    warmup_epochs: int = 5
    milestones: tuple[int, ...] = (90, 100)  # given for `reference_epochs`; scaled to `epochs`
    reference_epochs: int = 110
    gamma: float = 0.1


@dataclass(frozen=True)
class ModelSection:
    """Which model to build.

    Attributes:
        variant: ``baseline`` (InfoGCN), ``g2l``, ``l2g`` or ``crossglg`` (both guidances).
        params: extra keyword arguments for the model package's ``ModelConfig`` (e.g. channel
            widths for tiny test models); validated by that class.
    """

    variant: str = "crossglg"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LossConfig:
    """L = L_s + alpha1 * L_calibrate + alpha2 * L_c (paper: 0.5 and 0.2) + metric * L_metric.

    ``metric``: weight of an additive-margin cosine softmax on the inference embedding mu against the
    shared classifier's rows (0 = off, the paper's loss): it shapes mu for cosine matching, which is
    what one-shot inference does. ``metric_scale`` / ``metric_margin``: its scale s and margin m.
    """

    alpha1: float = 0.5
    alpha2: float = 0.2
    metric: float = 0.0
    metric_scale: float = 16.0
    metric_margin: float = 0.2


@dataclass(frozen=True)
class TextConfig:
    """Frozen text encoder for the guidance (any local path or hub id; default the bundled MiniLM)."""

    encoder: str = "minilm"
    cache_dir: str = ".cache/text"


@dataclass(frozen=True)
class EvalConfig:
    """One-shot evaluation: random exemplar draws and distribution calibration parameters."""

    draws: int = 20
    draw_seed: int = 0
    dc_beta: float = 0.5
    dc_k: int = 2
    dc_alpha: float = 0.21
    dc_samples: int = 750


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run."""

    seed: int = 0
    amp: bool = True  # used on CUDA only
    num_threads: int = 0  # torch intra-op threads on CPU (0 = torch default)
    log_every: int = 10
    eval_every: int = 0  # one-shot eval every N epochs during training (0 = only at the end)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    model: ModelSection = field(default_factory=ModelSection)
    loss: LossConfig = field(default_factory=LossConfig)
    text: TextConfig = field(default_factory=TextConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        if self.model.variant not in VARIANTS:
            raise ValueError(f"model.variant: expected one of {sorted(VARIANTS)}, got {self.model.variant!r}")
        if self.optim.batch_size < 1 or self.optim.epochs < 1:
            raise ValueError("optim.batch_size and optim.epochs must be >= 1")
        if not 0 < self.augment.crop_min <= self.augment.crop_max <= 1:
            raise ValueError("augment: expected 0 < crop_min <= crop_max <= 1")

    @property
    def guidance(self) -> tuple[bool, bool]:
        """(g2l, l2g) switches of the chosen variant."""
        return VARIANTS[self.model.variant]


# --------------------------------------------------------------------------- building from dicts


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Coerce a YAML value to the annotated type ``tp``; ``where`` names the field for errors."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {type(value).__name__}")
        return _build(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _convert(value, args[0], where)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        (item_tp, *_rest) = typing.get_args(tp)
        return tuple(_convert(v, item_tp, where) for v in value)
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:  # keys may be any YAML scalar (1, null, a date): sort their text
        raise ValueError(f"{where}: unknown field(s) {sorted(map(str, unknown))}; expected some of {sorted(names)}")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ValueError as exc:  # __post_init__ range checks name the field, not the file
        raise ValueError(f"{where}: {exc}") from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict (tuples as lists) suitable for YAML, JSON and checkpoints."""

    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in dataclasses.asdict(cfg).items()}


def from_dict(data: Mapping[str, Any], where: str = "config") -> TrainConfig:
    """Build a :class:`TrainConfig` from a nested mapping (missing fields keep their defaults)."""
    return _build(TrainConfig, data, where)


MAX_YAML_NESTING = 50  # PyYAML recurses per level: 3,000 nested brackets take seconds, then RecursionError


def _safe_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses nesting beyond :data:`MAX_YAML_NESTING` (ValueError) up front."""
    depth = deepest = 0
    quote = ""
    for ch in text:  # flow collections outside quotes; block nesting costs a line per level, so stays small
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    if deepest > MAX_YAML_NESTING:
        raise ValueError(f"nested {deepest} levels deep (expected at most {MAX_YAML_NESTING})")
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise ValueError(f"nested too deeply (expected at most {MAX_YAML_NESTING} levels)") from None


def _yaml_error(exc: Exception) -> str:
    """PyYAML's multi-line message as one line: the problem and where (line, column)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    context = getattr(exc, "context", None)
    return " ".join(f"{context + ': ' if context else ''}{problem}{where}".split())


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optim.lr=0.01"`` -> (["optim", "lr"], 0.01); the value is parsed as YAML."""
    if "=" not in text:
        raise ValueError(f"--set {text!r}: expected section.field=value")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ValueError(f"--set {text!r}: empty key")
    try:
        value = _safe_yaml(raw) if raw.strip() else ""
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"--set {text[:80]!r}: value is not valid YAML: {_yaml_error(exc)}") from None
    return parts, value


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict) and k != "params":
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def load_config(path: str | os.PathLike | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """Defaults <- YAML file ``path`` <- ``overrides`` (``section.field=value`` strings)."""
    data: dict[str, Any] = {}
    where = "config"
    if path is not None:
        where = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(f"config file not found: {path}") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected a YAML file") from None
        try:
            loaded = _safe_yaml(text) or {}
        except (yaml.YAMLError, ValueError) as exc:
            raise ValueError(f"{path}: invalid YAML: {_yaml_error(exc)}") from None
        if not isinstance(loaded, Mapping):
            raise ValueError(f"{path}: expected a mapping at the top level")
        data = dict(loaded)
    base = to_dict(TrainConfig())
    merged = _merge(base, data)
    for text in overrides:
        parts, value = parse_override(text)
        node = merged
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ValueError(f"--set {text!r}: {p!r} is not a config section")
            node = node[p]
        if parts[-1] not in node and not (len(parts) >= 2 and parts[-2] == "params"):
            raise ValueError(f"--set {text!r}: unknown field {'.'.join(parts)!r}")
        node[parts[-1]] = value
    return from_dict(merged, where)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`crossglg.atomic.atomic_write`)."""
    atomic_write(path, text)


def save_config(cfg: TrainConfig, path: str | os.PathLike) -> None:
    """Save the resolved config as YAML (atomic)."""
    atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))
