"""Action description files: one JSON file per dataset, schema-versioned.

Format (``crossglg-descriptions/1``)::

    {"schema": "crossglg-descriptions/1", "dataset": "utd_mhad",
     "classes": [{"id": "a1", "name": "right arm swipe to the left",
                  "global": "<which body parts matter and how>",
                  "joints": {"SpineBase": "...", ..., "ThumbRight": "..."}}]}

``global`` answers the paper's global prompt (the important joints / body parts of the action);
``joints`` answers the local prompt (what each of the 25 NTU joints does during it), keyed by the
NTU-25 joint names. Validation errors are :class:`DescriptionError` (a ``ValueError``) naming the
file or dataset, the class and the field, so a bad hand edit or a bad LLM reply is easy to fix.
Shipped files live next to this module in ``data/<dataset>.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossglg.atomic import atomic_write
from crossglg.skeleton.layouts import NTU25

SCHEMA = "crossglg-descriptions/1"
JOINT_NAMES: tuple[str, ...] = NTU25.joints
DATA_DIR = Path(__file__).resolve().parent / "data"

# Number of classes each shipped dataset must describe.
EXPECTED_CLASS_COUNTS: dict[str, int] = {"ntu120": 120, "utd_mhad": 27, "nw_ucla": 10, "gtu3d": 14, "irds": 9,
                                         "sbu": 8, "msrc12": 12,
                                         "kinder_gator": 58, "kard": 18, "florence": 9}  # fmt: skip


class DescriptionError(ValueError):
    """A description file or record does not follow the schema."""


@dataclass(frozen=True)
class ClassDescription:
    """The texts for one action class.

    Attributes:
        id: class id within its dataset (``"A001"``, ``"a1"``, ...).
        name: human-readable class name.
        global_text: the global description (JSON field ``global``).
        joints: 25 joint motion descriptions in NTU-25 order (``JOINT_NAMES``).
    """

    id: str
    name: str
    global_text: str
    joints: tuple[str, ...]

    def joint(self, name: str) -> str:
        """The description of one joint by its NTU-25 name."""
        return self.joints[NTU25.index(name)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "global": self.global_text,
            "joints": dict(zip(JOINT_NAMES, self.joints, strict=True)),
        }


@dataclass(frozen=True)
class DescriptionSet:
    """All class descriptions of one dataset, in file order."""

    dataset: str
    classes: tuple[ClassDescription, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.classes)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    def __len__(self) -> int:
        return len(self.classes)

    def get(self, class_id: str) -> ClassDescription:
        """Look a class up by id; ``KeyError`` names the dataset."""
        for c in self.classes:
            if c.id == class_id:
                return c
        raise KeyError(f"dataset {self.dataset}: no class with id {class_id!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "dataset": self.dataset, "classes": [c.to_dict() for c in self.classes]}


def _where(dataset: str, class_id: str | None, field: str) -> str:
    cls = f", class {class_id!r}" if class_id is not None else ""
    return f"dataset {dataset!r}{cls}, field {field!r}"


def _text(value: Any, dataset: str, class_id: str | None, field: str) -> str:
    if not isinstance(value, str):
        raise DescriptionError(f"{_where(dataset, class_id, field)}: expected a string, got {type(value).__name__}")
    text = " ".join(value.split())
    if not text:
        raise DescriptionError(f"{_where(dataset, class_id, field)}: empty text")
    return text


def parse_class(obj: Any, dataset: str, index: int | None = None) -> ClassDescription:
    """Validate one class record (a JSON object) and return it.

    Raises :class:`DescriptionError` for a missing/empty id, name or global text, unknown joint
    names, missing joints, a wrong joint count or an empty joint text.
    """
    pos = f"classes[{index}]" if index is not None else "class"
    if not isinstance(obj, Mapping):
        raise DescriptionError(f"dataset {dataset!r}, {pos}: expected an object, got {type(obj).__name__}")
    cid = obj.get("id")
    if not isinstance(cid, str) or not cid.strip():
        raise DescriptionError(f"dataset {dataset!r}, {pos}, field 'id': expected a non-empty string")
    cid = cid.strip()
    unknown_fields = set(obj) - {"id", "name", "global", "joints"}
    if unknown_fields:
        raise DescriptionError(
            f"{_where(dataset, cid, sorted(unknown_fields)[0])}: unknown field; expected id, name, global, joints"
        )
    for key in ("name", "global", "joints"):
        if key not in obj:
            raise DescriptionError(f"{_where(dataset, cid, key)}: missing")
    name = _text(obj["name"], dataset, cid, "name")
    global_text = _text(obj["global"], dataset, cid, "global")
    joints = obj["joints"]
    if not isinstance(joints, Mapping):
        raise DescriptionError(f"{_where(dataset, cid, 'joints')}: expected an object keyed by NTU-25 joint name")
    unknown = [k for k in joints if k not in JOINT_NAMES]
    if unknown:
        raise DescriptionError(
            f"{_where(dataset, cid, 'joints.' + str(unknown[0]))}: unknown joint name; expected the NTU-25 names "
            f"{', '.join(JOINT_NAMES)}"
        )
    missing = [k for k in JOINT_NAMES if k not in joints]
    if missing or len(joints) != len(JOINT_NAMES):
        raise DescriptionError(
            f"{_where(dataset, cid, 'joints')}: {len(joints)} joints, expected {len(JOINT_NAMES)}; "
            f"missing: {', '.join(missing)}"
        )
    texts = tuple(_text(joints[k], dataset, cid, f"joints.{k}") for k in JOINT_NAMES)
    return ClassDescription(id=cid, name=name, global_text=global_text, joints=texts)


def parse_descriptions(obj: Any, source: str = "<memory>") -> DescriptionSet:
    """Validate a whole description document (already decoded JSON)."""
    if not isinstance(obj, Mapping):
        raise DescriptionError(f"{source}: expected a JSON object at the top level")
    if obj.get("schema") != SCHEMA:
        raise DescriptionError(f"{source}, field 'schema': got {obj.get('schema')!r}, expected {SCHEMA!r}")
    dataset = obj.get("dataset")
    if not isinstance(dataset, str) or not dataset.strip():
        raise DescriptionError(f"{source}, field 'dataset': expected a non-empty string")
    classes = obj.get("classes")
    if not isinstance(classes, list):
        raise DescriptionError(f"{source}: dataset {dataset!r}, field 'classes': expected a list")
    parsed = tuple(parse_class(c, dataset, i) for i, c in enumerate(classes))
    seen: set[str] = set()
    for c in parsed:
        if c.id in seen:
            raise DescriptionError(f"{_where(dataset, c.id, 'id')}: duplicate class id")
        seen.add(c.id)
    return DescriptionSet(dataset=dataset, classes=parsed)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # a duplicated joint key in hand-edited JSON would otherwise silently keep the last text
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DescriptionError(f"duplicate JSON key {k!r}")
        out[k] = v
    return out


def loads_descriptions(text: str, source: str = "<memory>") -> DescriptionSet:
    """Decode and validate a description document from a JSON string."""
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise DescriptionError(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except DescriptionError as exc:
        raise DescriptionError(f"{source}: {exc}") from None
    return parse_descriptions(obj, source)


def load_descriptions(path: str | os.PathLike[str]) -> DescriptionSet:
    """Load and validate a description file."""
    p = Path(path)
    return loads_descriptions(p.read_text(encoding="utf-8"), source=str(p))


def save_descriptions(descriptions: DescriptionSet, path: str | os.PathLike[str]) -> None:
    """Write a description file atomically (temp file in the same folder + ``os.replace``)."""
    p = Path(path)
    atomic_write(p, json.dumps(descriptions.to_dict(), indent=1, ensure_ascii=False) + "\n")


def merge_descriptions(
    base: DescriptionSet, new: Iterable[ClassDescription], *, replace: bool = False
) -> DescriptionSet:
    """Add classes to ``base``; an existing id is replaced only with ``replace=True``.

    A replaced class keeps its position; new classes are appended in the given order.
    """
    classes = list(base.classes)
    index = {c.id: i for i, c in enumerate(classes)}
    for c in new:
        if c.id in index:
            if not replace:
                raise DescriptionError(f"{_where(base.dataset, c.id, 'id')}: class exists (use replace to overwrite)")
            classes[index[c.id]] = c
        else:
            index[c.id] = len(classes)
            classes.append(c)
    return DescriptionSet(dataset=base.dataset, classes=tuple(classes))


def shipped_path(dataset: str) -> Path:
    """Path of the shipped description file of ``dataset`` (may not exist)."""
    return DATA_DIR / f"{dataset}.json"


def shipped_datasets() -> list[str]:
    """Dataset keys with a shipped description file, sorted."""
    return sorted(p.stem for p in DATA_DIR.glob("*.json")) if DATA_DIR.is_dir() else []


def load_shipped(dataset: str) -> DescriptionSet:
    """Load the shipped descriptions of ``dataset``; ``FileNotFoundError`` lists what is shipped."""
    p = shipped_path(dataset)
    if not p.is_file():
        raise FileNotFoundError(f"no shipped descriptions for dataset {dataset!r}; shipped: {shipped_datasets()}")
    ds = load_descriptions(p)
    if ds.dataset != dataset:
        raise DescriptionError(f"{p}, field 'dataset': got {ds.dataset!r}, expected {dataset!r} (the file name)")
    return ds
