"""Graph matrices derived from a :class:`~crossglg.skeleton.layouts.Layout`, as float32 torch tensors.

All matrices are ``float32`` (the InfoGCN reference builds a float64 ``A`` that silently breaks fp32
inference on CPU) and are built from the layout, so NTU-25 and Kinetics-18 use the same code.
"""

from __future__ import annotations

import numpy as np
import torch

from crossglg.skeleton.layouts import Layout


def input_transform(layout: Layout, k: int = 1) -> torch.Tensor:
    """InfoGCN's input transform ``I - A_outward^k`` as a ``(V, V)`` float32 tensor.

    With ``k = 1`` every joint becomes "joint minus parent" and the root keeps its coordinate.
    ``k = 0`` would give the zero matrix (the reference's trap: the whole input vanishes), so it is
    rejected.
    """
    if k < 1:
        raise ValueError(f"input_transform: k must be >= 1 (k=0 zeroes the input), got {k}")
    a = layout.adjacency().astype(np.float64)
    eye = np.eye(layout.num_joints)
    return torch.from_numpy((eye - np.linalg.matrix_power(a, k)).astype(np.float32))


def hop_distance(layout: Layout) -> np.ndarray:
    """Hop distance ``(V, V)`` between joints along the bone tree (int64)."""
    v = layout.num_joints
    dist = np.full((v, v), -1, dtype=np.int64)
    nbrs: list[list[int]] = [[] for _ in range(v)]
    for c, p in layout.edges:
        nbrs[c].append(p)
        nbrs[p].append(c)
    for s in range(v):
        dist[s, s] = 0
        frontier = [s]
        while frontier:
            nxt = []
            for a in frontier:
                for b in nbrs[a]:
                    if dist[s, b] < 0:
                        dist[s, b] = dist[s, a] + 1
                        nxt.append(b)
            frontier = nxt
    return dist


def spatial_partitions(layout: Layout) -> torch.Tensor:
    """ST-GCN's "spatial" partitioning: ``(3, V, V)`` float32 (root, centripetal, centrifugal).

    Built from the column-normalised adjacency (with self loops) of the bone tree; neighbour ``j``
    of joint ``i`` is centripetal when it is at least as close to the layout's centre as ``i``.
    ``A[k][j, i]`` is the weight with which joint ``j`` contributes to joint ``i`` (``x @ A[k]``).
    """
    v = layout.num_joints
    hop = hop_distance(layout)
    adj = (hop <= 1).astype(np.float64)  # neighbours incl. self
    deg = adj.sum(axis=0)
    norm = adj / deg[None, :]  # column-normalised (each receiving joint averages its inputs)
    centre = hop[layout.center]
    parts = np.zeros((3, v, v), dtype=np.float64)
    for i in range(v):
        for j in range(v):
            if adj[j, i] == 0:
                continue
            if centre[j] == centre[i]:
                parts[0, j, i] = norm[j, i]
            elif centre[j] < centre[i]:
                parts[1, j, i] = norm[j, i]
            else:
                parts[2, j, i] = norm[j, i]
    return torch.from_numpy(parts.astype(np.float32))
