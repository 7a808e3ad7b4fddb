"""TensorRT backend: build an engine from our ONNX on the device, cache it, and run it.

``tensorrt`` (and ``cuda-python`` for device memory) are imported inside functions only: importing
this module works everywhere, and a machine without TensorRT gets
:class:`~edge.engines.base.EngineUnavailableError` with an install hint when it tries to use it.

Engines are tied to the TensorRT version and the GPU, so they are built where they run and cached
under ``(ONNX sha256, TensorRT version, GPU name, precision, batch profile)`` (see
:mod:`edge.engines.trt_plan`). The model metadata travels in a sidecar ``<engine>.json``.
Inference uses the TensorRT 10+/11 name-based API: ``set_input_shape`` + ``set_tensor_address`` +
``execute_async_v3`` on one CUDA stream, with device buffers from cuda-python's runtime bindings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from crossglg.atomic import atomic_write
from crossglg.basestats import basestats_path
from crossglg.skeleton.layouts import get_layout

from . import onnx_prep
from .base import EMBEDDING_NAME, INPUT_NAME, LOGITS_NAME, EngineBase, EngineUnavailableError
from .onnx import OnnxEngine, file_sha256
from .trt_plan import (
    PRECISIONS,
    EngineInfo,
    cache_key,
    cached_engine_path,
    default_cache_dir,
    normalize_gpu_name,
    plan_build,
    profile_shapes,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

INSTALL_HINT = ("TensorRT is not installed: on Jetson (JetPack 6, TensorRT 10.x) it comes with JetPack "
                "(apt: python3-libnvinfer); on x86_64 with an NVIDIA GPU: pip install 'crossglg[trt]' "
                "(tensorrt from NVIDIA's package index). See docs/tensorrt.md.")


def import_tensorrt() -> Any:
    """The ``tensorrt`` module, or EngineUnavailableError with how to install it."""
    try:
        import tensorrt
    except ImportError as exc:
        raise EngineUnavailableError(INSTALL_HINT) from exc
    return tensorrt


def import_cudart() -> Any:
    """cuda-python's runtime bindings (``cuda.bindings.runtime`` in 12.6+, ``cuda.cudart`` before)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError as exc:
            raise EngineUnavailableError("running TensorRT engines needs cuda-python: "
                                         "pip install 'cuda-python>=12' (matching your CUDA major)") from exc
    return cudart


