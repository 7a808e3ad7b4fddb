"""The one small interface every inference backend implements, and the model metadata it carries.

An :class:`Engine` turns a batch of preprocessed windows ``(N, 3, T, V, M)`` float32 into
embeddings ``(N, D)`` float32 (and, when the model has a classifier head, logits ``(N, K)``).
The pipeline never cares which backend runs: ONNX Runtime, TensorRT or torch all look alike.

No third-party import here beyond numpy: this module is imported by every backend, including the
torch one that lives outside ``edge/``. Tensor names and the ``crossglg.*`` metadata keys come from
:mod:`crossglg.model_meta` (the exporter's torch-free contract module).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

# the graph/metadata contract is owned by the exporter's torch-free module: one definition
from crossglg.model_meta import (
    EMBEDDING_NAME,
    INPUT_NAME,
    LOGITS_NAME,
    META_PREFIX,
    decode_center,
    decode_classes,
)
from crossglg.open_set import StoredOpenSet, decode_open_set
from crossglg.pose_features import Fusion, decode_fusion

__all__ = ["EMBEDDING_NAME", "INPUT_NAME", "LOGITS_NAME", "META_PREFIX", "Engine", "EngineBase",
           "EngineUnavailableError", "ModelMeta", "check_window"]


class EngineUnavailableError(RuntimeError):
    """A backend's runtime library is missing (e.g. ``tensorrt`` on a machine without it)."""


