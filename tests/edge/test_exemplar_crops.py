"""Window-length crops of enrolled demonstrations (edge.exemplar_crops), on real UTD-MHAD recordings
through a real ONNX Runtime session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from runtime_helpers import enroll_file, utd

from crossglg.pose_features import Fusion
from edge.exemplar_crops import CropCache, CropConfig, crop_starts, exemplar_crops
from edge.matcher import Matcher, MatcherConfig
from edge.pipeline import Pipeline, PipelineConfig
from edge.publisher import Publisher, PublisherConfig
from edge.runtime import embed_clips, open_model, open_support_store, preprocess_config_for
from edge.sources import Source

WINDOW_S = 64 / 30.0  # the runtime's default window (WindowConfig: 64 frames at 30 fps)


def test_crop_starts_step_by_the_stride_and_end_at_the_last_frame() -> None:
    assert crop_starts(120, 64, 15) == [0, 15, 30, 45, 56]
    assert crop_starts(124, 64, 15) == [0, 15, 30, 45, 60]  # the stride lands on the end: no duplicate
    assert crop_starts(64, 64, 15) == [] and crop_starts(30, 64, 15) == []
    assert crop_starts(65, 64, 15) == [0, 1]
    with pytest.raises(ValueError, match="length >= 2 and stride >= 1"):
        crop_starts(100, 64, 0)


def test_crop_config_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="crops.stride_s"):
        CropConfig(stride_s=0)
    with pytest.raises(ValueError, match="crops.min_ratio"):
        CropConfig(min_ratio=0.5)


def test_only_demonstrations_clearly_longer_than_a_window_are_cropped() -> None:
    clip = np.zeros((79, 1, 25, 3), np.float32)
    assert exemplar_crops(clip, 30.0, WINDOW_S, CropConfig()) == []  # 79 < 1.25 * 64
    long = np.arange(120 * 75, dtype=np.float32).reshape(120, 1, 25, 3)
    crops = exemplar_crops(long, 30.0, WINDOW_S, CropConfig(stride_s=0.5))
    assert [c.shape[0] for c in crops] == [64] * 5
    assert [int(c[0, 0, 0, 0] // 75) for c in crops] == [0, 15, 30, 45, 56]
    assert exemplar_crops(long, 30.0, WINDOW_S, CropConfig(enabled=False)) == []
    assert len(exemplar_crops(long, 15.0, WINDOW_S, CropConfig())) == 12  # 32-frame crops at 15 fps, stride 8


@pytest.mark.realdata
def test_crops_of_a_real_demonstration_match_a_window_inside_it(tmp_path: Path, data_dir: Path,
                                                                tiny_onnx: Path) -> None:  # fmt: skip
    """A window cut from the middle of the enrolled demonstration: with crops its fused cosine to the
    action is ~1 (it IS one of the crops), without them clearly less; whole-clip rows stay first."""
    with open_model(tiny_onnx, threads=1) as engine:
        pre = preprocess_config_for(engine.meta)
        store = open_support_store(tmp_path / "store", engine)
        slug = enroll_file(store, engine, utd(data_dir, 27, 1), "sit to stand")
        ex = store.load_exemplar(slug, 0)
        assert ex.clip.shape[0] >= 1.25 * 64, "the test needs a demonstration longer than a window"
        cache = CropCache(engine, pre, WINDOW_S, CropConfig(), pose_frames=64)
        plain = store.support(pose_frames=64)
        full = cache.extend(store, plain)
        starts = crop_starts(ex.clip.shape[0], 64, 15)
        assert full.embeddings[0].shape[0] == 1 + len(starts) and full.poses[0].shape[0] == 1 + len(starts)
        np.testing.assert_array_equal(full.embeddings[0][0], plain.embeddings[0][0])
        np.testing.assert_array_equal(full.poses[0][0], plain.poses[0][0])
        s = starts[len(starts) // 2]
        window = ex.clip[s : s + 64]
        np.testing.assert_allclose(full.embeddings[0][1 + len(starts) // 2], embed_clips(engine, pre, [window])[0],
                                   rtol=1e-5, atol=1e-5)  # fmt: skip

        from crossglg.pose_features import pose_vector

        q_emb, q_pose = embed_clips(engine, pre, [window]), pose_vector(window, 64)[None]
        cfg = MatcherConfig(fusion=Fusion(0.5, source="test"), use_dc=False)
        with_crops = Matcher(full, cfg).scores(q_emb, q_pose)[1][0, 0]
        without = Matcher(plain, cfg).scores(q_emb, q_pose)[1][0, 0]
        assert with_crops > 0.999 and without < with_crops - 0.01, (with_crops, without)


@pytest.mark.realdata
def test_a_reused_exemplar_file_name_gets_its_new_demonstrations_crops(tmp_path: Path, data_dir: Path,
                                                                       tiny_onnx: Path) -> None:  # fmt: skip
    """Removing an action and enrolling another recording under the same label reuses the file name
    ``<slug>.0.npz``: the cache must not serve the old demonstration's crops."""
    with open_model(tiny_onnx, threads=1) as engine:
        store = open_support_store(tmp_path / "store", engine)
        cache = CropCache(engine, preprocess_config_for(engine.meta), WINDOW_S, CropConfig())
        slug = enroll_file(store, engine, utd(data_dir, 27, 1), "sit to stand")
        file = store.action(slug).exemplars[0].file
        first = cache.extend(store, store.support()).embeddings[0].copy()
        again = cache.extend(store, store.support()).embeddings[0]
        np.testing.assert_array_equal(first, again)  # served from the cache, same rows
        store.remove_action(slug)
        slug2 = enroll_file(store, engine, utd(data_dir, 27, 6), "sit to stand")
        assert store.action(slug2).exemplars[0].file == file
        ex = store.load_exemplar(slug2, 0)
        fresh = cache.extend(store, store.support()).embeddings[0]
        expect = exemplar_crops(ex.clip, ex.fps, WINDOW_S, CropConfig())
        assert expect and fresh.shape[0] == 1 + len(expect)
        np.testing.assert_allclose(fresh[1:], embed_clips(engine, preprocess_config_for(engine.meta), expect),
                                   rtol=1e-5, atol=1e-5)  # fmt: skip


