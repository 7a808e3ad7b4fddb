"""TensorRT backend logic that needs no TensorRT: build plans for 10.x vs 11.x, profiles, cache
keys, sidecars, and the behaviour of `crossglg-edge build-engine` / `load_engine` where TensorRT is
missing. The parity tests that need TensorRT and a GPU are in test_engines_trt_gpu.py (marked)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.engines import EngineUnavailableError, ModelMeta, load_engine
from edge.engines.trt_plan import (
    CACHE_SCHEMA,
    EngineInfo,
    cache_key,
    cached_engine_path,
    normalize_gpu_name,
    parse_trt_version,
    plan_build,
    profile_shapes,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

ROOT = Path(__file__).resolve().parents[2]
HAS_TRT = importlib.util.find_spec("tensorrt") is not None

# Member names as the two major versions expose them (10.x: weak-typing precision flags present;
# 11.x: removed per NVIDIA's 10.x -> 11.x migration guide; STRONGLY_TYPED kept but ignored).
TRT10_BUILDER = {"FP16", "INT8", "TF32", "BF16", "FP8", "OBEY_PRECISION_CONSTRAINTS", "REFIT", "SPARSE_WEIGHTS"}
TRT10_NETWORK = {"EXPLICIT_BATCH", "STRONGLY_TYPED"}
TRT11_BUILDER = {"TF32", "REFIT", "SPARSE_WEIGHTS", "DEBUG"}
TRT11_NETWORK = {"STRONGLY_TYPED", "PREFER_AOT_PYTHON_PLUGINS", "PREFER_JIT_PYTHON_PLUGINS"}
SHA = "ab" * 32


def test_parse_trt_version() -> None:
    assert parse_trt_version("10.3.0.30") == (10, 3, 0)
    assert parse_trt_version("11.4.0.106") == (11, 4, 0)
    assert parse_trt_version("10") == (10, 0, 0)
    with pytest.raises(ValueError, match="TensorRT version"):
        parse_trt_version("unknown")


def test_plan_trt10_uses_fp16_flag_and_strong_typing_for_fp32_int8() -> None:
    fp32 = plan_build("fp32", "10.3.0", TRT10_BUILDER, TRT10_NETWORK)
    assert fp32.network_flags == ("STRONGLY_TYPED",) and fp32.strongly_typed
    assert fp32.clear_flags == ("TF32",) and fp32.set_flags == ()
    fp16 = plan_build("fp16", "10.3.0", TRT10_BUILDER, TRT10_NETWORK)
    assert fp16.set_flags == ("FP16",) and fp16.onnx_transform == "none" and not fp16.strongly_typed
    int8 = plan_build("int8", "10.3.0", TRT10_BUILDER, TRT10_NETWORK)
    assert int8.requires_qdq and int8.strongly_typed and int8.set_flags == ()


def test_plan_trt10_without_strong_typing_falls_back_to_int8_flag() -> None:
    int8 = plan_build("int8", "10.0.1", TRT10_BUILDER, {"EXPLICIT_BATCH"})
    assert int8.set_flags == ("INT8",) and int8.requires_qdq and not int8.strongly_typed
    fp32 = plan_build("fp32", "10.0.1", TRT10_BUILDER, {"EXPLICIT_BATCH"})
    assert fp32.network_flags == () and fp32.clear_flags == ("TF32",)


def test_plan_trt11_never_uses_removed_flags() -> None:
    for precision in ("fp32", "fp16", "int8"):
        plan = plan_build(precision, "11.4.0.106", TRT11_BUILDER, TRT11_NETWORK)
        assert plan.strongly_typed
        assert plan.network_flags == ()  # deprecated + ignored on 11: not passed
        assert set(plan.set_flags) <= TRT11_BUILDER and set(plan.clear_flags) <= TRT11_BUILDER
    assert plan_build("fp16", "11.0.0", TRT11_BUILDER, TRT11_NETWORK).onnx_transform == "fp16"
    assert plan_build("int8", "11.0.0", TRT11_BUILDER, TRT11_NETWORK).requires_qdq
    assert plan_build("fp32", "11.0.0", TRT11_BUILDER, TRT11_NETWORK).onnx_transform == "none"


def test_plan_feature_detects_a_10x_without_fp16_flag() -> None:
    plan = plan_build("fp16", "10.14.1", TRT10_BUILDER - {"FP16"}, TRT10_NETWORK)
    assert plan.onnx_transform == "fp16" and plan.network_flags == ("STRONGLY_TYPED",)


def test_plan_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="precision"):
        plan_build("int4", "10.3.0", TRT10_BUILDER, TRT10_NETWORK)
    with pytest.raises(ValueError, match="too old"):
        plan_build("fp32", "8.6.1", TRT10_BUILDER, {"EXPLICIT_BATCH"})
    with pytest.raises(ValueError, match="neither"):
        plan_build("int8", "10.0.0", {"TF32"}, set())


def test_profile_shapes_dynamic_and_static_batch() -> None:
    lo, opt, hi = profile_shapes((-1, 3, 64, 25, 1), max_batch=8, opt_batch=2, fixed={})
    assert lo == (1, 3, 64, 25, 1) and opt == (2, 3, 64, 25, 1) and hi == (8, 3, 64, 25, 1)
    lo, opt, hi = profile_shapes((-1, 3, -1, 25, -1), max_batch=4, opt_batch=None, fixed={2: 32, 4: 2})
    assert lo == (1, 3, 32, 25, 2) and hi == (4, 3, 32, 25, 2)
    assert profile_shapes((1, 3, 64, 25, 1), 1, 1, {})[2] == (1, 3, 64, 25, 1)
    with pytest.raises(ValueError, match="static batch"):
        profile_shapes((1, 3, 64, 25, 1), 8, 1, {})
    with pytest.raises(ValueError, match="axis 2 is dynamic"):
        profile_shapes((-1, 3, -1, 25, 1), 8, 1, {})
    with pytest.raises(ValueError, match="opt_batch"):
        profile_shapes((-1, 3, 64, 25, 1), 4, 5, {})
    with pytest.raises(ValueError, match="max_batch"):
        profile_shapes((-1, 3, 64, 25, 1), 0, 1, {})


def test_cache_key_is_stable_across_processes() -> None:
    here = cache_key(SHA, "10.3.0", "Orin", "fp16", 8)
    code = ("from edge.engines.trt_plan import cache_key; "
            f"print(cache_key({SHA!r}, '10.3.0', 'Orin', 'fp16', 8))")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert there.stdout.strip() == here
    assert len(here) == 64 and int(here, 16) >= 0


def test_cache_key_changes_with_every_component() -> None:
    base = dict(onnx_sha256=SHA, trt_version="10.3.0", gpu_name="Orin", precision="fp16", max_batch=8, opt_batch=1)
    key = cache_key(**base)
    variants = [dict(onnx_sha256="cd" * 32), dict(trt_version="10.3.1"), dict(trt_version="11.0.0"),
                dict(gpu_name="NVIDIA GeForce RTX 4090"), dict(precision="fp32"), dict(precision="int8"),
                dict(max_batch=4), dict(opt_batch=2)]
    keys = {cache_key(**{**base, **v}) for v in variants}
    assert key not in keys and len(keys) == len(variants)
    # formatting noise in the GPU name is not a different GPU
    assert cache_key(**{**base, "gpu_name": "  Orin\0\0"}) == key
    assert cached_engine_path("/c", key, "fp16") == Path("/c") / f"fp16-{key[:16]}.engine"
    assert CACHE_SCHEMA >= 1


def test_cache_key_rejects_bad_components() -> None:
    with pytest.raises(ValueError, match="onnx_sha256"):
        cache_key("not-a-hash", "10.3.0", "Orin", "fp16", 8)
    with pytest.raises(ValueError, match="precision"):
        cache_key(SHA, "10.3.0", "Orin", "bf16", 8)
    with pytest.raises(ValueError, match="GPU"):
        normalize_gpu_name(b"\0\0")
    assert normalize_gpu_name(b"NVIDIA  Jetson AGX Orin\0junk") == "NVIDIA Jetson AGX Orin"


def _info() -> EngineInfo:
    meta = ModelMeta(classes=("wave", "sit down"), layout="ntu25", frames=32, embedding_dim=64,
                     preprocess_id="crossglg-pp/1;frames=32", fingerprint="f" * 64, model_id="tiny", bodies=1)
    plan = plan_build("int8", "10.3.0", TRT10_BUILDER, TRT10_NETWORK)
    return EngineInfo(meta=meta, onnx_sha256=SHA, trt_version="10.3.0", gpu_name="Orin", precision="int8",
                      max_batch=8, opt_batch=1, cache_key=cache_key(SHA, "10.3.0", "Orin", "int8", 8),
                      input_shape=(8, 3, 32, 25, 1), plan=plan.to_dict())


def test_sidecar_round_trip(tmp_path: Path) -> None:
    engine = tmp_path / "model.engine"
    info = _info()
    written = write_sidecar(engine, info)
    assert written == sidecar_path(engine) == tmp_path / "model.engine.json"
    back = read_sidecar(engine)
    assert back.meta == info.meta and back.cache_key == info.cache_key
    assert back.input_shape == info.input_shape and back.plan == info.plan and back.created
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temp file


def test_sidecar_errors_name_the_problem(tmp_path: Path) -> None:
    engine = tmp_path / "m.plan"
    with pytest.raises(FileNotFoundError, match="build-engine"):
        read_sidecar(engine)
    sidecar_path(engine).write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        read_sidecar(engine)
    d = _info().to_dict()
    del d["trt_version"]
    sidecar_path(engine).write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(ValueError, match="trt_version"):
        read_sidecar(engine)
    d = {**_info().to_dict(), "schema": "other/9"}
    sidecar_path(engine).write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(ValueError, match="schema"):
        read_sidecar(engine)


@pytest.mark.skipif(HAS_TRT, reason="checks the behaviour where TensorRT is missing")
def test_engine_file_without_tensorrt_is_a_clear_error(tmp_path: Path) -> None:
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"\0" * 16)
    with pytest.raises(FileNotFoundError, match="sidecar"):
        load_engine(engine)
    write_sidecar(engine, _info())
    with pytest.raises(EngineUnavailableError, match="TensorRT is not installed"):
        load_engine(engine)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


@pytest.mark.skipif(HAS_TRT, reason="checks the behaviour where TensorRT is missing")
def test_build_engine_cli_without_tensorrt(tiny_onnx: Path) -> None:
    res = _cli("build-engine", str(tiny_onnx), "--precision", "fp16")
    assert res.returncode == 3
    assert "TensorRT is not installed" in res.stderr and "docs/tensorrt.md" in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_build_engine_cli_input_errors(tmp_path: Path, tiny_onnx: Path) -> None:
    res = _cli("build-engine", str(tmp_path / "missing.onnx"))
    assert res.returncode == 2 and "not found" in res.stderr and "Traceback" not in res.stderr
    # an fp32 export is not an INT8 model: reported before TensorRT is even looked for
    res = _cli("build-engine", str(tiny_onnx), "--precision", "int8")
    assert res.returncode == 2 and "Q/DQ" in res.stderr and "Traceback" not in res.stderr
    res = _cli("build-engine", str(tiny_onnx), "--max-batch", "0")
    assert res.returncode == 2 and "--max-batch" in res.stderr
    res = _cli("build-engine", str(tiny_onnx), "--out", str(tmp_path / "x.bin"))
    assert res.returncode == 2 and ".engine" in res.stderr