@dataclass(frozen=True)
class ModelMeta:
    """What a deployed model says about itself; travels inside the model file (or its sidecar).

    Attributes:
        classes: base-class names of the classifier head, index = logit index (may be empty).
        layout: skeleton layout name (``"ntu25"``); fixes V.
        frames: window length T the model was exported for.
        embedding_dim: D, the width of the ``embedding`` output.
        preprocess_id: :attr:`crossglg.preprocess.PreprocessConfig.id` used at training time;
            support stores and the pipeline check theirs against it.
        fingerprint: sha256 hex digest identifying the weights (support stores keyed on it).
        model_id: human-readable id (e.g. ``crossglg-infogcn-ntu25``).
        bodies: M, the number of bodies per window (1 on the edge).
        extra: any further ``crossglg.*`` keys, kept verbatim (strings); ``embedding_center``
            (JSON list of D floats, see :attr:`embedding_center`) is one of them, ``open_set``
            (calibrated open-set thresholds, see :attr:`open_set`) another, ``fusion`` (score
            fusion with pose features, see :attr:`fusion`) a third.
    """

    classes: tuple[str, ...] = ()
    layout: str = "ntu25"
    frames: int = 64
    embedding_dim: int = 256
    preprocess_id: str = ""
    fingerprint: str = ""
    model_id: str = ""
    bodies: int = 1
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise ValueError(f"model metadata: frames must be >= 1, got {self.frames}")
        if self.embedding_dim < 1:
            raise ValueError(f"model metadata: embedding_dim must be >= 1, got {self.embedding_dim}")
        if self.bodies < 1:
            raise ValueError(f"model metadata: bodies must be >= 1, got {self.bodies}")
        decode_center(dict(self.extra), self.embedding_dim, where="model metadata")  # fail at load, not per window
        decode_open_set(self.extra, where="model metadata")
        decode_fusion(self.extra, where="model metadata")

    @property
    def embedding_center(self) -> np.ndarray | None:
        """The base classes' mean embedding ``(D,)`` float32 that cosine matching subtracts, or None."""
        values = decode_center(dict(self.extra), self.embedding_dim, where="model metadata")
        return None if values is None else np.asarray(values, dtype=np.float32)

    @property
    def open_set(self) -> StoredOpenSet | None:
        """Open-set thresholds calibrated for this model (:mod:`crossglg.open_set`), or None."""
        return decode_open_set(self.extra, where="model metadata")

    @property
    def fusion(self) -> Fusion | None:
        """How this model's matcher fuses its cosine with pose features (:mod:`crossglg.pose_features`), or None."""
        return decode_fusion(self.extra, where="model metadata")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the sidecar format)."""
        d = asdict(self)
        d["classes"] = list(self.classes)
        d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "model metadata") -> ModelMeta:
        """Inverse of :meth:`to_dict`; unknown keys go to ``extra``; wrong types raise ValueError."""
        known = set(cls.__dataclass_fields__) - {"extra"}
        kwargs: dict[str, Any] = {}
        given = d.get("extra") or {}
        if not isinstance(given, Mapping):  # e.g. a metadata key "crossglg.extra" holding text
            raise ValueError(f"{where}: extra must be an object of strings, got {str(given)[:40]!r}")
        extra = {str(k): str(v) for k, v in given.items()}
        for key, value in d.items():
            if key == "extra":
                continue
            if key not in known:
                extra[str(key)] = value if isinstance(value, str) else json.dumps(value)
                continue
            kwargs[key] = value
        try:
            if "classes" in kwargs:
                classes = kwargs["classes"]
                if isinstance(classes, str):  # metadata_props form: a JSON string
                    classes = decode_classes({"classes": classes}, where=where)
                if not isinstance(classes, list | tuple) or not all(isinstance(c, str) for c in classes):
                    raise ValueError("classes must be a list of strings")
                kwargs["classes"] = tuple(classes)
            for key in ("frames", "embedding_dim", "bodies"):
                if key in kwargs:
                    try:
                        kwargs[key] = int(kwargs[key])
                    except (TypeError, ValueError):
                        raise ValueError(f"{key} must be an integer, got {kwargs[key]!r}") from None
            for key in ("layout", "preprocess_id", "fingerprint", "model_id"):
                if key in kwargs:
                    kwargs[key] = str(kwargs[key])
            return cls(**kwargs, extra=extra)  # __post_init__ checks ranges and the centre
        except (TypeError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            raise ValueError(f"{where}: {str(exc).removeprefix('model metadata: ')}") from exc

    @classmethod
    def from_props(cls, props: Mapping[str, str], where: str = "ONNX metadata_props") -> ModelMeta:
        """Build from string key/value pairs whose keys start with ``crossglg.`` (others ignored)."""
        d = {k[len(META_PREFIX):]: v for k, v in props.items() if k.startswith(META_PREFIX)}
        return cls.from_dict(d, where=where)


def check_window(x: Any, frames: int | None, joints: int | None, bodies: int | None) -> np.ndarray:
    """Validate a batch of windows and return it as C-contiguous float32 ``(N, 3, T, V, M)``.

    ``None`` for frames/joints/bodies means "any" (a dynamic axis). Raises ``ValueError`` naming
    what was expected: wrong rank, wrong axis size, non-float dtype, NaN/inf, empty batch.
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"engine input must be a numpy array (N, 3, T, V, M), got {type(x).__name__}")
    if x.ndim != 5:
        raise ValueError(f"engine input must have shape (N, 3, T, V, M) (5 axes), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"engine input must be float32 (N, 3, T, V, M), got dtype {x.dtype}")
    n, c, t, v, m = x.shape
    if n < 1:
        raise ValueError("engine input batch is empty: expected N >= 1 windows")
    for name, got, want in (("C", c, 3), ("T", t, frames), ("V", v, joints), ("M", m, bodies)):
        if want is not None and got != want:
            raise ValueError(f"engine input axis {name} must be {want} (shape (N, 3, T, V, M)), got shape {x.shape}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError("engine input contains NaN or inf: preprocess windows before embedding")
    return x


@runtime_checkable
class Engine(Protocol):
    """What the pipeline and UI call. Implementations: ONNX Runtime, TensorRT, torch (training only)."""

    meta: ModelMeta
    backend: str  # "onnxruntime", "tensorrt" or "torch"

    @property
    def has_logits(self) -> bool:
        """Whether :meth:`logits` is available (the model kept its classifier head)."""
        ...

    def embed(self, x: np.ndarray) -> np.ndarray:
        """``(N, 3, T, V, M)`` float32 -> embeddings ``(N, D)`` float32."""
        ...

    def logits(self, x: np.ndarray) -> np.ndarray:
        """``(N, 3, T, V, M)`` float32 -> class logits ``(N, K)``; raises if ``not has_logits``."""
        ...

    def embed_and_logits(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """One forward pass: ``(embeddings (N, D), logits (N, K) or None)``."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary (backend, model_id, fingerprint, frames, ...) for logs/UI/payloads."""
        ...

    def close(self) -> None:
        """Release sessions / device memory. Idempotent."""
        ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...


class EngineBase:
    """Shared plumbing: context manager, closed-state check, input validation, describe()."""

    backend = "base"

    def __init__(self, meta: ModelMeta, joints: int | None, has_logits: bool) -> None:
        self.meta = meta
        self._joints = joints
        self._has_logits = has_logits
        self._closed = False

    @property
    def has_logits(self) -> bool:
        return self._has_logits

    @property
    def joints(self) -> int | None:
        """V the model takes (None when the graph leaves it dynamic)."""
        return self._joints

    def _prepare(self, x: Any) -> np.ndarray:
        if self._closed:
            raise RuntimeError(f"{self.backend} engine is closed")
        return check_window(x, self.meta.frames, self._joints, self.meta.bodies)

    def _run(self, x: np.ndarray) -> dict[str, np.ndarray]:  # pragma: no cover - abstract
        """Run the validated batch; return ``{"embedding": (N, D), "logits": (N, K)?}``."""
        raise NotImplementedError

    def embed(self, x: np.ndarray) -> np.ndarray:
        out = self._run(self._prepare(x))[EMBEDDING_NAME]
        return np.asarray(out, dtype=np.float32)

    def logits(self, x: np.ndarray) -> np.ndarray:
        if not self._has_logits:
            raise ValueError(f"model {self.meta.model_id or '?'} has no logits output (embedding-only export)")
        return np.asarray(self._run(self._prepare(x))[LOGITS_NAME], dtype=np.float32)

    def embed_and_logits(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """One forward pass for both outputs; logits is ``None`` when the model has none."""
        out = self._run(self._prepare(x))
        emb = np.asarray(out[EMBEDDING_NAME], dtype=np.float32)
        lg = out.get(LOGITS_NAME)
        return emb, (None if lg is None else np.asarray(lg, dtype=np.float32))

    def describe(self) -> dict[str, Any]:
        """Small JSON-ready summary for logs, the UI and the ZeroMQ payload (model id, backend)."""
        return {"backend": self.backend, "model_id": self.meta.model_id, "fingerprint": self.meta.fingerprint,
                "frames": self.meta.frames, "embedding_dim": self.meta.embedding_dim, "layout": self.meta.layout}

    def _release(self) -> None:
        """Backend-specific cleanup (called once by :meth:`close`)."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._release()

    def __enter__(self) -> EngineBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort: device memory must not outlive the object
        with contextlib.suppress(Exception):  # never raise from a finaliser
            self.close()
