"""Helpers shared by tests of several packages (importable from any test: ``tests/`` holds the root conftest).

- :func:`free_port`: a TCP port on 127.0.0.1 that nothing listens on right now;
- :func:`run_python`: a snippet in a fresh interpreter of this venv, optionally with some top-level
  packages made unimportable (to prove a layer does not need them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the session's tiny training run (tests/conftest.py ``tiny_crossglg_run``): T=16, 2 epochs, CrossGLG
# with both guidances, on ``tiny_train_data``; embedding size 64, not 256: distribution calibration's
# logistic fits (evaluation) grow with it and took most of the eval test's time
TINY_TRAIN = ["data.frames=16", "optim.batch_size=4", "optim.epochs=2", "model.variant=crossglg", "eval.draws=3",
              "eval.dc_samples=50", "model.params.embed_dim=64", "num_threads=2"]

_BLOCKER = r"""
import sys

class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"blocked import of {{name}}")
        return None

sys.meta_path.insert(0, _Block())
"""


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for endpoints a subprocess must bind by number)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_python(code: str, *, block: Sequence[str] = (), timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``python -c`` from the repo root (on ``PYTHONPATH``); output captured as text.

    ``block`` names top-level packages whose import raises ``ImportError`` (imports already
    satisfied by Python's own startup are not affected).
    """
    prelude = _BLOCKER.format(blocked=tuple(block)) if block else ""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def calibrate_batchnorm(model, windows, batch: int = 8) -> None:  # noqa: ANN001 (torch stays a lazy import)
    """Set every BatchNorm's running statistics of ``model`` from ``windows`` ``(N, C, T, V, M)``
    float32 (cumulative average over batches), then switch to eval mode. An untrained encoder then
    has activations of realistic magnitude on real skeletons instead of growing through the blocks."""
    import torch

    for mod in model.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.reset_running_stats()
            mod.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            model(torch.as_tensor(windows[i : i + batch]))
    model.eval()


def load_tool(name: str):  # noqa: ANN201 (a module)
    """Import ``tools/<name>.py`` (scripts, not a package) as module ``name``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
