"""Reading and validating a support store's ``manifest.json`` (errors name the file and the field).

Manifest (schema version 1)::

    {
      "schema_version": 1,
      "model_fingerprint": "<id of the model that made the embeddings>",
      "preprocess_id": "crossglg-pp/1;frames=64;...",
      "embedding_dim": 256,                       # null while empty
      "embeddings_file": "embeddings.3.npz",      # null while empty
      "created": "2026-11-22T03:00:00+00:00",
      "actions": [
        {"label": "wave hello", "slug": "wave-hello", "created": "...", "source": "camera 0",
         "exemplars": [{"file": "exemplars/wave-hello.0.npz", "created": "...", "source": "camera 0",
                        "frames": 64, "fps": 30.0}]}
      ]
    }
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
SCHEMA_VERSION = 1
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_EXEMPLAR_RE = re.compile(r"^exemplars/([a-z0-9-]+)\.(\d+)\.npz$")
_EMB_RE = re.compile(r"^embeddings\.\d+\.npz$")


@dataclass(frozen=True)
class ExemplarEntry:
    file: str
    created: str
    source: str
    frames: int
    fps: float


@dataclass(frozen=True)
class ActionEntry:
    """One enrolled action: free-text ``label``, file-safe unique ``slug``, its exemplars."""

    label: str
    slug: str
    created: str
    source: str
    exemplars: tuple[ExemplarEntry, ...]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ActionEntry:
        return cls(
            label=d["label"], slug=d["slug"], created=d["created"], source=d["source"],
            exemplars=tuple(ExemplarEntry(**e) for e in d["exemplars"]),
        )


def _field(path: Path, obj: dict, key: str, types: tuple, where: str, expected: str, nullable: bool = False) -> Any:
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: field {where or '<root>'!r}: expected an object, got {type(obj).__name__}")
    name = f"{where}.{key}" if where else key
    if key not in obj:
        raise ValueError(f"{path}: field {name!r} is missing ({expected})")
    v = obj[key]
    if v is None and nullable:
        return v
    if isinstance(v, bool) or not isinstance(v, types):
        raise ValueError(f"{path}: field {name!r}: expected {expected}, got {v!r}")
    return v


def parse_manifest(path: Path) -> dict[str, Any]:
    """Load and validate ``manifest.json``; returns the dict. Never modifies anything on disk."""
    if not path.is_file():
        raise FileNotFoundError(f"support store manifest not found: {path}")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc}); the store's files were left untouched") from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); the store's files were "
            f"left untouched (the previous manifest, if any, is {path.name}.bak)"
        ) from None
    version = _field(path, m, "schema_version", (int,), "", "an integer")
    if version != SCHEMA_VERSION:
        raise ValueError(f"{path}: field 'schema_version': this build reads {SCHEMA_VERSION}, got {version}")
    _field(path, m, "model_fingerprint", (str,), "", "the model fingerprint string")
    _field(path, m, "preprocess_id", (str,), "", "the preprocessing id string")
    dim = _field(path, m, "embedding_dim", (int,), "", "a positive integer or null", nullable=True)
    if dim is not None and dim < 1:
        raise ValueError(f"{path}: field 'embedding_dim': expected a positive integer, got {dim}")
    emb = _field(path, m, "embeddings_file", (str,), "", "embeddings.<n>.npz or null", nullable=True)
    if emb is not None and not _EMB_RE.match(emb):
        raise ValueError(f"{path}: field 'embeddings_file': expected embeddings.<n>.npz, got {emb!r}")
    actions = _field(path, m, "actions", (list,), "", "a list of actions")
    slugs: set[str] = set()
    files: set[str] = set()
    for i, a in enumerate(actions):
        where = f"actions[{i}]"
        label = _field(path, a, "label", (str,), where, "non-empty text")
        if not label.strip():
            raise ValueError(f"{path}: field '{where}.label': expected non-empty text")
        slug = _field(path, a, "slug", (str,), where, "a slug [a-z0-9-]")
        if not SLUG_RE.match(slug) or slug in slugs:
            raise ValueError(f"{path}: field '{where}.slug': expected a unique slug [a-z0-9-], got {slug!r}")
        slugs.add(slug)
        _field(path, a, "created", (str,), where, "an ISO time")
        _field(path, a, "source", (str,), where, "a description string")
        exemplars = _field(path, a, "exemplars", (list,), where, "a non-empty list of exemplars")
        if not exemplars:
            raise ValueError(f"{path}: field '{where}.exemplars': expected at least one exemplar")
        for k, e in enumerate(exemplars):
            ew = f"{where}.exemplars[{k}]"
            f = _field(path, e, "file", (str,), ew, "exemplars/<slug>.<n>.npz")
            match = _EXEMPLAR_RE.match(f)
            # the file must live inside the store under this action's slug: no path tricks
            if not match or match.group(1) != slug or f in files:
                raise ValueError(f"{path}: field '{ew}.file': expected a unique exemplars/{slug}.<n>.npz, got {f!r}")
            files.add(f)
            _field(path, e, "created", (str,), ew, "an ISO time")
            _field(path, e, "source", (str,), ew, "a description string")
            _field(path, e, "frames", (int,), ew, "an integer frame count")
            _field(path, e, "fps", (int, float), ew, "frames per second")
            if set(e) - {"file", "created", "source", "frames", "fps"}:
                raise ValueError(f"{path}: field {ew!r}: unknown keys {sorted(set(e) - {'file', 'created', 'source', 'frames', 'fps'})}")
    if actions and emb is None:
        raise ValueError(f"{path}: field 'embeddings_file': expected a file name when actions exist")
    return m
