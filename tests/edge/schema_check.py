"""Validate messages against the shipped JSON Schema files (edge/schemas) with ``jsonschema``.

``tests/edge/conftest.py`` routes every message a test's :class:`edge.client.Subscription` accepts
through :func:`schema_errors`, so every real-socket test also checks the published JSON against the
contract other programs rely on.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from edge import protocol
from edge.schemas import SCHEMA_KINDS, load_schema


@cache
def validator(kind: str) -> Draft202012Validator:
    """A checked validator for ``kind`` (a message kind or ``control-request`` / ``control-reply``)."""
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)  # the file itself must be a valid 2020-12 schema
    return Draft202012Validator(schema)


def schema_errors(topic_or_kind: str, payload: Any) -> list[str]:
    """Every violation of the schema for ``topic_or_kind`` (a topic ``crossglg.v1.<kind>.<source>``
    or a schema kind), as ``"<json path>: <message>"``; empty when the payload conforms."""
    kind = topic_or_kind if topic_or_kind in SCHEMA_KINDS else protocol.parse_topic(topic_or_kind)[0]
    errors = sorted(validator(kind).iter_errors(payload), key=lambda e: list(e.absolute_path))
    return [f"{e.json_path}: {e.message}" for e in errors]


def assert_valid(topic_or_kind: str, payload: Any) -> None:
    errors = schema_errors(topic_or_kind, payload)
    assert not errors, f"{topic_or_kind}: payload violates its JSON schema: {errors[:5]}"
