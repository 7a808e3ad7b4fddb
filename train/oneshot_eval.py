"""One-shot evaluation on precomputed features (numpy): fixed exemplars and random exemplar draws.

Works for any "similarity" representation: learned embeddings (cosine 1-NN and distribution
calibration) or a precomputed distance matrix (DTW 1-NN). The exemplar protocol: one exemplar per
novel class; every other novel sample is a query.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from crossglg.oneshot import BaseStats, accuracy_summary, cosine_1nn, dc_classify

# (support indices (K,), query indices (Q,)) -> predicted labels for the queries (Q,)
Predictor = Callable[[np.ndarray, np.ndarray], np.ndarray]


def random_exemplars(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random sample index per class (classes in sorted order) ``(K,)``."""
    return np.array([rng.choice(np.flatnonzero(labels == c)) for c in np.unique(labels)])


def split_queries(n: int, support: np.ndarray) -> np.ndarray:
    """All indices in ``range(n)`` that are not exemplars."""
    mask = np.ones(n, dtype=bool)
    mask[support] = False
    return np.flatnonzero(mask)


def evaluate_predictor(
    predict: Predictor,
    labels: np.ndarray,
    fixed_support: np.ndarray,
    draws: int,
    seed: int,
) -> dict:
    """Accuracy with the fixed exemplars and over ``draws`` random exemplar draws (seeded).

    Returns ``{"fixed": acc, "fixed_pred": (Q,), "fixed_queries": (Q,), "draws": [acc...],
    "random": {"mean", "std", "ci95", "n"}}``.
    """
    labels = np.asarray(labels)
    queries = split_queries(labels.size, fixed_support)
    pred = predict(fixed_support, queries)
    result: dict = {
        "fixed": float(np.mean(pred == labels[queries])),
        "fixed_pred": pred,
        "fixed_queries": queries,
    }
    rng = np.random.default_rng(seed)
    accs = []
    for _ in range(draws):
        support = random_exemplars(labels, rng)
        q = split_queries(labels.size, support)
        accs.append(float(np.mean(predict(support, q) == labels[q])))
    result["draws"] = accs
    result["random"] = accuracy_summary(np.array(accs)) if accs else None
    return result


def cosine_predictor(features: np.ndarray, labels: np.ndarray, center: np.ndarray | None = None) -> Predictor:
    """Cosine 1-NN over embeddings ``(N, D)``, optionally centred on ``center (D,)`` (as the edge does)."""

    def predict(support: np.ndarray, queries: np.ndarray) -> np.ndarray:
        return cosine_1nn(features[queries], features[support], labels[support], center)

    return predict


def dc_predictor(
    features: np.ndarray,
    labels: np.ndarray,
    stats: BaseStats,
    k: int = 2,
    alpha: float = 0.21,
    samples: int = 750,
    seed: int = 0,
) -> Predictor:
    """Distribution calibration over embeddings ``(N, D)`` with base statistics ``stats``."""
    rng = np.random.default_rng(seed)

    def predict(support: np.ndarray, queries: np.ndarray) -> np.ndarray:
        return dc_classify(features[queries], features[support], labels[support], stats, k, alpha, samples, rng)

    return predict


def distance_predictor(dist: np.ndarray, labels: np.ndarray) -> Predictor:
    """1-NN over a precomputed distance matrix ``(N, N)`` (smaller = closer)."""

    def predict(support: np.ndarray, queries: np.ndarray) -> np.ndarray:
        return labels[support][np.argmin(dist[np.ix_(queries, support)], axis=1)]

    return predict


def confusion(true: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion counts ``(K, K)``: rows true class, columns predicted class."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (true, pred), 1)
    return m


def public_summary(res: dict) -> dict:
    """The JSON-friendly part of :func:`evaluate_predictor`'s result."""
    return {"fixed": res["fixed"], "random": res["random"], "draws": res["draws"]}
