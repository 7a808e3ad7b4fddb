"""train/fusion.py: the fusion weight from base clips (and clear refusals for a degenerate model) and
the fused 1-NN predictor the benchmark scores."""

from __future__ import annotations

import numpy as np
import pytest

from crossglg.pose_features import fusion_weight, off_diagonal_std
from train.fusion import fused_predictor, fused_similarity, fusion_from_base


def test_weight_from_base_clips_and_refusals() -> None:
    rng = np.random.default_rng(0)
    feats, poses = rng.normal(size=(20, 8)), rng.normal(size=(20, 30))
    center = feats.mean(axis=0)
    f = fusion_from_base(feats, center, poses)
    s_l, s_p = off_diagonal_std(feats - center), off_diagonal_std(poses)
    assert f.weight == pytest.approx(fusion_weight(s_l, s_p)) and f.spreads == pytest.approx((s_l, s_p))
    assert f.w == 0.5 and "20 base clips" in f.source
    bad = feats.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        fusion_from_base(bad, center, poses)
    with pytest.raises(ValueError, match="do not spread"):
        fusion_from_base(np.ones((20, 8)), None, poses)  # every embedding the same: cosines all 1
    with pytest.raises(ValueError, match="20 embeddings but 19 pose features"):
        fusion_from_base(feats, center, poses[:19])


def test_fused_predictor_is_1nn_on_the_weighted_similarity() -> None:
    rng = np.random.default_rng(1)
    feats, poses = rng.normal(size=(12, 6)), rng.normal(size=(12, 10))
    labels = np.arange(12) % 4
    sim = fused_similarity(feats, None, poses, 0.25)
    e = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    p = poses / np.linalg.norm(poses, axis=1, keepdims=True)
    assert np.allclose(sim, 0.25 * e @ e.T + 0.75 * p @ p.T, atol=1e-6)
    support, queries = np.array([0, 1, 2, 3]), np.arange(4, 12)
    want = labels[support][np.argmax(sim[np.ix_(queries, support)], axis=1)]
    assert np.array_equal(fused_predictor(feats, None, poses, labels, 0.25)(support, queries), want)