@pytest.mark.realdata
def test_the_pipeline_matches_against_crops_unless_they_are_off(tmp_path: Path, data_dir: Path,
                                                                tiny_onnx: Path) -> None:  # fmt: skip
    with open_model(tiny_onnx, threads=1) as engine, Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as pub:
        store = open_support_store(tmp_path / "store", engine)
        slug = enroll_file(store, engine, utd(data_dir, 27, 1), "sit to stand")
        n = len(exemplar_crops(store.load_exemplar(slug, 0).clip, 30.0, WINDOW_S, CropConfig()))
        assert n >= 1
        rows = {}
        for on in (True, False):
            with Source.from_skeleton_file(utd(data_dir, 27, 2)) as src:
                pipe = Pipeline(src, engine, store, pub, PipelineConfig(lossless=True, crops=CropConfig(enabled=on)))
                rows[on] = pipe.recognizer.matcher.support.embeddings[0].shape[0]
        assert rows == {True: 1 + n, False: 1}


@pytest.mark.realdata
def test_run_matches_crops_by_default_with_the_same_start_lines(tmp_path: Path, data_dir: Path) -> None:
    """The real CLI on the trained test encoder (centred cosine, no DC: one action), its stderr
    unchanged by the crops (scripts read it); each window's cosine with crops is the max over a superset of the rows, so
    never below --no-crops' on the same window, and above it on some windows of another person's
    sit-to-stand."""
    import os
    import subprocess
    import sys

    from runtime_helpers import collect
    from shared_helpers import free_port

    from edge import protocol
    from edge.client import subscribe

    asset = Path(__file__).resolve().parents[1] / "assets" / "crossglg_realdata.onnx"
    store = tmp_path / "store"
    with open_model(asset, threads=1) as engine:
        enroll_file(open_support_store(store, engine), engine, utd(data_dir, 27, 1), "sit to stand")

    def run(*flags: str) -> tuple[str, dict[float, float]]:
        pub = f"tcp://127.0.0.1:{free_port()}"
        cmd = [sys.executable, "-m", "edge.cli", "run", "--skeleton", str(utd(data_dir, 27, 6)), "--model",
               str(asset), "--headless", "--store", str(store), "--pub", pub, "--control", "off",
               "--wait-subscribers", "1", "--no-dc", *flags]  # fmt: skip
        with subscribe(pub, topics=[protocol.TOPIC_PREFIX]) as sub:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ))
            msgs = collect(sub, quiet_s=0.5)
        assert proc.returncode == 0, proc.stderr
        return proc.stderr, {m.payload["t_frame"]: m.payload["cosine"] for m in msgs
                             if m.kind == "label" and m.payload.get("cosine") is not None}  # fmt: skip

    err, crops = run()
    err_whole, whole = run("--no-crops")
    def start(text: str) -> list[str]:  # the start lines, without the ports and the end line's counts
        import re

        return [re.sub(r"tcp://\S+", "", ln) for ln in text.splitlines() if "source_end" not in ln]

    assert start(err) == start(err_whole), (err, err_whole)
    both = sorted(set(crops) & set(whole))
    assert len(both) >= 3, (crops, whole)
    assert all(crops[t] >= whole[t] - 1e-5 for t in both)
    assert any(crops[t] > whole[t] + 1e-3 for t in both)
