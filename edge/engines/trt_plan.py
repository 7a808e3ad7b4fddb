"""TensorRT build decisions as pure functions: testable on machines without TensorRT.

Nothing here imports ``tensorrt``. The builder (:mod:`edge.engines.tensorrt`) passes in the
module's version string and the names of its ``BuilderFlag`` / ``NetworkDefinitionCreationFlag``
members, and gets back a :class:`BuildPlan` saying which flags to set and whether the ONNX must be
rewritten first. Also here: optimization-profile shapes, the engine cache key and path, and the
sidecar JSON that carries the model metadata next to an engine.

TensorRT 10 vs 11 (see docs/tensorrt.md):

- 10.x (JetPack 6): ``fp32`` and ``int8`` build strongly typed networks (precision comes from the
  graph: fp32 tensors, or Q/DQ nodes for INT8); ``fp16`` uses the weakly typed ``BuilderFlag.FP16``
  path, which leaves TensorRT free to keep sensitive layers in fp32 and needs no graph rewrite.
- 11.x: every network is strongly typed and ``BuilderFlag.FP16/INT8`` are gone, so ``fp16``
  rewrites the ONNX to fp16 weights and activations (IO stays fp32) before parsing; ``int8`` needs
  a Q/DQ ONNX (``crossglg-calib``) exactly as on 10.x.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from crossglg.atomic import atomic_write

from .base import ModelMeta

PRECISIONS = ("fp32", "fp16", "int8")
MIN_TRT_MAJOR = 10
SIDECAR_SCHEMA = "crossglg.engine/1"
# bump when what build_engine produces changes for the same inputs, so old cache entries miss
CACHE_SCHEMA = 1


@dataclass(frozen=True)
class BuildPlan:
    """How to build one precision with one TensorRT version.

    Attributes:
        network_flags: ``NetworkDefinitionCreationFlag`` member names to OR into create_network().
        set_flags / clear_flags: ``BuilderFlag`` member names to set / clear on the builder config.
        onnx_transform: ``"none"`` or ``"fp16"`` (rewrite weights/activations to fp16, IO fp32).
        requires_qdq: the ONNX must contain QuantizeLinear/DequantizeLinear nodes.
        strongly_typed: whether the network's tensor types decide precision.
    """

    precision: str
    network_flags: tuple[str, ...] = ()
    set_flags: tuple[str, ...] = ()
    clear_flags: tuple[str, ...] = ()
    onnx_transform: str = "none"
    requires_qdq: bool = False
    strongly_typed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision, "network_flags": list(self.network_flags),
                "set_flags": list(self.set_flags), "clear_flags": list(self.clear_flags),
                "onnx_transform": self.onnx_transform, "requires_qdq": self.requires_qdq,
                "strongly_typed": self.strongly_typed}


def parse_trt_version(version: str) -> tuple[int, int, int]:
    """``"10.3.0.30"`` -> ``(10, 3, 0)``; raises ValueError on anything not starting with digits."""
    m = re.match(r"^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(version))
    if not m:
        raise ValueError(f"cannot parse TensorRT version {version!r} (expected e.g. '10.3.0')")
    return int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)


def plan_build(precision: str, trt_version: str, builder_flags: Collection[str],
               network_flags: Collection[str]) -> BuildPlan:
    """Decide flags and ONNX rewrite for ``precision`` given what the installed TensorRT offers.

    Args:
        precision: ``fp32`` | ``fp16`` | ``int8``.
        trt_version: ``tensorrt.__version__``.
        builder_flags: names of ``tensorrt.BuilderFlag`` members (e.g. ``{"FP16", "TF32", ...}``).
        network_flags: names of ``tensorrt.NetworkDefinitionCreationFlag`` members.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    major = parse_trt_version(trt_version)[0]
    if major < MIN_TRT_MAJOR:
        raise ValueError(f"TensorRT {trt_version} is too old: {MIN_TRT_MAJOR}.x or newer is required "
                         "(set_tensor_address/execute_async_v3 API)")
    builder_flags, network_flags = set(builder_flags), set(network_flags)
    # 11+: strong typing is always on and the flag is deprecated (ignored): do not pass it
    always_strong = major >= 11
    can_strong = always_strong or "STRONGLY_TYPED" in network_flags
    strong_flags: tuple[str, ...] = () if always_strong else ("STRONGLY_TYPED",)
    # fp32 means fp32: TF32 (on by default on Ampere, e.g. Jetson Orin) would cost parity with ORT
    clear = ("TF32",) if precision == "fp32" and "TF32" in builder_flags else ()

    if precision == "fp16":
        if not always_strong and "FP16" in builder_flags:
            return BuildPlan("fp16", set_flags=("FP16",))
        if not can_strong:
            raise ValueError(f"TensorRT {trt_version} offers neither BuilderFlag.FP16 nor strongly typed networks")
        return BuildPlan("fp16", network_flags=strong_flags, onnx_transform="fp16", strongly_typed=True)
    if precision == "int8":
        if can_strong:
            return BuildPlan("int8", network_flags=strong_flags, requires_qdq=True, strongly_typed=True)
        if "INT8" in builder_flags:  # a 10.x build without strong typing: Q/DQ + the INT8 flag
            return BuildPlan("int8", set_flags=("INT8",), requires_qdq=True)
        raise ValueError(f"TensorRT {trt_version} offers neither strongly typed networks nor BuilderFlag.INT8")
    if can_strong:
        return BuildPlan("fp32", network_flags=strong_flags, clear_flags=clear, strongly_typed=True)
    return BuildPlan("fp32", clear_flags=clear)


