"""The joint-importance picture: per class, the text's k_gt and the JID's mean k_out on the 25-joint
skeleton (same colour scale for both, so sizes compare) and as paired bars per joint."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence

import numpy as np

from crossglg.skeleton.layouts import NTU25

from .plots import _NTU_XY, _save  # the evaluation figures' front-view stick figure and atomic save

# bar order: spine and head, left arm, right arm, left leg, right leg (reads like the body)
_ORDER = ("SpineBase", "SpineMid", "SpineShoulder", "Neck", "Head",
          "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft", "HandTipLeft", "ThumbLeft",
          "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HandTipRight", "ThumbRight",
          "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight")  # fmt: skip
_SHORT = (("HandTip", "Tip"), ("Shoulder", "Sh"), ("Elbow", "Elb"), ("Wrist", "Wr"), ("Thumb", "Th"),
          ("Spine", "Sp"), ("Ankle", "Ank"), ("Knee", "Kn"), ("Foot", "Ft"), ("Left", "L"), ("Right", "R"))


def short_name(joint: str) -> str:
    """``"ShoulderLeft"`` -> ``"ShL"`` (bar labels)."""
    for long, short in _SHORT:
        joint = joint.replace(long, short)
    return joint


def _skeleton(ax, k: np.ndarray, vmax: float, cmap: str, title: str) -> None:  # noqa: ANN001 - matplotlib axes
    for child, parent in NTU25.edges:
        ax.plot(*_NTU_XY[[child, parent]].T, color="0.7", lw=1.2, zorder=1)
    ax.scatter(_NTU_XY[:, 0], _NTU_XY[:, 1], s=10 + 320 * k / vmax, c=k, cmap=cmap, vmin=0, vmax=vmax,
               edgecolors="0.25", linewidths=0.4, zorder=2)
    ax.text(-0.55, -0.98, "R", fontsize=7, color="0.4")  # front view: the body's right on the image's left
    ax.text(0.5, -0.98, "L", fontsize=7, color="0.4")
    ax.set_title(title, fontsize=7.5)
    ax.set_xlim(-0.6, 0.6)
    ax.set_ylim(-1.0, 1.0)
    ax.set_aspect("equal")
    ax.axis("off")


def importance_png(text: np.ndarray, learned: np.ndarray, class_names: Sequence[str], scores: Sequence[dict],
                   png: str | os.PathLike, title: str) -> None:
    """One row per class: text skeleton, learned skeleton, paired bars over the 25 joints.

    ``text`` / ``learned``: ``(K, 25)`` rows of the chosen classes; ``scores``: per class a dict with
    ``spearman`` and ``top5`` (printed in the bar panel's title).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = text.shape[0]
    order = [NTU25.index(j) for j in _ORDER]
    fig = plt.figure(figsize=(9.0, 2.15 * k + 0.5))
    gs = fig.add_gridspec(k, 3, width_ratios=[1, 1, 3.4])
    x = np.arange(len(order))
    for r in range(k):
        vmax = float(max(text[r].max(), learned[r].max(), 1e-9))
        _skeleton(fig.add_subplot(gs[r, 0]), text[r], vmax, "Greens", "text k_gt")
        _skeleton(fig.add_subplot(gs[r, 1]), learned[r], vmax, "Reds", "learned k_out (JID)")
        ax = fig.add_subplot(gs[r, 2])
        ax.bar(x - 0.2, text[r][order], 0.4, color="tab:green", label="text")
        ax.bar(x + 0.2, learned[r][order], 0.4, color="tab:red", label="learned")
        ax.axhline(1 / text.shape[1], color="0.5", lw=0.6, ls=":")  # uniform importance
        ax.set_xticks(x, [short_name(NTU25.joints[i]) for i in order], rotation=90, fontsize=5.5)
        ax.tick_params(axis="y", labelsize=6)
        ax.set_xlim(-0.7, len(order) - 0.3)
        s = scores[r]
        ax.set_title(f"{textwrap.shorten(class_names[r], 40)}: Spearman {s['spearman']:+.2f} (other classes' text {s['shuffled_spearman']:+.2f}), "
                     f"top-5 hit {s['top5']:.1f}", fontsize=7)
        if r == 0:
            ax.legend(fontsize=6, loc="upper right", frameon=False)
    fig.suptitle(title, fontsize=8.5)
    fig.tight_layout()
    _save(fig, png)
