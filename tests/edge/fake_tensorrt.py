"""A recording stand-in for ``tensorrt`` + cuda-python's runtime, for machines without either.

TensorRT cannot be installed here, so without this the orchestration in edge/engines/tensorrt.py
(flags, profile, cache, sidecar, buffers, chunking) would never execute. The fake implements only
the API surface our code uses, with the names and call shapes of the TensorRT 10/11 Python API, and
is strict where TensorRT is (unknown enum members raise AttributeError; a removed flag does not
exist; outputs need set_input_shape first; every IO tensor needs an address before execution).
"Device memory" is host memory from ctypes; a "serialized engine" is a JSON header plus the ONNX
the parser saw, executed by ONNX Runtime. It proves our code drives the API consistently; it does
not prove TensorRT accepts our model: that is test_engines_trt_gpu.py (trt/gpu markers).
"""

from __future__ import annotations

import ctypes
import enum
import json
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

TRT10_BUILDER = ("FP16", "INT8", "TF32", "BF16", "FP8", "OBEY_PRECISION_CONSTRAINTS", "REFIT")
TRT10_NETWORK = ("EXPLICIT_BATCH", "STRONGLY_TYPED")
TRT11_BUILDER = ("TF32", "REFIT", "DEBUG")
TRT11_NETWORK = ("STRONGLY_TYPED", "PREFER_AOT_PYTHON_PLUGINS")
MAGIC = b"FAKETRT1"


@dataclass
class Record:
    """What the code under test did, for assertions."""

    network_flags: list[int] = field(default_factory=list)
    set_flags: list[str] = field(default_factory=list)
    clear_flags: list[str] = field(default_factory=list)
    pool_limits: dict[str, int] = field(default_factory=dict)
    profiles: list[tuple[str, tuple, tuple, tuple]] = field(default_factory=list)
    parsed: list[bytes] = field(default_factory=list)
    builds: int = 0
    executions: list[tuple[int, ...]] = field(default_factory=list)
    live_buffers: dict[int, Any] = field(default_factory=dict)


def _install_trt(version: str, builder_flags: tuple[str, ...], network_flags: tuple[str, ...], rec: Record) -> types.ModuleType:
    import onnx
    import onnxruntime as ort

    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.BuilderFlag = enum.IntEnum("BuilderFlag", {n: i for i, n in enumerate(builder_flags)})
    trt.NetworkDefinitionCreationFlag = enum.IntEnum("NetworkDefinitionCreationFlag", {n: i for i, n in enumerate(network_flags)})
    trt.MemoryPoolType = enum.IntEnum("MemoryPoolType", {"WORKSPACE": 0, "TACTIC_DRAM": 4})
    trt.TensorIOMode = enum.IntEnum("TensorIOMode", {"NONE": 0, "INPUT": 1, "OUTPUT": 2})
    trt.DataType = enum.IntEnum("DataType", {"FLOAT": 0, "HALF": 1})
    trt.nptype = lambda dt: {trt.DataType.FLOAT: np.float32, trt.DataType.HALF: np.float16}[dt]

    class Logger:
        WARNING = 2

        def __init__(self, level: int) -> None:
            self.level = level

    class Input:
        def __init__(self, name: str, shape: tuple[int, ...]) -> None:
            self.name, self.shape = name, shape

    class Network:
        def __init__(self, flags: int) -> None:
            self.flags, self.inputs, self.onnx = flags, [], b""

        @property
        def num_inputs(self) -> int:
            return len(self.inputs)

        def get_input(self, i: int) -> Input:
            return self.inputs[i]

    class OnnxParser:
        def __init__(self, network: Network, logger: Logger) -> None:
            self.network, self.num_errors = network, 0

        def parse(self, data: bytes) -> bool:
            model = onnx.load_from_string(data)
            rec.parsed.append(data)
            self.network.onnx = data
            for v in model.graph.input:
                dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim)
                self.network.inputs.append(Input(v.name, dims))
            return True

    class Profile:
        def set_shape(self, name: str, lo: tuple, opt: tuple, hi: tuple) -> None:
            rec.profiles.append((name, tuple(lo), tuple(opt), tuple(hi)))

    class Config:
        def __init__(self) -> None:
            self.profiles: list[Profile] = []

        def set_memory_pool_limit(self, pool: Any, size: int) -> None:
            rec.pool_limits[trt.MemoryPoolType(pool).name] = size

        def set_flag(self, flag: Any) -> None:
            rec.set_flags.append(trt.BuilderFlag(flag).name)

        def clear_flag(self, flag: Any) -> None:
            rec.clear_flags.append(trt.BuilderFlag(flag).name)

        def add_optimization_profile(self, profile: Profile) -> int:
            self.profiles.append(profile)
            return len(self.profiles) - 1

    class Builder:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def create_network(self, flags: int = 0) -> Network:
            rec.network_flags.append(flags)
            return Network(flags)

        def create_builder_config(self) -> Config:
            return Config()

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def build_serialized_network(self, network: Network, config: Config) -> bytes:
            assert config.profiles, "dynamic-batch network built without an optimization profile"
            rec.builds += 1
            name, lo, opt, hi = rec.profiles[-1]
            header = json.dumps({"input": name, "min": lo, "max": hi}).encode()
            return MAGIC + len(header).to_bytes(4, "little") + header + network.onnx

    class Context:
        def __init__(self, engine: Engine) -> None:
            self.engine, self.shape, self.addresses = engine, None, {}

        def set_input_shape(self, name: str, shape: tuple) -> bool:
            lo, hi = self.engine.header["min"], self.engine.header["max"]
            ok = name == self.engine.header["input"] and all(a <= s <= b for a, s, b in zip(lo, shape, hi, strict=True))
            self.shape = tuple(shape) if ok else None
            return ok

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            if self.shape is None:
                raise RuntimeError("get_tensor_shape before a valid set_input_shape")
            return (self.shape[0], *self.engine.out_dims[name])

        def set_tensor_address(self, name: str, ptr: int) -> bool:
            self.addresses[name] = int(ptr)
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
            missing = [n for n in names if n not in self.addresses]
            if missing or not isinstance(stream_handle, int):
                raise RuntimeError(f"execute_async_v3: no address for {missing} or bad stream {stream_handle!r}")
            inp = self.engine.header["input"]
            count = int(np.prod(self.shape))
            x = np.ctypeslib.as_array((ctypes.c_float * count).from_address(self.addresses[inp])).reshape(self.shape).copy()
            outs = self.engine.session.run(self.engine.outputs, {inp: x})
            for name, value in zip(self.engine.outputs, outs, strict=True):
                value = np.ascontiguousarray(value, dtype=np.float32)
                ctypes.memmove(self.addresses[name], value.ctypes.data, value.nbytes)
            rec.executions.append(self.shape)
            return True

    class Engine:
        def __init__(self, blob: bytes) -> None:
            n = int.from_bytes(blob[len(MAGIC):len(MAGIC) + 4], "little")
            self.header = json.loads(blob[len(MAGIC) + 4:len(MAGIC) + 4 + n])
            model_bytes = blob[len(MAGIC) + 4 + n:]
            self.session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
            self.outputs = [o.name for o in self.session.get_outputs()]
            self.out_dims = {o.name: tuple(o.shape[1:]) for o in self.session.get_outputs()}
            self.names = [self.header["input"], *self.outputs]

        @property
        def num_io_tensors(self) -> int:
            return len(self.names)

        def get_tensor_name(self, i: int) -> str:
            return self.names[i]

        def get_tensor_mode(self, name: str) -> Any:
            return trt.TensorIOMode.INPUT if name == self.header["input"] else trt.TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name: str) -> Any:
            return trt.DataType.FLOAT

        def create_execution_context(self) -> Context:
            return Context(self)

    class Runtime:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, blob: bytes) -> Engine | None:
            return Engine(blob) if blob.startswith(MAGIC) else None

    trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = Logger, Builder, OnnxParser, Runtime
    return trt


