"""Text vs learned joint importance of a g2l/CrossGLG checkpoint on a protocol's novel classes.

    nice -n 10 .venv/bin/python tools/joint_importance.py runs/explore_aug_metric/final.pt \\
        --data-root ../shared/data --png docs/img/joint_importance_utd9.png --json runs/joint_importance.json

Runs every real query window of the novel classes (default: the checkpoint's protocol) through the
model, averages the JID's k_out per class, and compares it with k_gt from the class's description:
Spearman rank correlation and top-5 hit rate per class (mean and 95% CI over all novel classes),
next to the same scores against the other classes' text (the shuffled reference) and a permutation
test. Prints a summary, writes the JSON and one PNG for a few classes (default: four spread over
the agreement range, best to worst). ``--split base`` scores the classes the JID was calibrated on
instead (what training reached). Refuses a checkpoint without a JID (variant baseline or l2g).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def summary_lines(res: dict) -> list[str]:
    """Human-readable summary of :func:`train.joint_importance.agreement`'s result."""
    s, t, ss, st, p = res["spearman"], res["top5"], res["shuffled_spearman"], res["shuffled_top5"], res["permutation"]
    b = res["between_classes"]
    return [
        f"{res['checkpoint']} ({res['variant']}, {res['epochs']} epochs) on {res['protocol']}: "
        f"{res['classes']} {res['split']} classes, {res['windows']} windows",
        f"Spearman, own class's text:     {s['mean']:+.3f} ± {s['ci95']:.3f} (95% CI over classes)",
        f"Spearman, other classes' text:  {ss['mean']:+.3f} ± {ss['ci95']:.3f}",
        f"top-5 hit, own class's text:    {t['mean']:.3f} ± {t['ci95']:.3f}",
        f"top-5 hit, other classes' text: {st['mean']:.3f} ± {st['ci95']:.3f} (uniform chance "
        f"~{res['top5_uniform_chance']:.2f})",
        f"permutation test ({p['n']} shuffles of the text rows): shuffled mean Spearman {p['shuffled_mean']:+.3f} "
        f"[{p['shuffled_95'][0]:+.3f}, {p['shuffled_95'][1]:+.3f}], p = {p['p']:.4f}",
        f"Spearman between two classes' rows: text {b['text']:+.3f}, learned {b['learned']:+.3f} "
        "(1 = one ranking for every class); total variation text "
        f"{res['between_classes_tv']['text']:.3f}, learned {res['between_classes_tv']['learned']:.3f}",
        f"learned importance across windows: mean total variation from the mean row {res['window_tv']:.3f} "
        "(0 = the same output for every window)",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="final.pt of a g2l or crossglg run")
    ap.add_argument("--data-root", required=True, help="folder holding the datasets")
    ap.add_argument("--protocol", default=None, help="protocol whose novel classes to use (default: the checkpoint's)")
    ap.add_argument("--classes", nargs="+", default=None, metavar="NAME",
                    help="classes to draw (substrings of the class names; default: 4 spread over the agreement)")
    ap.add_argument("--png", type=Path, default=Path("joint_importance.png"), help="picture (default: %(default)s)")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--permutations", type=int, default=2000, help="shuffles in the permutation test (default: %(default)s)")
    ap.add_argument("--split", choices=("novel", "base"), default="novel",
                    help="novel: the novel classes' query windows (default); base: the classes the JID was "
                    "calibrated on, as a reference")
    ap.add_argument("--max-per-class", type=int, default=0, metavar="N",
                    help="cap the windows per class (quick checks; 0 = all)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: leave cores to others)")
    args = ap.parse_args(argv)
    if args.permutations < 1:
        ap.error(f"--permutations must be >= 1, got {args.permutations}")

    import torch

    torch.set_num_threads(args.threads)
    from crossglg.atomic import atomic_write
    from train.joint_importance import NoJointImportanceError, agreement, class_importance, pick_classes
    from train.joint_importance_plot import importance_png

    try:
        imp = class_importance(args.checkpoint, args.data_root, args.protocol, args.max_per_class, args.split)
    except NoJointImportanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    res = agreement(imp, permutations=args.permutations)
    if args.classes:
        chosen = []
        for want in args.classes:
            hits = [i for i, n in enumerate(imp.class_names) if want.lower() in n.lower()]
            if len(hits) != 1:
                ap.error(f"--classes {want!r}: matches {len(hits)} of the novel classes {list(imp.class_names)}; "
                         "expected exactly one")
            chosen.append(hits[0])
    else:
        chosen = pick_classes(res)
    title = (f"{Path(imp.checkpoint).parent.name}/{Path(imp.checkpoint).name} ({imp.variant}, {imp.epochs} epochs), "
             f"{imp.protocol} {imp.split} classes; mean Spearman over all {res['classes']}: {res['spearman']['mean']:+.2f} "
             f"(other classes' text {res['shuffled_spearman']['mean']:+.2f})")
    importance_png(imp.text[chosen], imp.learned[chosen], [imp.class_names[i] for i in chosen],
                   [res["per_class"][i] for i in chosen], args.png, title)
    res["png"] = {"path": str(args.png), "classes": [imp.class_names[i] for i in chosen]}
    res["text"] = imp.text.round(5).tolist()
    res["learned"] = imp.learned.round(5).tolist()
    if args.json:
        atomic_write(args.json, json.dumps(res, indent=1) + "\n")
    print("\n".join(summary_lines(res)))
    print(f"wrote {args.png}" + (f" and {args.json}" if args.json else ""))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
