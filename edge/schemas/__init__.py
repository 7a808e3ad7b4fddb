"""JSON Schema (draft 2020-12) files for every message the runtime sends, shipped with the package.

One self-contained file per message kind (no cross-file ``$ref``, so any validator in any language
can load a single file):

- ``label.json``, ``event.json``, ``hb.json``, ``pose.json``: the payloads published on
  ``crossglg.v1.<kind>.<source>`` (:mod:`edge.protocol` is the runtime's own check, these files are
  the contract for other programs; ``docs/protocol.md`` is the prose);
- ``control-request.json``, ``control-reply.json``: the control channel (:mod:`edge.control`).

The runtime does not validate against these files (``edge.protocol.validate_payload`` does that
without a dependency); the tests validate every message they receive against them.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

MESSAGE_KINDS = ("label", "event", "hb", "pose")
CONTROL_KINDS = ("control-request", "control-reply")
SCHEMA_KINDS = MESSAGE_KINDS + CONTROL_KINDS


def schema_dir() -> Path:
    """The directory holding the ``<kind>.json`` files (inside the installed package)."""
    return Path(str(resources.files(__name__)))


def schema_path(kind: str) -> Path:
    """``<schema_dir>/<kind>.json``; ``ValueError`` for a kind that has no schema."""
    if kind not in SCHEMA_KINDS:
        raise ValueError(f"no JSON schema for {kind!r}: expected one of {', '.join(SCHEMA_KINDS)}")
    return schema_dir() / f"{kind}.json"


def load_schema(kind: str) -> dict[str, Any]:
    """The parsed JSON Schema of one message kind (see :data:`SCHEMA_KINDS`)."""
    path = schema_path(kind)
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


__all__ = ["CONTROL_KINDS", "MESSAGE_KINDS", "SCHEMA_KINDS", "load_schema", "schema_dir", "schema_path"]
