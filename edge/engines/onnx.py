"""ONNX Runtime backend: the default engine on every machine (CPU; CUDA provider where present).

The model file is the contract: one input ``skeleton`` ``(N, 3, T, V, M)`` float32, outputs
``embedding`` ``(N, D)`` and, when the classifier head was kept, ``logits`` ``(N, K)``; the
``crossglg.*`` metadata_props describe it (see :class:`edge.engines.base.ModelMeta`). Metadata is
read through ONNX Runtime itself, so the edge needs neither ``onnx`` nor torch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from .base import EMBEDDING_NAME, INPUT_NAME, LOGITS_NAME, EngineBase, EngineUnavailableError, ModelMeta

PROVIDER_CHOICES = ("auto", "cpu", "cuda")

log = logging.getLogger(__name__)


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file's bytes (the fingerprint fallback and the TensorRT cache key)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def choose_providers(request: str, available: list[str]) -> list[str]:
    """ORT providers for a request: ``auto`` = CUDA when available else CPU; ``cuda`` demands CUDA.

    CPU is always appended as the fallback for nodes the CUDA provider does not implement.
    """
    if request not in PROVIDER_CHOICES:
        raise ValueError(f"provider must be one of {PROVIDER_CHOICES}, got {request!r}")
    has_cuda = "CUDAExecutionProvider" in available
    if request == "cuda" and not has_cuda:
        raise EngineUnavailableError(
            "provider 'cuda' requested but this onnxruntime has no CUDAExecutionProvider "
            f"(available: {', '.join(available)}); install onnxruntime-gpu or use --provider cpu"
        )
    if request in ("auto", "cuda") and has_cuda:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def cpu_int8_advice(extra: dict[str, str], providers: list[str], path: Path) -> str | None:
    """A warning when an INT8 file quantised for TensorRT (symmetric int8 activations) is about to
    run on ONNX Runtime's CPU provider: ORT keeps most of its convolutions float between Q/DQ nodes
    there, so it runs slower than the FP32 model (docs/model_speed.md, session 3 runs 3-4: 0.64-0.82x); the ``ort-cpu``
    file is the fast one. ``extra``: the model's unprefixed ``crossglg.*`` metadata."""
    if "CUDAExecutionProvider" in providers or "quantization" not in extra:
        return None
    try:
        target = json.loads(extra["quantization"]).get("target")
    except (ValueError, AttributeError):
        return None
    if target != "tensorrt":
        return None
    return (f"{path}: this INT8 model was quantised for TensorRT (symmetric int8 activations); on ONNX "
            "Runtime's CPU provider it runs slower than the FP32 model. For CPU, quantise with "
            "`crossglg-calib quantize ... --target ort-cpu`; keep this file for `crossglg-edge build-engine`.")


def _static(dim: Any) -> int | None:
    """An ONNX dim as int, or None when symbolic/unknown."""
    return dim if isinstance(dim, int) and dim > 0 else None


class OnnxEngine(EngineBase):
    """An ONNX Runtime ``InferenceSession`` behind the :class:`edge.engines.base.Engine` interface.

    Args:
        path: the ``.onnx`` file (weights embedded; a ``.onnx.data`` beside it also works).
        provider: ``auto`` | ``cpu`` | ``cuda``.
        threads: intra-op threads (0 = ORT's default, i.e. all cores).
        spin: let idle ORT worker threads spin-wait (ORT's default, lowest latency); False frees the
            cores between windows for the pose model on small machines.
    """

    backend = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], provider: str = "auto", threads: int = 0,
                 spin: bool = True) -> None:
        import onnxruntime as ort  # module-level would be fine too; kept local so `edge.engines` stays light

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {self.path}")
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1  # one window graph: parallelism lives inside the ops
        if not spin:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = choose_providers(provider, ort.get_available_providers())
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=opts, providers=providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types for a corrupt file
            raise ValueError(f"{self.path}: not a loadable ONNX model ({exc})") from exc
        self.providers = self._session.get_providers()

        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = [o.name for o in self._session.get_outputs()]
        if INPUT_NAME not in inputs or EMBEDDING_NAME not in outputs:
            raise ValueError(
                f"{self.path}: expected input {INPUT_NAME!r} and output {EMBEDDING_NAME!r}, "
                f"found inputs {sorted(inputs)} and outputs {outputs}"
            )
        shape = list(inputs[INPUT_NAME].shape)
        if len(shape) != 5:
            raise ValueError(f"{self.path}: input {INPUT_NAME!r} must be (N, 3, T, V, M), found {shape}")
        self._outputs = [n for n in (EMBEDDING_NAME, LOGITS_NAME) if n in outputs]
        meta = self._read_meta(shape)
        super().__init__(meta, joints=_static(shape[3]), has_logits=LOGITS_NAME in outputs)
        self.advice = cpu_int8_advice(dict(meta.extra), list(self.providers), self.path)
        if self.advice:
            log.warning(self.advice)

    def _read_meta(self, shape: list[Any]) -> ModelMeta:
        """ModelMeta from ``crossglg.*`` metadata_props; gaps filled from the graph and the file."""
        try:
            props = dict(self._session.get_modelmeta().custom_metadata_map)
        except UnicodeDecodeError as exc:  # ORT hands the raw bytes to Python as str
            raise ValueError(f"{self.path}: metadata_props are not UTF-8 text ({exc.reason}); expected "
                             "the exporter's crossglg.* strings") from None  # fmt: skip
        meta = ModelMeta.from_props(props, where=f"{self.path}: metadata_props")
        updates: dict[str, Any] = {}
        if "crossglg.frames" not in props and _static(shape[2]):
            updates["frames"] = shape[2]
        if "crossglg.bodies" not in props and _static(shape[4]):
            updates["bodies"] = shape[4]
        if "crossglg.embedding_dim" not in props:
            out = next(o for o in self._session.get_outputs() if o.name == EMBEDDING_NAME)
            if _static(out.shape[-1]):
                updates["embedding_dim"] = out.shape[-1]
        if not meta.fingerprint:
            updates["fingerprint"] = file_sha256(self.path)
        if not meta.model_id:
            updates["model_id"] = self.path.stem
        for key, want in (("frames", shape[2]), ("bodies", shape[4])):
            got = updates.get(key, getattr(meta, key))
            if _static(want) and got != want:
                raise ValueError(f"{self.path}: metadata says {key}={got} but the graph input is {shape}")
        if updates:
            meta = ModelMeta.from_dict({**meta.to_dict(), **updates}, where=f"{self.path}: metadata_props and graph")
        return meta

    def _run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        results = self._session.run(self._outputs, {INPUT_NAME: x})
        return dict(zip(self._outputs, results, strict=True))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "providers": list(self.providers), "path": str(self.path)}

    def _release(self) -> None:
        self._session = None  # ORT frees the session with its last reference
