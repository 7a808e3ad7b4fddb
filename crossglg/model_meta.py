"""ONNX model metadata: key names and a torch-free reader (edge/ and calib/ import this).

The exporter (:func:`crossglg.model.export.export_onnx`) writes string ``metadata_props`` whose
keys start with ``crossglg.``:

==================  =====================================================================
key                 value
==================  =====================================================================
classes             JSON list of class names (index = logit index; may be ``[]``)
layout              skeleton layout name, e.g. ``ntu25``
frames              window length T (int as text)
bodies              M (int as text)
embedding_dim       D of the ``embedding`` output
preprocess_id       :attr:`crossglg.preprocess.PreprocessConfig.id`
fingerprint         sha256 of the weights (support stores are keyed on it)
model_id            human-readable id
encoder             encoder registry name
model_config        JSON of :class:`crossglg.model.ModelConfig`
exporter            ``dynamo`` or ``torchscript``
graph               ``fused-cl/<n>`` (inference-equivalent rewrite, :mod:`crossglg.model.export_fused`)
                    or ``module`` (the training module's own eval graph); the fingerprint is the
                    trained weights' either way
embedding_center    optional JSON list of D floats: the base classes' mean embedding, which
                    one-shot cosine matching subtracts (:func:`crossglg.oneshot.cosine_scores`)
open_set            optional JSON object: open-set threshold, margin, dc_margin calibrated by the
                    benchmark for a target false-accept rate, optional ranking "cosine"/"dc"
                    (:mod:`crossglg.open_set`)
fusion              optional JSON object: weight of the learned cosine when the matcher fuses it
                    with resampled-pose features, their frames and id (:mod:`crossglg.pose_features`)
==================  =====================================================================

Per-class base statistics (distribution calibration) are too big for metadata: they live in the
sidecar ``<model>.onnx.basestats.npz`` (:mod:`crossglg.basestats`).

Graph contract: input ``skeleton`` ``(N, C, T, V, M)`` float32 with a dynamic batch axis;
outputs ``embedding`` ``(N, D)`` and, when the model has a classifier, ``logits`` ``(N, K)``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

META_PREFIX = "crossglg."
INPUT_NAME = "skeleton"
EMBEDDING_NAME = "embedding"
LOGITS_NAME = "logits"
CENTER_KEY = "embedding_center"
REQUIRED_KEYS = ("classes", "layout", "frames", "bodies", "embedding_dim", "preprocess_id", "fingerprint")


def read_onnx_metadata(path: str | os.PathLike[str], strip_prefix: bool = True) -> dict[str, str]:
    """Return the ``crossglg.*`` metadata_props of an ONNX file (keys without prefix by default).

    Uses ``onnx`` when installed (reads the header only, no weights), else ONNX Runtime.
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for an unreadable one.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"ONNX model not found: {p}")
    try:
        import onnx

        try:
            model = onnx.load(str(p), load_external_data=False)
        except Exception as exc:  # onnx raises DecodeError and friends for a corrupt file
            raise ValueError(f"{p}: not a readable ONNX model ({exc})") from exc
        props = {prop.key: prop.value for prop in model.metadata_props}
    except ImportError:
        import onnxruntime as ort

        try:
            sess = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ValueError(f"{p}: not a loadable ONNX model ({exc})") from exc
        props = dict(sess.get_modelmeta().custom_metadata_map)
    n = len(META_PREFIX) if strip_prefix else 0
    return {k[n:]: v for k, v in props.items() if k.startswith(META_PREFIX)}


def decode_classes(meta: dict[str, str], where: str = "ONNX metadata") -> list[str]:
    """The ``classes`` entry as a list of strings; ``ValueError`` if it is not a JSON string list."""
    try:
        classes = json.loads(meta.get("classes", "[]"))
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nested 100,000 deep
        raise ValueError(f"{where}: classes is not JSON ({exc})") from exc
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ValueError(f"{where}: classes must be a JSON list of strings")
    return classes


def encode_center(center: list[float] | tuple[float, ...] | object) -> str:
    """A centre ``(D,)`` (any float sequence or array) as its metadata value: a compact JSON list."""
    return json.dumps([float(f"{float(v):.8g}") for v in center])  # type: ignore[union-attr]


def meta_json(meta: Mapping[str, str], key: str, where: str = "model metadata") -> object | None:
    """The JSON value of metadata entry ``key`` (None when absent or empty); ``ValueError`` naming
    ``where`` and the key when it is not JSON (RecursionError: ``[[[[...`` nested 100,000 deep)."""
    text = meta.get(key)
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{where}: {key} is not JSON ({exc})") from exc


def decode_center(meta: dict[str, str], dim: int | None = None, where: str = "ONNX metadata") -> list[float] | None:
    """The ``embedding_center`` entry as D floats (None when absent); ``ValueError`` if it is not a
    JSON list of ``dim`` finite numbers."""
    values = meta_json(meta, CENTER_KEY, where)
    if values is None:
        return None
    if not isinstance(values, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{where}: {CENTER_KEY} must be a JSON list of numbers")
    if dim is not None and len(values) != dim:
        raise ValueError(f"{where}: {CENTER_KEY} has {len(values)} values, expected {dim} (the embedding's width)")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{where}: {CENTER_KEY} contains NaN or infinity")
    return [float(v) for v in values]
