"""`crossglg-calib` without a model argument: the installed starter model's file of that precision."""

from __future__ import annotations

import sys
from pathlib import Path

from edge.installed_models import installed_precision


def model_or_installed(value: str | None, precision: str, command: str) -> Path:
    """``value`` as a path, or (None) the installed ``precision`` model, said in one line on stderr."""
    if value is not None:
        return Path(value)
    model = installed_precision(precision)
    print(f"crossglg-calib {command}: using the installed starter model {model.name} ({model.model.path})",
          file=sys.stderr, flush=True)  # fmt: skip
    return model.model.path