def _cuda_ok(cudart: Any, result: Any) -> Any:
    """Unwrap cuda-python's ``(err, *values)`` tuples, raising RuntimeError on any error."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != cudart.cudaError_t.cudaSuccess:
        raise RuntimeError(f"CUDA call failed: {err}")
    return values[0] if len(values) == 1 else tuple(values)


def detect_gpu_name(device: int = 0) -> str:
    """GPU name for the cache key: cuda-python, then ``nvidia-smi``, then the Jetson device tree."""
    try:
        cudart = import_cudart()
        props = _cuda_ok(cudart, cudart.cudaGetDeviceProperties(device))
        return normalize_gpu_name(props.name)
    except (EngineUnavailableError, RuntimeError, ValueError):
        pass
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", f"--id={device}", "--query-gpu=name", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20, check=True).stdout
            return normalize_gpu_name(out.splitlines()[0])
        except (subprocess.SubprocessError, OSError, IndexError, ValueError):
            pass
    model = Path("/proc/device-tree/model")  # Jetson: e.g. "NVIDIA Jetson AGX Orin Developer Kit"
    if model.is_file():
        return normalize_gpu_name(model.read_bytes())
    raise EngineUnavailableError("no NVIDIA GPU found (cuda-python, nvidia-smi and /proc/device-tree/model "
                                 "all failed); pass --gpu-name to name it explicitly")


def _members(enum_type: Any) -> set[str]:
    """Member names of a pybind11 enum (``__members__``), or public attributes as a fallback."""
    members = getattr(enum_type, "__members__", None)
    return set(members) if members else {n for n in dir(enum_type) if n.isupper()}


def build_engine(onnx_path: str | os.PathLike[str], precision: str = "fp32", cache_dir: str | os.PathLike[str] | None = None,
                 max_batch: int = 8, opt_batch: int = 1, out: str | os.PathLike[str] | None = None,
                 workspace_mb: int = 1024, gpu_name: str | None = None, force: bool = False,
                 log: Callable[[str], None] = print) -> Path:
    """Build (or fetch from the cache) a TensorRT engine for an ONNX model; return its path.

    Args:
        onnx_path: the exported model (input ``skeleton`` with a dynamic batch axis).
        precision: ``fp32`` | ``fp16`` | ``int8`` (int8 needs a Q/DQ ONNX from crossglg-calib).
        cache_dir: engine cache (default :func:`edge.engines.trt_plan.default_cache_dir`).
        max_batch / opt_batch: the optimization profile's batch range and tuning point.
        out: also copy the engine (and its sidecar) here.
        workspace_mb: builder workspace memory pool limit.
        gpu_name: override GPU detection (the cache key uses it).
        force: rebuild even when a cached engine exists.
    """
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {onnx_path}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    # input checks first, so a wrong model is reported as such even where TensorRT is missing
    model = onnx_prep.load_onnx(onnx_path)
    if precision == "int8" and not onnx_prep.has_qdq(model):
        raise ValueError(f"{onnx_path}: --precision int8 needs an explicitly quantised ONNX (Q/DQ nodes); "
                         "make one with crossglg-calib (TensorRT 10/11 builds here use no implicit calibration)")
    if precision == "int8" and (problems := onnx_prep.qdq_problems(model)):
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ValueError(f"{onnx_path}: TensorRT needs symmetric int8 Q/DQ: {'; '.join(problems[:3])}{more}; "
                         "quantise with activation/weight type QInt8 and symmetric ranges")
    trt = import_tensorrt()
    plan = plan_build(precision, trt.__version__, _members(trt.BuilderFlag),
                      _members(trt.NetworkDefinitionCreationFlag))
    with OnnxEngine(onnx_path, provider="cpu", threads=1) as ref:  # the metadata, read one way everywhere
        meta = ref.meta
        joints = ref.joints
    sha = file_sha256(onnx_path)
    gpu = normalize_gpu_name(gpu_name) if gpu_name else detect_gpu_name()
    key = cache_key(sha, trt.__version__, gpu, precision, max_batch, opt_batch)
    engine_path = cached_engine_path(cache_dir or default_cache_dir(), key, precision)

    if (not force and engine_path.is_file() and sidecar_path(engine_path).is_file()
            and read_sidecar(engine_path).cache_key == key):
        log(f"cached engine: {engine_path}")
        _copy_base_stats(onnx_path, engine_path)  # the ONNX may have been re-exported with statistics
        return _copy_out(engine_path, out, log)

    if plan.onnx_transform == "fp16":
        log("converting ONNX weights/activations to fp16 for a strongly typed build (IO stays fp32)")
        model = onnx_prep.convert_fp16(model)

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    for name in plan.network_flags:
        flags |= 1 << int(getattr(trt.NetworkDefinitionCreationFlag, name))
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_prep.serialize(model)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValueError(f"{onnx_path}: TensorRT could not parse the ONNX: {errors}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    for name in plan.set_flags:
        config.set_flag(getattr(trt.BuilderFlag, name))
    for name in plan.clear_flags:
        config.clear_flag(getattr(trt.BuilderFlag, name))

    inp = next((network.get_input(i) for i in range(network.num_inputs)
                if network.get_input(i).name == INPUT_NAME), None)
    if inp is None:
        raise ValueError(f"{onnx_path}: the network has no input named {INPUT_NAME!r}")
    lo, opt, hi = profile_shapes(tuple(inp.shape), max_batch, opt_batch,
                                 {2: meta.frames, 3: joints or get_layout(meta.layout).num_joints, 4: meta.bodies})
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, lo, opt, hi)
    config.add_optimization_profile(profile)

    log(f"building TensorRT {trt.__version__} {precision} engine for {gpu} (batch {lo[0]}..{hi[0]}); "
        "this takes a while")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path} (see the log above)")
    atomic_write(engine_path, bytes(serialized))
    info = EngineInfo(meta=meta, onnx_sha256=sha, trt_version=trt.__version__, gpu_name=gpu,
                      precision=precision, max_batch=hi[0], opt_batch=opt[0], cache_key=key,
                      input_shape=tuple(hi), plan=plan.to_dict())
    write_sidecar(engine_path, info)
    _copy_base_stats(onnx_path, engine_path)
    log(f"engine: {engine_path}")
    return _copy_out(engine_path, out, log)


def _copy_base_stats(src_model: Path, dst_model: Path) -> None:
    """The ONNX's base-statistics sidecar (distribution calibration) travels to the engine too."""
    src = basestats_path(src_model)
    if src.is_file():
        atomic_write(basestats_path(dst_model), src.read_bytes())


def _copy_out(engine_path: Path, out: str | os.PathLike[str] | None, log: Callable[[str], None]) -> Path:
    """Copy an engine and its sidecar to ``out`` (atomically); return the path callers should use."""
    if out is None:
        return engine_path
    out = Path(out)
    atomic_write(out, engine_path.read_bytes())
    atomic_write(sidecar_path(out), sidecar_path(engine_path).read_bytes())
    _copy_base_stats(engine_path, out)
    log(f"copied to {out}")
    return out


