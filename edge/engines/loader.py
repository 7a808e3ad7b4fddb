"""Pick an engine by file suffix: ``.onnx`` -> ONNX Runtime, ``.engine``/``.plan`` -> TensorRT,
``.pt`` -> torch (training machines only; the backend lives in ``train/torch_engine.py``).

Every backend is imported only when its suffix is asked for, so loading an ONNX model never
imports TensorRT or torch.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from .base import EngineBase, EngineUnavailableError

SUFFIXES = {".onnx": "onnxruntime", ".engine": "tensorrt", ".plan": "tensorrt", ".pt": "torch"}
TORCH_ENGINE_MODULE = "train.torch_engine"


def backend_for(path: str | os.PathLike[str]) -> str:
    """The backend name a file suffix selects; ValueError naming the accepted suffixes otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        accepted = ", ".join(sorted(SUFFIXES))
        raise ValueError(f"{path}: unknown model file type {suffix or '(no suffix)'!r}; expected one of {accepted}")
    return SUFFIXES[suffix]


def load_engine(path: str | os.PathLike[str], **opts: Any) -> EngineBase:
    """Open a model file with the backend its suffix selects.

    Options are passed to the backend: ONNX Runtime takes ``provider`` (``auto``/``cpu``/``cuda``)
    and ``threads``; TensorRT takes ``device``; torch takes ``device`` and ``threads``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unknown suffix, or a file its backend cannot read.
        EngineUnavailableError: the backend's library is not installed here.
    """
    backend = backend_for(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if backend == "onnxruntime":
        from .onnx import OnnxEngine

        return OnnxEngine(path, **opts)
    if backend == "tensorrt":
        from .tensorrt import TensorRTEngine

        return TensorRTEngine(path, **opts)
    try:
        module = importlib.import_module(TORCH_ENGINE_MODULE)
    except ImportError as exc:
        raise EngineUnavailableError(f"{path}: .pt models need torch and the training package "
                                     "(pip install torch==2.13.0 'crossglg[train]'); on the edge export "
                                     "to ONNX instead") from exc
    return module.TorchEngine(path, **opts)