def _install_cudart(rec: Record) -> types.ModuleType:
    rt = types.ModuleType("cuda.bindings.runtime")
    rt.cudaError_t = enum.IntEnum("cudaError_t", {"cudaSuccess": 0, "cudaErrorInvalidValue": 1})
    rt.cudaMemcpyKind = enum.IntEnum("cudaMemcpyKind", {"cudaMemcpyHostToDevice": 1, "cudaMemcpyDeviceToHost": 2})
    ok = rt.cudaError_t.cudaSuccess

    class Stream:
        def __int__(self) -> int:
            return 0x5EED

    def malloc(nbytes: int) -> tuple[Any, int]:
        buf = ctypes.create_string_buffer(int(nbytes))
        addr = ctypes.addressof(buf)
        rec.live_buffers[addr] = buf
        return ok, addr

    def free(ptr: int) -> tuple[Any]:
        return (ok,) if rec.live_buffers.pop(int(ptr), None) is not None else (rt.cudaError_t.cudaErrorInvalidValue,)

    def memcpy(dst: int, src: int, nbytes: int, kind: Any, stream: Stream) -> tuple[Any]:
        device = dst if kind == rt.cudaMemcpyKind.cudaMemcpyHostToDevice else src
        if not any(a <= device < a + len(b) for a, b in rec.live_buffers.items()):
            return (rt.cudaError_t.cudaErrorInvalidValue,)
        ctypes.memmove(dst, src, nbytes)
        return (ok,)

    rt.cudaMalloc, rt.cudaFree, rt.cudaMemcpyAsync = malloc, free, memcpy
    rt.cudaStreamCreate = lambda: (ok, Stream())
    rt.cudaStreamSynchronize = lambda stream: (ok,)
    rt.cudaStreamDestroy = lambda stream: (ok,)
    rt.cudaSetDevice = lambda device: (ok,)
    rt.cudaGetDeviceProperties = lambda device: (ok, types.SimpleNamespace(name=b"Fake GPU 9000\0\0"))
    return rt


def install(monkeypatch: pytest.MonkeyPatch, version: str = "10.3.0", builder_flags: tuple[str, ...] = TRT10_BUILDER,
            network_flags: tuple[str, ...] = TRT10_NETWORK) -> Record:
    """Put fake ``tensorrt`` and ``cuda.bindings.runtime`` into sys.modules for one test."""
    rec = Record()
    monkeypatch.setitem(sys.modules, "tensorrt", _install_trt(version, builder_flags, network_flags, rec))
    rt = _install_cudart(rec)
    cuda = types.ModuleType("cuda")
    bindings = types.ModuleType("cuda.bindings")
    bindings.runtime = rt
    cuda.bindings = bindings
    monkeypatch.setitem(sys.modules, "cuda", cuda)
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", rt)
    return rec
