"""`crossglg-edge actions list|remove|rename`: manage the enrolled actions of a support store.

Works on the store files directly (no model needed). A running runtime keeps its own view until
restarted; to change a live runtime use its control channel (the UI does).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..runtime import default_store_dir, embed_clip, open_model_arg, preprocess_config_for, status_line
from ..store import MATCH_FIELDS, SupportStore
from ..store_manifest import MANIFEST

NAME = "actions"
HELP = "List, remove or rename enrolled actions in a support store."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action_command", metavar="list|remove|rename|reembed", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", default=None, metavar="DIR", help=f"support store (default {default_store_dir()})")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("list", parents=[common], help="list enrolled actions")
    by = argparse.ArgumentParser(add_help=False)
    by.add_argument("--by", choices=MATCH_FIELDS, default="any",
                    help="match NAME exactly on the label, the slug, or either (default: %(default)s; a name that "
                         "is one action's label and another's slug is refused as ambiguous)")
    p = sub.add_parser("remove", parents=[common, by], help="remove an action (by label or slug)")
    p.add_argument("label", metavar="NAME")
    p = sub.add_parser("rename", parents=[common, by], help="give an action a new label")
    p.add_argument("label", metavar="NAME")
    p.add_argument("new_label")
    p = sub.add_parser("reembed", parents=[common], help="re-embed every exemplar with another model (after an update)")
    p.add_argument("--model", default=None, metavar="MODEL.onnx",
                   help="the model the runtime will use (default: the installed starter model)")  # fmt: skip


def _reembed(args: argparse.Namespace, root: Path) -> int:
    """Recompute every embedding from the stored raw clips with ``--model`` (all or nothing)."""
    with open_model_arg(args.model, say=status_line("actions")) as engine:
        pp = preprocess_config_for(engine.meta)
        store = SupportStore.open(root, allow_mismatch=True)
        n = store.reembed(lambda clip: embed_clip(engine, pp, clip), engine.meta.fingerprint, pp.id)
    result = {"reembedded": n, "model_id": engine.meta.model_id}
    print(json.dumps(result) if args.json else f"re-embedded {n} exemplar(s) with {engine.meta.model_id}")
    return 0


def _open(args: argparse.Namespace) -> SupportStore | None:
    root = Path(args.store) if args.store else default_store_dir()
    if not (root / MANIFEST).exists():
        if args.action_command == "list":
            return None  # nothing enrolled yet is not an error
        raise FileNotFoundError(f"no support store at {root} (enroll an action first)")
    return SupportStore.open(root)


def run(args: argparse.Namespace) -> int:
    store = _open(args)
    if args.action_command == "list":
        rows = [] if store is None else [
            {"label": a.label, "slug": a.slug, "exemplars": len(a.exemplars), "created": a.created, "source": a.source}
            for a in store.actions
        ]
        if args.json:
            print(json.dumps({"store": str(args.store or default_store_dir()), "actions": rows}, ensure_ascii=False))
        elif not rows:
            print("no actions enrolled", file=sys.stderr)
        else:
            for r in rows:
                print(f"{r['label']}\t{r['slug']}\t{r['exemplars']} exemplar(s)\t{r['created']}\t{r['source']}")
        return 0
    if store is None:  # unreachable: _open raised
        return 2
    if args.action_command == "reembed":
        return _reembed(args, store.root)
    slug = store.find(args.label, args.by)
    if args.action_command == "remove":
        store.remove_action(slug)
        result = {"removed": slug}
    else:
        if any(a.label == args.new_label.strip() and a.slug != slug for a in store.actions):
            raise ValueError(f"another action is already called {args.new_label!r}")
        store.rename_action(slug, args.new_label)
        result = {"renamed": slug, "label": args.new_label.strip()}
    print(json.dumps(result, ensure_ascii=False) if args.json else " ".join(f"{k}: {v}" for k, v in result.items()))
    return 0