class TensorRTEngine(EngineBase):
    """A serialized TensorRT engine (``.engine`` / ``.plan`` + sidecar JSON) behind the Engine API.

    Batches larger than the engine's ``max_batch`` run in chunks. The engine must have been built by
    the same TensorRT version (checked against the sidecar: engines are not portable).
    """

    backend = "tensorrt"

    def __init__(self, path: str | os.PathLike[str], device: int = 0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"TensorRT engine not found: {self.path}")
        self.info = read_sidecar(self.path)
        trt = import_tensorrt()
        if trt.__version__ != self.info.trt_version:
            raise ValueError(f"{self.path} was built with TensorRT {self.info.trt_version} but this is "
                             f"{trt.__version__}: rebuild it here with `crossglg-edge build-engine`")
        self._trt = trt
        self._cudart = cudart = import_cudart()
        _cuda_ok(cudart, cudart.cudaSetDevice(device))
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self._engine is None:
            raise ValueError(f"{self.path}: TensorRT could not deserialize the engine (wrong GPU or corrupt file)")
        self._context = self._engine.create_execution_context()
        self._stream = _cuda_ok(cudart, cudart.cudaStreamCreate())
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (device pointer, capacity in bytes)
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self._inputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self._outputs = [n for n in names if n in (EMBEDDING_NAME, LOGITS_NAME)]
        self._dtypes = {n: np.dtype(trt.nptype(self._engine.get_tensor_dtype(n))) for n in names}
        if self._inputs != [INPUT_NAME] or EMBEDDING_NAME not in self._outputs:
            raise ValueError(f"{self.path}: expected input {INPUT_NAME!r} and output {EMBEDDING_NAME!r}, "
                             f"found tensors {names}")
        shape = self.info.input_shape
        super().__init__(self.info.meta, joints=shape[3] if len(shape) == 5 else None,
                         has_logits=LOGITS_NAME in self._outputs)

    def _buffer(self, name: str, nbytes: int) -> int:
        """A device buffer of at least ``nbytes`` for tensor ``name`` (grow-only, reused across calls)."""
        ptr, cap = self._buffers.get(name, (0, 0))
        if cap < nbytes:
            if ptr:
                _cuda_ok(self._cudart, self._cudart.cudaFree(ptr))
            ptr = int(_cuda_ok(self._cudart, self._cudart.cudaMalloc(nbytes)))
            self._buffers[name] = (ptr, nbytes)
        return ptr

    def _run_chunk(self, x: np.ndarray) -> dict[str, np.ndarray]:
        cudart, ctx, stream = self._cudart, self._context, self._stream
        x = np.ascontiguousarray(x, dtype=self._dtypes[INPUT_NAME])
        if not ctx.set_input_shape(INPUT_NAME, tuple(x.shape)):
            raise ValueError(f"input shape {x.shape} is outside the engine's profile {self.info.input_shape}")
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        ptr = self._buffer(INPUT_NAME, x.nbytes)
        _cuda_ok(cudart, cudart.cudaMemcpyAsync(ptr, x.ctypes.data, x.nbytes, h2d, stream))
        ctx.set_tensor_address(INPUT_NAME, ptr)
        results = {}
        for name in self._outputs:
            host = np.empty(tuple(ctx.get_tensor_shape(name)), dtype=self._dtypes[name])
            results[name] = host
            ctx.set_tensor_address(name, self._buffer(name, max(host.nbytes, 1)))
        if not ctx.execute_async_v3(int(stream)):
            raise RuntimeError(f"{self.path}: TensorRT execution failed")
        for name, host in results.items():
            _cuda_ok(cudart, cudart.cudaMemcpyAsync(host.ctypes.data, self._buffers[name][0], host.nbytes, d2h, stream))
        _cuda_ok(cudart, cudart.cudaStreamSynchronize(stream))
        return {k: v.astype(np.float32, copy=False) for k, v in results.items()}

    def _run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        step = self.info.max_batch
        chunks = [self._run_chunk(x[i:i + step]) for i in range(0, len(x), step)]
        return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "precision": self.info.precision, "trt_version": self.info.trt_version,
                "gpu_name": self.info.gpu_name, "path": str(self.path)}

    def _release(self) -> None:
        cudart = getattr(self, "_cudart", None)
        for ptr, _ in getattr(self, "_buffers", {}).values():
            cudart.cudaFree(ptr)
        self._buffers = {}
        if getattr(self, "_stream", None) is not None:
            cudart.cudaStreamDestroy(self._stream)
            self._stream = None
        self._context = self._engine = self._runtime = None
