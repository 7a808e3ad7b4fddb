"""Fixtures of the reader fuzz tests and the end-of-session case count per format.

Helpers live in ``fuzz_helpers`` (this folder is on ``sys.path`` through this conftest).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_helpers import CASES, REFUSED


@pytest.fixture(scope="session")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch folder for the case files (hypothesis cannot use the function-scoped ``tmp_path``)."""
    return tmp_path_factory.mktemp("fuzz")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001 - pytest's hook
    if not CASES:
        return
    tr = terminalreporter
    tr.section("fuzzed readers: generated cases per format")
    width = max(len(k) for k in CASES)
    for fmt in sorted(CASES):
        n, r = CASES[fmt], REFUSED[fmt]
        tr.write_line(f"{fmt:<{width}}  {n:5d} cases  ({n - r} read, {r} refused with the reader's error)")
    tr.write_line(f"{'total':<{width}}  {sum(CASES.values()):5d} cases")
