"""Draw k_gt (joint importance from the global descriptions) on a front-view NTU-25 skeleton.

    .venv/bin/python tools/plot_kgt.py --dataset utd_mhad --classes a1 a4 a12 a22 a26 a27 \\
        --out docs/img/kgt_utd_mhad.png

Without ``--classes`` a few contrasting classes of the dataset are drawn. The skeleton is a fixed
template seen from the camera (the subject's right side on the image's left, as in NTU videos).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from crossglg.skeleton.layouts import NTU25  # noqa: E402
from crossglg.text.descriptions import load_descriptions, load_shipped  # noqa: E402
from crossglg.text.lexicon import k_gt  # noqa: E402

# Front-view template (metres, x to the image's right, y up), subject facing the camera.
_RIGHT_SIDE = {
    "Shoulder": (-0.18, 0.48), "Elbow": (-0.27, 0.22), "Wrist": (-0.32, -0.02), "Hand": (-0.34, -0.08),
    "HandTip": (-0.36, -0.17), "Thumb": (-0.28, -0.11), "Hip": (-0.10, -0.02), "Knee": (-0.12, -0.45),
    "Ankle": (-0.13, -0.88), "Foot": (-0.17, -0.95),
}  # fmt: skip
_CENTRE = {"SpineBase": (0.0, 0.0), "SpineMid": (0.0, 0.26), "SpineShoulder": (0.0, 0.48), "Neck": (0.0, 0.57),
           "Head": (0.0, 0.72)}


def template() -> np.ndarray:
    """``(25, 2)`` front-view joint positions in NTU-25 order."""
    pos = []
    for name in NTU25.joints:
        if name in _CENTRE:
            pos.append(_CENTRE[name])
            continue
        side = "Right" if name.endswith("Right") else "Left"
        x, y = _RIGHT_SIDE[name[: -len(side)]]
        pos.append((x if side == "Right" else -x, y))
    return np.asarray(pos, dtype=np.float32)


DEFAULT_CLASSES = {
    "utd_mhad": ["a1", "a4", "a12", "a22", "a26", "a27"],
    "ntu120": ["A001", "A010", "A024", "A043", "A071", "A102"],
    "nw_ucla": ["a01", "a02", "a04", "a08", "a11", "a12"],
    "gtu3d": ["1", "9", "10", "11", "13", "14"],
    "irds": ["0", "1", "4", "6", "7", "8"],
}


def draw(ax: plt.Axes, k: np.ndarray, title: str) -> None:
    """One skeleton with joint colour and size proportional to ``k`` ``(25,)``."""
    xy = template()
    for child, parent in NTU25.edges:
        ax.plot(*xy[[child, parent]].T, color="0.75", lw=2, zorder=1)
    norm = k / k.max()
    ax.scatter(xy[:, 0], xy[:, 1], s=12 + 300 * norm, c=k, cmap="inferno_r", vmin=0, vmax=max(0.25, float(k.max())),
               edgecolors="0.3", linewidths=0.5, zorder=2)
    for rank, i in enumerate(np.argsort(-k)[:3]):  # top-3 listed in a corner: labels on joints overlap
        ax.text(0.02, 0.98 - 0.055 * rank, f"{NTU25.joints[i]} {k[i]:.2f}", transform=ax.transAxes, fontsize=6.5,
                va="top", color="0.15")
    ax.text(-0.45, -1.05, "R", fontsize=8, color="0.4")
    ax.text(0.41, -1.05, "L", fontsize=8, color="0.4")
    ax.set_title(title, fontsize=8)
    ax.set_xlim(-0.5, 0.5)
    ax.set_ylim(-1.1, 1.05)  # headroom for the top-3 list
    ax.set_aspect("equal")
    ax.axis("off")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="utd_mhad", help="shipped dataset key")
    parser.add_argument("--file", type=Path, default=None, help="description file instead of a shipped dataset")
    parser.add_argument("--classes", nargs="*", default=None, help="class ids (default: a preset per dataset)")
    parser.add_argument("--out", type=Path, default=None, help="PNG path (default docs/img/kgt_<dataset>.png)")
    args = parser.parse_args(argv)
    ds = load_descriptions(args.file) if args.file else load_shipped(args.dataset)
    ids = args.classes or DEFAULT_CLASSES.get(ds.dataset) or list(ds.ids[:6])
    cols = min(3, len(ids))
    rows = (len(ids) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 3.2 * rows), squeeze=False)
    for ax, cid in zip(axes.flat, ids, strict=False):
        c = ds.get(cid)
        draw(ax, k_gt(c.global_text, c.name), f"{ds.dataset} {cid}: {c.name}"[:48])
    for ax in list(axes.flat)[len(ids):]:
        ax.axis("off")
    fig.suptitle("k_gt: joint importance from the global description (camera view)", fontsize=9)
    fig.tight_layout()
    out = args.out or Path("docs/img") / f"kgt_{ds.dataset}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