def profile_shapes(dims: Sequence[int], max_batch: int, opt_batch: int | None,
                   fixed: Mapping[int, int]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(min, opt, max) shapes for the input's optimization profile.

    Args:
        dims: the parsed network input's dims, ``-1`` where dynamic; axis 0 is the batch N.
        max_batch / opt_batch: largest batch, and the batch TensorRT tunes for (default 1: the
            edge embeds one window per track at a time).
        fixed: values for dynamic non-batch axes (e.g. ``{2: frames, 3: joints, 4: bodies}``).
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    opt = 1 if opt_batch is None else opt_batch
    if not 1 <= opt <= max_batch:
        raise ValueError(f"opt_batch must be in [1, max_batch={max_batch}], got {opt}")
    dims = [int(d) for d in dims]
    if not dims:
        raise ValueError("network input has no dimensions")
    rest = []
    for axis, d in enumerate(dims[1:], start=1):
        if d > 0:
            rest.append(d)
        elif axis in fixed:
            rest.append(int(fixed[axis]))
        else:
            raise ValueError(f"input axis {axis} is dynamic and no value is known for it (dims {dims})")
    if dims[0] > 0:  # exported with a static batch: only that batch can run
        if max_batch != dims[0]:
            raise ValueError(f"the ONNX input has a static batch of {dims[0]}; re-export with a dynamic "
                             f"batch axis or use --max-batch {dims[0]}")
        return (dims[0], *rest), (dims[0], *rest), (dims[0], *rest)
    return (1, *rest), (opt, *rest), (max_batch, *rest)


def normalize_gpu_name(name: str | bytes) -> str:
    """Trim NULs and collapse whitespace so the same GPU always yields the same key component."""
    if isinstance(name, bytes):
        name = name.split(b"\0", 1)[0].decode("utf-8", "replace")
    name = " ".join(name.replace("\0", " ").split())
    if not name:
        raise ValueError("empty GPU name")
    return name


def cache_key(onnx_sha256: str, trt_version: str, gpu_name: str, precision: str,
              max_batch: int, opt_batch: int = 1) -> str:
    """sha256 over the things an engine depends on: (ONNX bytes, TensorRT version, GPU, precision)
    plus the optimization profile (batch range) and :data:`CACHE_SCHEMA`."""
    if not re.fullmatch(r"[0-9a-f]{64}", onnx_sha256):
        raise ValueError(f"onnx_sha256 must be 64 lowercase hex digits, got {onnx_sha256!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    parts = {"schema": CACHE_SCHEMA, "onnx_sha256": onnx_sha256, "trt_version": str(trt_version).strip(),
             "gpu_name": normalize_gpu_name(gpu_name), "precision": precision,
             "max_batch": int(max_batch), "opt_batch": int(opt_batch)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def default_cache_dir() -> Path:
    """``$CROSSGLG_ENGINE_CACHE``, else ``$XDG_CACHE_HOME/crossglg/engines``, else ``~/.cache/...``."""
    env = os.environ.get("CROSSGLG_ENGINE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crossglg" / "engines"


def cached_engine_path(cache_dir: str | os.PathLike[str], key: str, precision: str) -> Path:
    """``<cache_dir>/<precision>-<key[:16]>.engine`` (the sidecar is that path + ``.json``)."""
    return Path(cache_dir) / f"{precision}-{key[:16]}.engine"


def sidecar_path(engine_path: str | os.PathLike[str]) -> Path:
    """``model.engine`` -> ``model.engine.json``."""
    p = Path(engine_path)
    return p.with_name(p.name + ".json")


@dataclass(frozen=True)
class EngineInfo:
    """The sidecar JSON next to an engine: model metadata plus what the engine was built for."""

    meta: ModelMeta
    onnx_sha256: str
    trt_version: str
    gpu_name: str
    precision: str
    max_batch: int
    opt_batch: int
    cache_key: str
    input_shape: tuple[int, ...]  # the profile's max shape (max_batch, 3, T, V, M)
    plan: Mapping[str, Any] = field(default_factory=dict)
    created: str = ""
    schema: str = SIDECAR_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "meta": self.meta.to_dict(), "onnx_sha256": self.onnx_sha256,
                "trt_version": self.trt_version, "gpu_name": self.gpu_name, "precision": self.precision,
                "max_batch": self.max_batch, "opt_batch": self.opt_batch, "cache_key": self.cache_key,
                "input_shape": list(self.input_shape), "plan": dict(self.plan),
                "created": self.created or datetime.now(timezone.utc).isoformat(timespec="seconds")}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "engine sidecar") -> EngineInfo:
        if d.get("schema") != SIDECAR_SCHEMA:
            raise ValueError(f"{where}: schema must be {SIDECAR_SCHEMA!r}, got {d.get('schema')!r}")
        try:
            return cls(meta=ModelMeta.from_dict(d["meta"], where=f"{where}: meta"),
                       onnx_sha256=str(d["onnx_sha256"]), trt_version=str(d["trt_version"]),
                       gpu_name=str(d["gpu_name"]), precision=str(d["precision"]),
                       max_batch=int(d["max_batch"]), opt_batch=int(d["opt_batch"]),
                       cache_key=str(d["cache_key"]), input_shape=tuple(int(v) for v in d["input_shape"]),
                       plan=dict(d.get("plan") or {}), created=str(d.get("created", "")))
        except KeyError as exc:
            raise ValueError(f"{where}: missing field {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from exc


def write_sidecar(engine_path: str | os.PathLike[str], info: EngineInfo) -> Path:
    """Write ``<engine>.json`` atomically; returns its path."""
    path = sidecar_path(engine_path)
    atomic_write(path, (json.dumps(info.to_dict(), indent=2, sort_keys=True) + "\n").encode())
    return path


def read_sidecar(engine_path: str | os.PathLike[str]) -> EngineInfo:
    """Read ``<engine>.json``; a missing or malformed sidecar is a ValueError/FileNotFoundError
    saying how to fix it (rebuild with ``crossglg-edge build-engine``)."""
    path = sidecar_path(engine_path)
    if not path.is_file():
        raise FileNotFoundError(f"engine metadata sidecar not found: {path} (rebuild the engine with "
                                "`crossglg-edge build-engine MODEL.onnx`, which writes it)")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if not isinstance(d, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return EngineInfo.from_dict(d, where=str(path))
