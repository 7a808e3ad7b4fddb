"""Input checks for the skeleton models: clear ``ValueError`` before any computation.

Skipped while the model is being traced, compiled or exported (the checks read tensor values,
which would either break the graph or bake a constant into it), so exported ONNX graphs stay clean.
"""

from __future__ import annotations

import torch


def is_graph_capture() -> bool:
    """True while torch.jit tracing, torch.compile/dynamo, torch.export or ONNX export runs."""
    if torch.jit.is_tracing() or torch.jit.is_scripting():
        return True
    if torch.compiler.is_compiling():
        return True
    is_exporting = getattr(torch.compiler, "is_exporting", None)
    if is_exporting is not None and is_exporting():
        return True
    return bool(torch.onnx.is_in_onnx_export())


def validate_skeleton_input(x: object, *, channels: int, joints: int, bodies: int, layout_name: str = "") -> None:
    """Check a model input ``(N, C, T, V, M)``; raise ``ValueError`` naming what was expected."""
    where = f" ({layout_name})" if layout_name else ""
    expected = f"(N, {channels}, T, {joints}, {bodies})"
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"skeleton input: expected a torch.Tensor {expected}, got {type(x).__name__}")
    if x.dim() != 5:
        raise ValueError(f"skeleton input: expected rank 5 {expected}, got rank {x.dim()} shape {tuple(x.shape)}")
    n, c, t, v, m = x.shape
    if c != channels:
        raise ValueError(f"skeleton input: expected C={channels} channels {expected}, got shape {tuple(x.shape)}")
    if v != joints:
        raise ValueError(f"skeleton input: expected V={joints} joints{where} {expected}, got {v} in shape {tuple(x.shape)}")
    if m != bodies:
        raise ValueError(f"skeleton input: expected M={bodies} bodies {expected}, got {m} in shape {tuple(x.shape)}")
    if n < 1 or t < 1:
        raise ValueError(f"skeleton input: empty batch or time axis, shape {tuple(x.shape)}; expected {expected}")
    if not x.is_floating_point():
        raise ValueError(f"skeleton input: expected a floating-point tensor, got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        bad = "NaN" if bool(torch.isnan(x).any()) else "inf"
        raise ValueError(
            f"skeleton input: contains {bad}; expected finite values (missing joints must be filled by "
            "crossglg.preprocess before the model)"
        )
