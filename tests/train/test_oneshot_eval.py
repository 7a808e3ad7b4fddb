"""One-shot maths (crossglg.oneshot) and the exemplar protocol (train.oneshot_eval) on synthetic
clusters, where the right answer is known by construction."""

from __future__ import annotations

import numpy as np

from crossglg.oneshot import accuracy_summary, base_statistics, calibrate, cosine_1nn, dc_classify, tukey
from train.oneshot_eval import (
    confusion,
    cosine_predictor,
    dc_predictor,
    distance_predictor,
    evaluate_predictor,
    random_exemplars,
)


def _clusters(k: int = 5, per: int = 12, d: int = 16, spread: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 2
    labels = np.repeat(np.arange(k), per)
    feats = centres[labels] + rng.normal(scale=spread, size=(k * per, d))
    return feats.astype(np.float32), labels


def test_cosine_1nn_separable_and_chance_when_shuffled() -> None:
    feats, labels = _clusters()
    support = np.array([np.flatnonzero(labels == c)[0] for c in range(5)])
    pred = cosine_1nn(feats, feats[support], labels[support])
    assert np.mean(pred == labels) > 0.95
    noise = np.random.default_rng(1).normal(size=feats.shape)
    pred_noise = cosine_1nn(noise, noise[support], labels[support])
    assert np.mean(pred_noise == labels) < 0.6


def test_tukey_signed_and_stats_shapes() -> None:
    x = np.array([[-4.0, 0.0, 9.0]])
    np.testing.assert_allclose(tukey(x, 0.5), [[-2.0, 0.0, 3.0]])
    feats, labels = _clusters(k=4, d=8)
    st = base_statistics(feats, labels, beta=0.5)
    assert st.means.shape == (4, 8) and st.covs.shape == (4, 8, 8)
    np.testing.assert_allclose(st.covs, np.transpose(st.covs, (0, 2, 1)), atol=1e-6)
    mean, cov = calibrate(tukey(feats[0], 0.5), st, k=2, alpha=0.21)
    assert mean.shape == (8,) and cov.shape == (8, 8)
    assert np.linalg.eigvalsh(cov).min() > -1e-6


def test_dc_classifies_novel_clusters() -> None:
    base, base_labels = _clusters(k=6, per=30, d=16, seed=2)
    st = base_statistics(base, base_labels)
    novel, labels = _clusters(k=4, per=10, d=16, seed=3)
    support = np.array([np.flatnonzero(labels == c)[0] for c in range(4)])
    pred = dc_classify(novel, novel[support], labels[support], st, samples=200, rng=np.random.default_rng(0))
    assert np.mean(pred == labels) > 0.9


def test_protocol_fixed_and_random_draws() -> None:
    feats, labels = _clusters(k=5, per=8, spread=1.2, seed=4)
    fixed = np.array([np.flatnonzero(labels == c)[0] for c in range(5)])
    res = evaluate_predictor(cosine_predictor(feats, labels), labels, fixed, draws=6, seed=0)
    assert res["fixed_queries"].size == labels.size - 5
    assert not set(res["fixed_queries"]) & set(fixed)
    assert len(res["draws"]) == 6 and 0 <= res["random"]["mean"] <= 1
    again = evaluate_predictor(cosine_predictor(feats, labels), labels, fixed, draws=6, seed=0)
    assert again["draws"] == res["draws"]  # seeded
    st = base_statistics(*_clusters(k=6, per=20, seed=5))
    res_dc = evaluate_predictor(dc_predictor(feats, labels, st, samples=100), labels, fixed, draws=2, seed=0)
    assert 0 <= res_dc["fixed"] <= 1
    dist = np.linalg.norm(feats[:, None] - feats[None], axis=-1)
    res_d = evaluate_predictor(distance_predictor(dist, labels), labels, fixed, draws=2, seed=0)
    assert res_d["fixed"] > 0.5


def test_random_exemplars_one_per_class() -> None:
    labels = np.array([0, 0, 1, 1, 1, 2])
    ex = random_exemplars(labels, np.random.default_rng(0))
    assert sorted(labels[ex]) == [0, 1, 2]


def test_summary_and_confusion() -> None:
    s = accuracy_summary(np.array([0.8, 0.9, 1.0]))
    assert abs(s["mean"] - 0.9) < 1e-9 and s["ci95"] > s["std"] and s["n"] == 3
    m = confusion(np.array([0, 1, 1]), np.array([0, 0, 1]), 2)
    assert m.tolist() == [[1, 0], [1, 1]]
