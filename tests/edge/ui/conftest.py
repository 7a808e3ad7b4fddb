"""Fixtures for the terminal UI tests (helpers live in ui_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ui_helpers import make_publisher

from edge.publisher import Publisher


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    """A real PUB socket on a random loopback port (source ``cam0``)."""
    pub = make_publisher()
    yield pub
    pub.close()
