"""Inference engines behind one interface (see :mod:`edge.engines.base`).

    from edge.engines import load_engine
    with load_engine("model.onnx") as engine:      # .onnx / .engine / .plan / .pt
        emb = engine.embed(windows)                 # (N, 3, T, V, M) float32 -> (N, D) float32

Importing this package imports numpy only: backends load lazily by file suffix.
"""

from __future__ import annotations

from .base import Engine, EngineBase, EngineUnavailableError, ModelMeta, check_window
from .loader import SUFFIXES, backend_for, load_engine

__all__ = ["Engine", "EngineBase", "EngineUnavailableError", "ModelMeta", "SUFFIXES", "backend_for",
           "check_window", "load_engine"]
