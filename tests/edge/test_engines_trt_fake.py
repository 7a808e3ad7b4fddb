"""build_engine and TensorRTEngine driven end to end against the recording TensorRT stand-in
(fake_tensorrt.py): flags per version, profile, workspace, cache hits, sidecar, --out, device
buffers and batch chunking, version checks. Real-TensorRT parity: test_engines_trt_gpu.py."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from fake_tensorrt import TRT11_BUILDER, TRT11_NETWORK, install

from edge.engines import load_engine
from edge.engines.onnx import file_sha256
from edge.engines.trt_plan import cache_key, read_sidecar, sidecar_path, write_sidecar


def _ref(onnx_path: Path, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with load_engine(onnx_path, provider="cpu") as ref:
        return ref.embed_and_logits(windows)


def test_trt10_fp32_build_and_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_onnx: Path,
                                  windows: np.ndarray) -> None:
    rec = install(monkeypatch, "10.3.0")
    from edge.engines.tensorrt import build_engine

    path = build_engine(tiny_onnx, "fp32", cache_dir=tmp_path, max_batch=2, workspace_mb=256, log=lambda _: None)
    assert rec.network_flags == [1 << 1]  # STRONGLY_TYPED is member 1 of the fake's 10.x enum
    assert rec.set_flags == [] and rec.clear_flags == ["TF32"]
    assert rec.pool_limits == {"WORKSPACE": 256 << 20}
    assert rec.profiles == [("skeleton", (1, 3, 16, 25, 1), (1, 3, 16, 25, 1), (2, 3, 16, 25, 1))]
    assert rec.parsed == [_serialized(tiny_onnx)]  # fp32: the model as exported, unchanged

    info = read_sidecar(path)
    assert info.cache_key == cache_key(file_sha256(tiny_onnx), "10.3.0", "Fake GPU 9000", "fp32", 2)
    assert path.name == f"fp32-{info.cache_key[:16]}.engine" and info.gpu_name == "Fake GPU 9000"
    assert info.input_shape == (2, 3, 16, 25, 1) and info.plan["strongly_typed"]

    emb_ref, logits_ref = _ref(tiny_onnx, windows)
    with load_engine(path) as engine:
        assert engine.backend == "tensorrt" and engine.has_logits
        emb, logits = engine.embed_and_logits(windows)  # 4 windows, max batch 2: two executions
        assert engine.meta.fingerprint == info.meta.fingerprint and engine.describe()["precision"] == "fp32"
        one = engine.embed(windows[:1])
    assert rec.executions == [(2, 3, 16, 25, 1), (2, 3, 16, 25, 1), (1, 3, 16, 25, 1)]
    np.testing.assert_allclose(emb, emb_ref, atol=1e-6, rtol=0)
    np.testing.assert_allclose(logits, logits_ref, atol=1e-6, rtol=0)
    np.testing.assert_allclose(one[0], emb_ref[0], atol=1e-6, rtol=0)
    assert rec.live_buffers == {}  # close() freed every device buffer


def test_trt10_fp16_uses_builder_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_onnx: Path) -> None:
    rec = install(monkeypatch, "10.3.0")
    from edge.engines.tensorrt import build_engine

    build_engine(tiny_onnx, "fp16", cache_dir=tmp_path, max_batch=4, opt_batch=2, log=lambda _: None)
    assert rec.set_flags == ["FP16"] and rec.network_flags == [0] and rec.clear_flags == []
    assert rec.profiles[0][2][0] == 2 and rec.profiles[0][3][0] == 4
    assert rec.parsed == [_serialized(tiny_onnx)]  # 10.x fp16: no graph rewrite, the flag does it


def _serialized(onnx_path: Path) -> bytes:
    from edge.engines import onnx_prep

    return onnx_prep.serialize(onnx_prep.load_onnx(onnx_path))


def test_trt11_fp16_parses_fp16_graph_without_removed_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            tiny_onnx: Path, windows: np.ndarray) -> None:
    import onnx

    rec = install(monkeypatch, "11.4.0.106", TRT11_BUILDER, TRT11_NETWORK)
    from edge.engines.tensorrt import build_engine

    path = build_engine(tiny_onnx, "fp16", cache_dir=tmp_path, max_batch=4, log=lambda _: None)
    assert rec.network_flags == [0] and rec.set_flags == []  # FP16 does not exist on the fake 11.x
    parsed = onnx.load_from_string(rec.parsed[0])
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in parsed.graph.initializer)
    assert read_sidecar(path).plan["onnx_transform"] == "fp16"
    emb_ref, _ = _ref(tiny_onnx, windows)
    with load_engine(path) as engine:
        emb = engine.embed(windows)
    cos = np.sum(emb * emb_ref, 1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(emb_ref, axis=1))
    assert cos.min() > 0.999 and np.abs(emb - emb_ref).max() > 0


def test_cache_hit_force_and_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_onnx: Path) -> None:
    rec = install(monkeypatch, "10.3.0")
    from edge.engines.tensorrt import build_engine

    cache = tmp_path / "cache"
    first = build_engine(tiny_onnx, "fp32", cache_dir=cache, max_batch=2, log=lambda _: None)
    messages: list[str] = []
    out = build_engine(tiny_onnx, "fp32", cache_dir=cache, max_batch=2, out=tmp_path / "deploy" / "m.engine",
                       log=messages.append)
    assert rec.builds == 1 and any("cached engine" in m for m in messages)
    assert out.read_bytes() == first.read_bytes()
    assert read_sidecar(out).cache_key == read_sidecar(first).cache_key
    build_engine(tiny_onnx, "fp32", cache_dir=cache, max_batch=2, force=True, log=lambda _: None)
    build_engine(tiny_onnx, "fp32", cache_dir=cache, max_batch=4, log=lambda _: None)  # other profile: new key
    build_engine(tiny_onnx, "fp32", cache_dir=cache, max_batch=2, gpu_name="Other GPU", log=lambda _: None)
    assert rec.builds == 4 and len(list(cache.glob("*.engine"))) == 3


def test_engine_from_another_trt_version_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    tiny_onnx: Path) -> None:
    install(monkeypatch, "10.3.0")
    from edge.engines.tensorrt import build_engine

    path = build_engine(tiny_onnx, "fp32", cache_dir=tmp_path, max_batch=2, log=lambda _: None)
    install(monkeypatch, "10.7.0")
    with pytest.raises(ValueError, match=r"built with TensorRT 10\.3\.0 but this is 10\.7\.0"):
        load_engine(path)
    # a corrupt engine next to a valid sidecar is reported as such
    bad = tmp_path / "bad.plan"
    bad.write_bytes(b"garbage")
    info = read_sidecar(path)
    write_sidecar(bad, type(info)(**{**info.__dict__, "trt_version": "10.7.0"}))
    with pytest.raises(ValueError, match="could not deserialize"):
        load_engine(bad)
    assert sidecar_path(bad).is_file()


def test_build_engine_command_with_fake_trt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_onnx: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    install(monkeypatch, "10.3.0")
    from edge.commands import build_engine as cmd

    parser = argparse.ArgumentParser()
    cmd.add_arguments(parser)
    args = parser.parse_args([str(tiny_onnx), "--precision", "fp16", "--cache-dir", str(tmp_path),
                              "--out", str(tmp_path / "m.plan"), "--max-batch", "2"])
    assert cmd.run(args) == 0
    out = capsys.readouterr()
    assert out.out.strip() == str(tmp_path / "m.plan") and "building TensorRT 10.3.0 fp16" in out.err
    assert read_sidecar(tmp_path / "m.plan").precision == "fp16"
