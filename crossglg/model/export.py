"""ONNX export of the inference model (skeleton branch) into ONE self-contained file.

:func:`export_onnx` writes ``skeleton (N, C, T, V, M)`` -> ``embedding (N, D)`` [+ ``logits (N, K)``]
with a dynamic batch axis and ``crossglg.*`` metadata_props (see :mod:`crossglg.model_meta`;
read them back without torch via :func:`crossglg.model_meta.read_onnx_metadata`).

The dynamo exporter is tried first (its graph is leaner for ONNX Runtime); if it fails, the
TorchScript exporter is used. The ``exporter`` metadata key records which one produced the file.

A :class:`SkeletonBranch` with the InfoGCN encoder is exported through its inference-equivalent
rewrite (:mod:`crossglg.model.export_fused`: folded normalisations, channels-last blocks, same
maths); ``fused=False`` exports the training module's own eval graph. The ``graph`` metadata key
records which (``fused-cl/<n>`` or ``module``); the fingerprint is always that of the trained
``state_dict``, so support stores do not depend on the graph form.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from crossglg.model_meta import EMBEDDING_NAME, INPUT_NAME, LOGITS_NAME, META_PREFIX

from .export_fused import FUSED_GRAPH_VERSION, fuse_for_export
from .infogcn import InfoGCNEncoder
from .skeleton_branch import SkeletonBranch

log = logging.getLogger(__name__)


def weights_fingerprint(module: nn.Module) -> str:
    """sha256 over the state dict (names, dtypes, shapes, bytes) in name order."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def default_metadata(model: SkeletonBranch, classes: list[str] | None = None, preprocess_id: str = "",
                     model_id: str = "") -> dict[str, str]:
    """Metadata derived from the model (caller adds/overrides e.g. preprocess_id, classes)."""
    cfg = model.cfg
    return {
        "classes": json.dumps(list(classes or [])),
        "layout": cfg.layout,
        "frames": str(cfg.frames),
        "bodies": str(cfg.max_bodies),
        "embedding_dim": str(cfg.embed_dim),
        "preprocess_id": preprocess_id,
        "fingerprint": weights_fingerprint(model),
        "model_id": model_id or f"crossglg-{cfg.encoder}-{cfg.layout}",
        "encoder": cfg.encoder,
        "model_config": json.dumps(cfg.to_dict(), sort_keys=True),
    }


def _export(model: nn.Module, example: torch.Tensor, path: Path, output_names: list[str], opset: int,
            dynamo: bool) -> None:
    if dynamo:
        batch = torch.export.Dim("batch", min=1, max=4096)
        torch.onnx.export(model, (example,), str(path), dynamo=True, external_data=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=output_names,
                          dynamic_shapes=({0: batch},), optimize=True, verbose=False)
    else:
        axes = {INPUT_NAME: {0: "batch"}, **{n: {0: "batch"} for n in output_names}}
        torch.onnx.export(model, (example,), str(path), dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=output_names, dynamic_axes=axes)


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
    *,
    frames: int | None = None,
    opset: int = 18,
    dynamo: bool | None = None,
    input_shape: tuple[int, ...] | None = None,
    output_names: list[str] | None = None,
    fused: bool | None = None,
) -> Path:
    """Export ``model`` (eval mode, CPU, float32) to one ``.onnx`` file; returns its path.

    Args:
        model: the inference model (``CrossGLGModel.inference_model()``, a :class:`SkeletonBranch`).
            Any other module (e.g. a benchmark baseline) needs ``input_shape`` and ``output_names``
            and gets only the metadata passed in.
        path: output file; written atomically (temp file + ``os.replace``), no ``.onnx.data``.
        metadata: string values stored as ``crossglg.<key>``; merged over :func:`default_metadata`.
        frames: T of the exported graph (default ``model.cfg.frames``); T is static, N is dynamic.
        opset: ONNX opset (the dynamo exporter needs >= 18).
        dynamo: True/False forces an exporter; None tries dynamo then falls back to TorchScript.
        input_shape: example input shape ``(N, C, T, V, M)`` (N is exported as dynamic).
        output_names: graph output names in the order the model returns them.
        fused: export a :class:`SkeletonBranch` through :func:`~crossglg.model.export_fused.fuse_for_export`
            (None: whenever its encoder is InfoGCN; True with another encoder raises ``ValueError``).
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(model, SkeletonBranch):
        meta = default_metadata(model)
        t = frames or model.cfg.frames
        meta["frames"] = str(t)  # the graph's T, even when it differs from the training config
        shape = input_shape or (2, model.cfg.in_channels, t, model.num_joints, model.cfg.max_bodies)
        names = output_names or (
            [EMBEDDING_NAME] if model.head.classifier is None else [EMBEDDING_NAME, LOGITS_NAME])
        if fused is None:
            fused = isinstance(model.encoder, InfoGCNEncoder)
        meta["graph"] = FUSED_GRAPH_VERSION if fused else "module"
    else:
        if fused:
            raise ValueError("export_onnx: fused=True needs a SkeletonBranch")
        if input_shape is None or output_names is None:
            raise ValueError("export_onnx: a model that is not a SkeletonBranch needs input_shape and output_names")
        meta, shape, names = {}, input_shape, output_names
    for k, v in (metadata or {}).items():
        if not isinstance(v, str):
            raise ValueError(f"export metadata: value of {k!r} must be a string, got {type(v).__name__}")
        meta[k[len(META_PREFIX):] if k.startswith(META_PREFIX) else k] = v
    example = torch.zeros(*shape)
    was_training = model.training
    model.eval()
    graph_module = fuse_for_export(model) if fused else model
    import onnx

    try:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".export-") as tmp:
            tmp_path = Path(tmp) / "model.onnx"
            used = None
            for use_dynamo in ([dynamo] if dynamo is not None else [True, False]):
                try:
                    _export(graph_module, example, tmp_path, names, opset, use_dynamo)
                    used = "dynamo" if use_dynamo else "torchscript"
                    break
                except Exception as exc:  # exporter failures come in many types
                    if dynamo is not None:
                        raise
                    log.warning("dynamo ONNX export failed (%s); falling back to the TorchScript exporter", exc)
            onnx_model = onnx.load(str(tmp_path))  # pulls in any external data so the result is one file
            meta["exporter"] = str(used)
            del onnx_model.metadata_props[:]
            for k, v in sorted(meta.items()):
                entry = onnx_model.metadata_props.add()
                entry.key, entry.value = META_PREFIX + k, v
            onnx.checker.check_model(onnx_model)
            final_tmp = Path(tmp) / "final.onnx"
            onnx.save_model(onnx_model, str(final_tmp), save_as_external_data=False)
            os.replace(final_tmp, out)
    finally:
        model.train(was_training)
    return out
