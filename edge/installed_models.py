"""Encoder models installed inside the package (the shipped starter model), and which one is the default.

The directory is ``edge/starter/`` in the installed package; ``$CROSSGLG_MODELS_DIR`` replaces it
(tests install a model into a temp dir; an empty directory means "nothing installed"). It holds
``models.json`` (written by ``tools/ship_starter.py``) next to the files it names::

    {"format": "crossglg-models/1", "default": "starter",
     "models": [{"name": "starter", "file": "starter.onnx", "sha256": "...", "size": 7275632,
                 "precision": "fp32", "base_stats": "starter.basestats.npz",
                 "base_stats_sha256": "...", "base_stats_size": 2900000, "model_card": "model-card.md",
                 "licence": "research use only ...", "classes": 165, "preprocess_id": "crossglg-pp/1;...",
                 "model_id": "...", "fingerprint": "..."}]}

Every use verifies the size and sha256 of the model and its base statistics (a corrupt or truncated
file is a one-line :class:`InstalledModelError` naming it). ``--model`` accepts a path or the name
of an installed model; without it :func:`resolve_model` takes the default and says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import EdgeError
from .models import sha256_of

ENV_VAR = "CROSSGLG_MODELS_DIR"
REGISTRY = "models.json"
FORMAT = "crossglg-models/1"
PACKAGE_DIR = Path(__file__).resolve().parent / "starter"


class InstalledModelError(EdgeError):
    """No installed model, an unknown name, a malformed registry, or a file failing its sha256."""


def models_dir() -> Path:
    """``$CROSSGLG_MODELS_DIR`` when set, else the package's ``edge/starter``."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else PACKAGE_DIR


@dataclass(frozen=True)
class InstalledFile:
    """One shipped file and what it must be."""

    path: Path
    sha256: str
    size: int

    def problem(self) -> str | None:
        """None when the file is intact, else what is wrong (missing, size, sha256)."""
        if not self.path.is_file():
            return f"{self.path} is missing"
        size = self.path.stat().st_size
        if size != self.size:
            return f"{self.path} has {size} bytes, the registry says {self.size} (truncated or replaced)"
        digest = sha256_of(self.path)
        if digest != self.sha256:
            return f"{self.path} fails its sha256 check ({digest[:12]}... != {self.sha256[:12]}...): the file is corrupt"
        return None


@dataclass(frozen=True)
class InstalledModel:
    """An entry of ``models.json``; ``base_stats`` is None for a model shipped without statistics."""

    name: str
    model: InstalledFile
    base_stats: InstalledFile | None
    precision: str
    classes: int
    preprocess_id: str
    licence: str
    model_card: Path | None
    model_id: str = ""
    is_default: bool = False

    def problem(self) -> str | None:
        """What is wrong with the model's files (first problem), None when all verify."""
        for f in (self.model, self.base_stats):
            if f is not None and (msg := f.problem()):
                return msg
        return None

    def verify(self) -> InstalledModel:
        """Raise :class:`InstalledModelError` unless every file verifies; returns self."""
        if msg := self.problem():
            raise InstalledModelError(f"installed model {self.name!r}: {msg}; reinstall the package "
                                      "(or pass --model MODEL.onnx)")  # fmt: skip
        return self


