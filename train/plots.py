"""Evaluation figures (matplotlib, Agg): confusion matrix and per-class joint importance (k_out).

The joint-importance picture follows the paper's visual analysis: for every novel class, the mean
``k_out`` the Joint Importance Discriminator assigns to each joint, drawn on the skeleton (marker
size and colour = importance), next to a heat-map row of the 25 values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from crossglg.atomic import atomic_path
from crossglg.skeleton.layouts import NTU25, Layout

# a front-view stick figure for NTU-25 (x to the viewer's right = the body's left, y up), in units
_NTU_XY = np.array([
    [0.0, 0.0], [0.0, 0.35], [0.0, 0.72], [0.0, 0.88],        # spine base, mid, neck, head
    [0.2, 0.62], [0.32, 0.4], [0.4, 0.18], [0.43, 0.1],        # left arm
    [-0.2, 0.62], [-0.32, 0.4], [-0.4, 0.18], [-0.43, 0.1],    # right arm
    [0.1, -0.02], [0.12, -0.45], [0.13, -0.85], [0.18, -0.9],  # left leg
    [-0.1, -0.02], [-0.12, -0.45], [-0.13, -0.85], [-0.18, -0.9],  # right leg
    [0.0, 0.62], [0.47, 0.03], [0.48, 0.12], [-0.47, 0.03], [-0.48, 0.12],  # spine shoulder, tips, thumbs
])  # fmt: skip


def _save(fig, png: str | os.PathLike) -> None:  # noqa: ANN001 - matplotlib figure
    import matplotlib.pyplot as plt

    try:
        with atomic_path(png, suffix=".tmp.png") as tmp:  # savefig picks the format from the name
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)


def confusion_png(matrix: np.ndarray, class_names: Sequence[str], png: str | os.PathLike, title: str = "") -> None:
    """Row-normalised confusion matrix ``(K, K)`` (rows: true class) with counts annotated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = matrix.shape[0]
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.45 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), [n[:18] for n in class_names], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(k), [n[:18] for n in class_names], fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 30:
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, png)


def joint_importance_png(
    k_out: np.ndarray,
    class_names: Sequence[str],
    png: str | os.PathLike,
    layout: Layout = NTU25,
    k_gt: np.ndarray | None = None,
) -> None:
    """Mean k_out per class ``(K, V)`` on stick figures, plus a ``(K, V)`` heat map (and k_gt if given)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k, v = k_out.shape
    cols = min(k, 5)
    rows = int(np.ceil(k / cols))
    extra = 2 if k_gt is not None else 1
    fig = plt.figure(figsize=(2.2 * cols, 2.6 * rows + 2.2 * extra))
    gs = fig.add_gridspec(rows + extra, cols, height_ratios=[2.6] * rows + [2.2] * extra)
    vmax = float(k_out.max()) if k_out.size else 1.0
    for c in range(k):
        ax = fig.add_subplot(gs[c // cols, c % cols])
        if layout is NTU25 and v == 25:
            for child, parent in layout.edges:
                ax.plot(*_NTU_XY[[child, parent]].T, color="0.6", lw=1)
            ax.scatter(_NTU_XY[:, 0], _NTU_XY[:, 1], s=15 + 350 * k_out[c] / max(vmax, 1e-9),
                       c=k_out[c], cmap="Reds", vmin=0, vmax=vmax, edgecolors="k", linewidths=0.3)
        ax.set_title(class_names[c][:24], fontsize=7)
        ax.set_aspect("equal")
        ax.axis("off")
    ax = fig.add_subplot(gs[rows, :])
    ax.imshow(k_out, aspect="auto", cmap="Reds")
    ax.set_yticks(range(k), [n[:18] for n in class_names], fontsize=6)
    ax.set_xticks(range(v), layout.joints if v == layout.num_joints else range(v), rotation=90, fontsize=5)
    ax.set_title("k_out (mean over each class's samples)", fontsize=8)
    if k_gt is not None:
        ax2 = fig.add_subplot(gs[rows + 1, :])
        ax2.imshow(k_gt, aspect="auto", cmap="Greens")
        ax2.set_yticks(range(k), [n[:18] for n in class_names], fontsize=6)
        ax2.set_xticks(range(v), layout.joints if v == layout.num_joints else range(v), rotation=90, fontsize=5)
        ax2.set_title("k_gt from the text (for reference; novel classes are never trained on)", fontsize=8)
    fig.tight_layout()
    _save(fig, png)
