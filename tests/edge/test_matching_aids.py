"""The model's matching aids on the edge: the embedding centre (ONNX metadata) makes the matcher
centre its cosines; the base-statistics sidecar ``<model>.onnx.basestats.npz`` enables distribution
calibration, fitted at start (replay) or on a worker thread while cosine matching serves (live).
Real ONNX Runtime sessions of the tiny exported model, real ZeroMQ publisher."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from crossglg.basestats import basestats_path, write_base_stats
from crossglg.model_meta import encode_center
from crossglg.oneshot import base_statistics, center_from_stats
from crossglg.preprocess import PreprocessConfig
from edge.calibration import DCConfig
from edge.matcher import Matcher, MatcherConfig, SupportSet
from edge.publisher import Publisher, PublisherConfig
from edge.recognizer import Recognizer
from edge.runtime import ModelError, matching_aids, open_model

FAST_DC = MatcherConfig(dc=DCConfig(samples=40, steps=50))


def _offset_support(d: int, k: int = 3, offset: float = 30.0, seed: int = 0):
    """Support ``SupportSet`` of k actions + queries ``(k * 5, D)`` + their labels + the common offset."""
    rng = np.random.default_rng(seed)
    common = offset * (1 + 0.1 * rng.standard_normal(d))
    means = rng.standard_normal((k, d))
    sup = SupportSet(tuple(f"s{i}" for i in range(k)), tuple(f"act {i}" for i in range(k)),
                     tuple((common + means[i] + 0.2 * rng.standard_normal((1, d))).astype(np.float32) for i in range(k)))  # fmt: skip
    q = (common + np.repeat(means, 5, axis=0) + 0.2 * rng.standard_normal((5 * k, d))).astype(np.float32)
    return sup, q, np.repeat(np.arange(k), 5), common.astype(np.float32)


def test_matcher_with_center_accepts_what_raw_cosine_cannot_tell_apart() -> None:
    sup, q, y, common = _offset_support(d=64)
    raw, cen = Matcher(sup), Matcher(sup, center=common)
    raw_res = [raw.match(e) for e in q]
    assert all(r.cosine > 0.99 for r in raw_res)
    assert all(r.state == "unknown" and r.reason == "low_margin" for r in raw_res)  # margins of ~0.001
    cen_res = [cen.match(e) for e in q]
    assert [r.index for r in cen_res] == list(y) and all(r.state == "action" for r in cen_res)
    assert min(r.margin for r in cen_res) > MatcherConfig.margin
    # a motion unlike every enrolled action: centred, it falls below the threshold
    other = common + 3 * np.random.default_rng(9).standard_normal(64).astype(np.float32)
    assert cen.match(other).state == "unknown" and raw.match(other).cosine > 0.9
    with pytest.raises(ValueError, match="centre"):
        Matcher(sup, center=np.zeros(5, np.float32))


def _with_center(src: Path, dst: Path, center: np.ndarray) -> Path:
    """Copy an ONNX model adding ``crossglg.embedding_center`` (what `crossglg-train export` writes)."""
    import onnx

    model = onnx.load(str(src))
    entry = model.metadata_props.add()
    entry.key, entry.value = "crossglg.embedding_center", encode_center(center)
    onnx.save(model, str(dst))
    return dst


def test_runtime_without_sidecar_or_center_matches_by_raw_cosine(tiny_onnx: Path) -> None:
    with open_model(tiny_onnx, threads=1) as engine:
        aids = matching_aids(engine)
        assert aids.center is None and aids.base_stats is None and aids.stats_path is None


def test_runtime_loads_center_and_sidecar_and_fits_dc_off_the_loop(tiny_onnx: Path, tmp_path: Path) -> None:
    with open_model(tiny_onnx, threads=1) as engine:
        d, fingerprint = engine.meta.embedding_dim, engine.meta.fingerprint
    sup, q, y, common = _offset_support(d)
    rng = np.random.default_rng(1)
    feats = common + rng.standard_normal((4, 1, d)) + 0.3 * rng.standard_normal((4, 30, d))  # (B, n, D)
    base = base_statistics(feats.reshape(-1, d), np.repeat(np.arange(4), 30))
    model = _with_center(tiny_onnx, tmp_path / "model.onnx", center_from_stats(base))
    write_base_stats(basestats_path(model), base, center_from_stats(base), fingerprint, [f"b{i}" for i in range(4)])
    with open_model(model, threads=1) as engine, \
            Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", source="t")) as pub:  # fmt: skip
        aids = matching_aids(engine)
        assert aids.stats_path == basestats_path(model) and aids.base_stats.means.shape == (4, d)
        np.testing.assert_allclose(aids.center, center_from_stats(base), rtol=1e-6)
        pp = PreprocessConfig(frames=engine.meta.frames)
        sync = Recognizer(engine, pp, pub, sup, matcher=FAST_DC, center=aids.center, base_stats=aids.base_stats,
                          dc_background=False)  # fmt: skip
        assert sync.matcher.method == "dc" and sync.matcher.center is not None
        rank, _ = sync.matcher.scores(q)
        assert np.mean(rank.argmax(axis=1) == y) == 1.0
        live = Recognizer(engine, pp, pub, sup, matcher=FAST_DC, center=aids.center, base_stats=aids.base_stats)
        assert live.matcher.method == "cosine"  # serves at once; DC arrives from the worker
        deadline = time.monotonic() + 30
        while live._dc_ready is None and time.monotonic() < deadline:
            time.sleep(0.02)
        live._handle([])  # the inference thread takes it at its next batch
        assert live.matcher.method == "dc" and live.smoother.matcher is live.matcher
        live.set_support(SupportSet(sup.slugs[:1], sup.labels[:1], sup.embeddings[:1]))
        assert live.matcher.method == "cosine"  # one action: no classifier to calibrate


def test_foreign_or_broken_sidecar_is_a_model_error(tiny_onnx: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(tiny_onnx.read_bytes())
    with open_model(model, threads=1) as engine:
        d = engine.meta.embedding_dim
        st = base_statistics(np.random.default_rng(0).standard_normal((20, d)), np.repeat([0, 1], 10))
        write_base_stats(basestats_path(model), st, np.zeros(d), "0" * 64)
        with pytest.raises(ModelError, match="another model"):
            matching_aids(engine)
        basestats_path(model).write_bytes(b"garbage")
        with pytest.raises(ModelError, match="re-export"):
            matching_aids(engine)


def test_bad_center_metadata_fails_at_load(tiny_onnx: Path, tmp_path: Path) -> None:
    bad = _with_center(tiny_onnx, tmp_path / "bad.onnx", np.zeros(3, np.float32))
    with pytest.raises(ModelError, match="embedding_center has 3 values"):
        open_model(bad, threads=1)


def test_tensorrt_build_carries_center_and_sidecar(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   tiny_onnx: Path) -> None:  # fmt: skip
    from fake_tensorrt import install

    from crossglg.basestats import read_base_stats_info
    from edge.engines.tensorrt import build_engine
    from edge.engines.trt_plan import read_sidecar

    install(monkeypatch, "10.3.0")
    with open_model(tiny_onnx, threads=1) as engine:
        d, fingerprint = engine.meta.embedding_dim, engine.meta.fingerprint
    center = np.linspace(-1, 1, d).astype(np.float32)
    model = _with_center(tiny_onnx, tmp_path / "model.onnx", center)
    st = base_statistics(np.random.default_rng(0).standard_normal((20, d)), np.repeat([0, 1], 10))
    write_base_stats(basestats_path(model), st, center, fingerprint)
    out = build_engine(model, "fp32", cache_dir=tmp_path / "cache", max_batch=2, out=tmp_path / "deploy" / "m.engine",
                       log=lambda _: None)  # fmt: skip
    meta = read_sidecar(out).meta
    np.testing.assert_allclose(meta.embedding_center, center, rtol=1e-6)
    assert read_base_stats_info(basestats_path(out)).fingerprint == meta.fingerprint