def _field(entry: dict, key: str, kind: type, where: str, default: object = None) -> object:
    value = entry.get(key, default)
    if value is None and default is None:
        raise InstalledModelError(f"{where}: missing field {key!r}")
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InstalledModelError(f"{where}: field {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _plain_name(value: str, key: str, where: str) -> str:
    if not value or "/" in value or "\\" in value or value in (".", ".."):
        raise InstalledModelError(f"{where}: field {key!r} must be a file name in the models directory, got {value!r}")
    return value


def _entry(entry: object, root: Path, where: str, default: str) -> InstalledModel:
    if not isinstance(entry, dict):
        raise InstalledModelError(f"{where}: expected an object, got {type(entry).__name__}")
    name = str(_field(entry, "name", str, where))
    where = f"{where} ({name})"
    model = InstalledFile(root / _plain_name(str(_field(entry, "file", str, where)), "file", where),
                          str(_field(entry, "sha256", str, where)), int(_field(entry, "size", int, where)))  # fmt: skip
    stats = None
    if entry.get("base_stats"):
        stats = InstalledFile(root / _plain_name(str(_field(entry, "base_stats", str, where)), "base_stats", where),
                              str(_field(entry, "base_stats_sha256", str, where)),
                              int(_field(entry, "base_stats_size", int, where)))  # fmt: skip
    card = entry.get("model_card")
    return InstalledModel(
        name=name, model=model, base_stats=stats, precision=str(_field(entry, "precision", str, where, "fp32")),
        classes=int(_field(entry, "classes", int, where, 0)),
        preprocess_id=str(_field(entry, "preprocess_id", str, where, "")),
        licence=str(_field(entry, "licence", str, where, "")),
        model_card=root / _plain_name(card, "model_card", where) if isinstance(card, str) and card else None,
        model_id=str(_field(entry, "model_id", str, where, "")), is_default=name == default,
    )


def installed_models(root: Path | None = None) -> list[InstalledModel]:
    """The models of ``models.json`` in ``root`` (default :func:`models_dir`); [] without a registry.

    A malformed registry is an :class:`InstalledModelError` naming the file and field (files are
    not hashed here: :meth:`InstalledModel.verify` does that on use).
    """
    root = models_dir() if root is None else Path(root)
    path = root / REGISTRY
    if not path.is_file():
        return []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InstalledModelError(f"{path}: not a readable models registry ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise InstalledModelError(f"{path}: field 'format' must be {FORMAT!r}, got {got!r}")
    entries = doc.get("models", [])
    if not isinstance(entries, list):
        raise InstalledModelError(f"{path}: field 'models' must be a list")
    default = doc.get("default", "")
    models = [_entry(e, root, f"{path}: models[{i}]", default) for i, e in enumerate(entries)]
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise InstalledModelError(f"{path}: model names repeat: {names}")
    if models and default not in names:
        raise InstalledModelError(f"{path}: field 'default' must name one of {names}, got {default!r}")
    return models


def no_model_message() -> str:
    return (f"no starter model is installed (looked in {models_dir()}); pass --model MODEL.onnx "
            "(export one with `crossglg-train export`)")


def default_model() -> InstalledModel:
    """The registry's default model, verified; :class:`InstalledModelError` when none is installed."""
    model = next((m for m in installed_models() if m.is_default), None)
    if model is None:
        raise InstalledModelError(no_model_message())
    return model.verify()


def installed_precision(precision: str) -> InstalledModel:
    """The installed model of ``precision`` (``fp32`` / ``int8``), the default first; verified."""
    models = sorted(installed_models(), key=lambda m: not m.is_default)
    model = next((m for m in models if m.precision == precision), None)
    if model is None:
        if not models:
            raise InstalledModelError(no_model_message())
        raise InstalledModelError(f"no installed {precision} model (installed: "
                                  f"{', '.join(f'{m.name} ({m.precision})' for m in models)}); pass the file")  # fmt: skip
    return model.verify()


@dataclass(frozen=True)
class ResolvedModel:
    """What a command opens: the model file, its base statistics when installed (else None: the
    sidecar next to the file applies), and the installed entry it came from (None for a path)."""

    path: Path
    base_stats: Path | None = None
    installed: InstalledModel | None = None


def resolve_model(value: str | os.PathLike[str] | None, say: Callable[[str], None]) -> ResolvedModel:
    """``--model``: a path (used as given), the name of an installed model, or None (the default).

    Taking an installed model is announced through ``say`` in one line:
    ``using the installed starter model <name> (<path>)``.
    """
    if value is not None:
        p = Path(value).expanduser()
        if p.exists() or p.suffix or os.sep in str(value):
            return ResolvedModel(p)  # a path: open_model reports a missing file itself
        match = next((m for m in installed_models() if m.name == str(value)), None)
        if match is None:
            return ResolvedModel(p)
        model = match.verify()
    else:
        model = default_model()
    say(f"using the installed starter model {model.name} ({model.model.path})")
    return ResolvedModel(model.model.path, model.base_stats.path if model.base_stats else None, model)
