"""Fixtures for text tests: schema-valid description records to mutate."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from crossglg.text.descriptions import JOINT_NAMES, SCHEMA


def _make_class(cid: str = "c1", name: str = "right hand wave") -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "global": f"The right arm raises and the right hand waves side to side ({cid}).",
        "joints": {j: f"{j} moves in its own way during {name} ({cid})." for j in JOINT_NAMES},
    }


@pytest.fixture
def make_class() -> Callable[..., dict[str, Any]]:
    """Factory of a class record whose texts are distinct per class id and joint."""
    return _make_class


@pytest.fixture
def doc() -> dict[str, Any]:
    """A two-class description document (dataset "toy")."""
    return copy.deepcopy({"schema": SCHEMA, "dataset": "toy", "classes": [_make_class("c1"), _make_class("c2", "kick")]})
