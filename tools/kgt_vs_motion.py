"""How well does k_gt (from the descriptions) agree with the motion measured in real recordings?

    .venv/bin/python tools/kgt_vs_motion.py --data ../shared/data [--per-class 8] [--json]

Per class, motion energy of each joint = mean over recordings of the summed per-axis standard
deviation over time of the joint position relative to SpineBase (whole-body translation removed),
normalised to a distribution over the 25 joints. Reported per dataset:

* ``cos``: mean cosine similarity between k_gt and the motion distribution;
* ``top1_in_top5``: share of classes whose highest-k_gt joint is among the 5 most moving joints;
* ``side_agree``: share of one-sided classes (k_gt left/right mass ratio > 2) whose measured motion
  is larger on the same side.

For IRDS and GTU it also reports the figures after mirroring the skeletons (left/right joints
swapped), which is how their class names match the recordings (see docs/text_guidance.md), and for
GTU the mean cosine when folders take the class names in the README's listed order instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from crossglg.datasets.readers import read_gtu_txt, read_irds_csv, read_nwucla_json, read_utd_mat  # noqa: E402
from crossglg.skeleton.layouts import NTU25  # noqa: E402
from crossglg.text.descriptions import load_shipped  # noqa: E402
from crossglg.text.lexicon import k_gt  # noqa: E402

LEFT = [i for i, n in enumerate(NTU25.joints) if n.endswith("Left")]
RIGHT = [i for i, n in enumerate(NTU25.joints) if n.endswith("Right")]


def files_per_class(data: Path, dataset: str) -> dict[str, list[Path]]:
    """Class id -> recordings, for the datasets in ../shared/data."""
    out: dict[str, list[Path]] = {}
    if dataset == "utd_mhad":
        for f in sorted((data / "utd_mhad" / "Skeleton").glob("a*_s*_t*_skeleton.mat")):
            out.setdefault(f.name.split("_")[0], []).append(f)
    elif dataset == "nw_ucla":
        for f in sorted((data / "nw_ucla" / "all_sqe").glob("a*_s*_e*_v*.json")):
            out.setdefault(f.name.split("_")[0], []).append(f)
    elif dataset == "gtu3d":
        for d in sorted((data / "gtu3d").iterdir()):
            if d.is_dir():
                out[d.name] = sorted(d.glob("*.txt"))
    elif dataset == "irds":
        for f in sorted((data / "irds" / "CSVData").glob("*.csv")):
            out.setdefault(f.name.split("_")[2], []).append(f)
    return out


READERS = {"utd_mhad": read_utd_mat, "nw_ucla": read_nwucla_json, "gtu3d": read_gtu_txt, "irds": read_irds_csv}


def motion(paths: list[Path], reader, limit: int) -> np.ndarray:
    """Motion distribution ``(25,)`` over the first ``limit`` readable recordings."""
    rows = []
    for p in paths[:limit]:
        try:
            seq = reader(p)[:, 0]  # (T, 25, 3)
        except ValueError:
            continue
        if len(seq) < 10:
            continue
        rel = seq - seq[:, :1]
        rows.append(np.nan_to_num(np.nanstd(rel, axis=0).sum(-1)))
    m = np.mean(rows, axis=0)
    return m / m.sum()


def evaluate(k: np.ndarray, m: np.ndarray) -> tuple[float, bool, bool | None]:
    cos = float(k @ m / np.linalg.norm(k) / np.linalg.norm(m))
    top1 = int(np.argmax(k)) in set(np.argsort(-m)[:5].tolist())
    kl, kr = k[LEFT].sum(), k[RIGHT].sum()
    if max(kl, kr) < 2 * min(kl, kr):
        return cos, top1, None
    return cos, top1, bool((kl > kr) == (m[LEFT].sum() > m[RIGHT].sum()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--per-class", type=int, default=8, help="recordings per class (default 8)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    perm = NTU25.mirror_permutation()
    report = {}
    for dataset in ("utd_mhad", "nw_ucla", "gtu3d", "irds"):
        ds = load_shipped(dataset)
        per = files_per_class(args.data, dataset)
        variants = {"as_recorded": False, "mirrored": True} if dataset in ("gtu3d", "irds") else {"as_recorded": False}
        for label, mirror in variants.items():
            cos, top, side = [], [], []
            for c in ds.classes:
                m = motion(per[c.id], READERS[dataset], args.per_class)
                if mirror:
                    m = m[perm]
                res = evaluate(k_gt(c.global_text, c.name), m)
                cos.append(res[0])
                top.append(res[1])
                if res[2] is not None:
                    side.append(res[2])
            report[f"{dataset}/{label}"] = {
                "classes": len(ds), "cos": round(float(np.mean(cos)), 3), "top1_in_top5": round(float(np.mean(top)), 3),
                "side_agree": f"{sum(side)}/{len(side)}",
            }
    # GTU: folder i described by the README's i-th listed name (numeric folder order) instead
    readme = ["opening and closing the arms", "right handed shaking", "right and left waist stretch", "walking",
              "bend the leg", "bend the leg", "left handed shaking", "one right-left step", "crouching",
              "standing on the sandal", "sit and applause", "lower back", "right and left 8-step motion",
              "neck relaxation"]  # fmt: skip
    gtu = load_shipped("gtu3d")
    per = files_per_class(args.data, "gtu3d")
    by_name: dict[str, list] = {}
    for c in gtu.classes:
        by_name.setdefault(c.name.split(" (")[0] if c.name.startswith("bend") else c.name, []).append(c)
    by_name["bend the leg"] = by_name.pop("bend the leg left or right")
    cos = []
    for folder, name in zip([c.id for c in gtu.classes], readme, strict=True):
        c = by_name[name].pop(0)
        m = motion(per[folder], READERS["gtu3d"], args.per_class)[perm]
        cos.append(evaluate(k_gt(c.global_text, c.name), m)[0])
    report["gtu3d/mirrored, README-order names"] = {"classes": len(gtu), "cos": round(float(np.mean(cos)), 3)}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for k, v in report.items():
            extra = (f"  top1-in-top5 {v['top1_in_top5']:.2f}  one-sided classes on the moving side {v['side_agree']}"
                     if "side_agree" in v else "")
            print(f"{k:36s} classes {v['classes']:3d}  cos {v['cos']:.3f}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
