"""DTW 1-NN one-shot baseline (numpy), the bar DESIGN.md sets for learned models.

Normalisation per sequence ``(T, V, 3)`` (main body): centre on the first valid frame's hip centre
(SpineBase), scale by the median torso length (SpineBase-SpineShoulder), rotate about the vertical
axis so the first frame's hip line (left -> right) lies on x. Distance: dynamic time warping with a
Sakoe-Chiba band of 10% of the longer sequence (widened to the length difference so a path exists),
frame cost = Euclidean distance between the flattened poses. Pairs are processed in vectorised
batches (the DP runs over cells, each step over all pairs of the batch).
"""

from __future__ import annotations

import numpy as np

from crossglg.atomic import atomic_path
from crossglg.pose_features import normalize_pose as normalize_for_dtw  # the shared normalisation (core)


def dtw_batch(a: list[np.ndarray], b: list[np.ndarray], band: float = 0.1) -> np.ndarray:
    """DTW distances of pairs ``(a[p], b[p])``, each ``(T_p, D)``; returns ``(P,)`` float64."""
    p = len(a)
    if p != len(b):
        raise ValueError("dtw_batch: a and b must have the same number of sequences")
    if p == 0:
        return np.zeros(0)
    la = np.array([x.shape[0] for x in a])
    lb = np.array([x.shape[0] for x in b])
    n, m, d = la.max(), lb.max(), a[0].shape[1]
    xa = np.zeros((p, n, d), np.float32)
    xb = np.zeros((p, m, d), np.float32)
    for i in range(p):
        xa[i, : la[i]] = a[i]
        xb[i, : lb[i]] = b[i]
    # squared distances via |x|^2 + |y|^2 - 2xy, then sqrt: (P, n, m)
    sq = (xa**2).sum(-1)[:, :, None] + (xb**2).sum(-1)[:, None, :] - 2 * np.einsum("pid,pjd->pij", xa, xb)
    cost = np.sqrt(np.maximum(sq, 0.0)).astype(np.float64)
    w = np.maximum(np.ceil(band * np.maximum(la, lb)), np.abs(la - lb))  # (P,)
    ii = np.arange(n)[:, None]
    jj = np.arange(m)[None, :]
    outside = np.abs(ii[None] - jj[None]) > w[:, None, None]  # (P, n, m)
    cost[outside] = np.inf
    cost = np.ascontiguousarray(cost.transpose(1, 2, 0))  # (n, m, P): each cell's pairs contiguous
    acc = np.full((p, m), np.inf)
    prev = np.full((p, m), np.inf)
    result = np.full(p, np.inf)
    for i in range(n):
        acc[:] = np.inf
        for j in range(m):
            if i == 0 and j == 0:
                best = np.zeros(p)
            else:
                best = np.full(p, np.inf)
                if i > 0:
                    best = np.minimum(best, prev[:, j])
                    if j > 0:
                        best = np.minimum(best, prev[:, j - 1])
                if j > 0:
                    best = np.minimum(best, acc[:, j - 1])
            acc[:, j] = cost[i, j] + best
        done = la - 1 == i
        if done.any():
            result[done] = acc[done, lb[done] - 1]
        prev, acc = acc, prev
    return result


def dtw_matrix(seqs: list[np.ndarray], band: float = 0.1, chunk: int = 1000) -> np.ndarray:
    """Symmetric matrix ``(N, N)`` of DTW distances between normalised sequences ``(T, D)``.

    DTW with a symmetric band is symmetric, so only pairs ``i < j`` are computed.
    """
    n = len(seqs)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    out = np.zeros((n, n))
    for s in range(0, len(pairs), chunk):
        part = pairs[s : s + chunk]
        d = dtw_batch([seqs[i] for i, _ in part], [seqs[j] for _, j in part], band)
        for (i, j), v in zip(part, d, strict=True):
            out[i, j] = out[j, i] = v
    return out


def dtw_1nn_from_matrix(dist: np.ndarray, query_idx: np.ndarray, support_idx: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Predicted labels of ``query_idx`` given a full distance matrix ``(N, N)`` over all samples."""
    sub = dist[np.ix_(query_idx, support_idx)]
    return labels[support_idx][np.argmin(sub, axis=1)]


def evaluate_dtw(data, draws: int = 20, seed: int = 0, band: float = 0.1, cache_dir=None) -> dict:  # noqa: ANN001
    """DTW 1-NN on a protocol's novel samples (``train.prepare.ProtocolData``): fixed exemplars and
    ``draws`` random draws. The distance matrix is cached as ``<cache_dir>/dtw_<protocol>_<n>.npy``
    keyed by the sample names (a different sample set recomputes it).
    """
    import hashlib
    import time
    from pathlib import Path

    from train.oneshot_eval import distance_predictor, evaluate_predictor, public_summary

    t0 = time.time()
    names = "\n".join(s.name for s in data.novel)
    key = hashlib.sha256(f"{names}|{band}".encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"dtw_{data.protocol.name}_{key}.npy" if cache_dir else None
    if path is not None and path.is_file():
        dist = np.load(path, allow_pickle=False)
    else:
        seqs = [normalize_for_dtw(s.load()) for s in data.novel]
        dist = dtw_matrix(seqs, band)
        if path is not None:
            with atomic_path(path, fsync=False) as tmp, open(tmp, "wb") as f:  # a cache: no fsync
                np.save(f, dist)
    labels = data.novel_labels
    res = evaluate_predictor(distance_predictor(dist, labels), labels, data.fixed, draws, seed)
    return {
        "baseline": "dtw",
        "band": band,
        "protocol": data.protocol.name,
        "novel_classes": data.novel_names,
        "num_queries": int(labels.size - data.fixed.size),
        "dtw": public_summary(res),
        "seconds": round(time.time() - t0, 1),
    }
