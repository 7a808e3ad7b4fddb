"""`crossglg-train descriptions check [--json] [FILE ...]`: validate description files.

Without files, every shipped file (``crossglg/text/data/*.json``) is checked. Per dataset it reports
the class count and the problems: schema errors (``descriptions``) and quality problems
(``quality``: class count/ids, shared joint texts, moving joints described without motion).
Exit code 0 when there is no problem, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from crossglg.text.descriptions import DescriptionError, load_descriptions, shipped_datasets, shipped_path
from crossglg.text.quality import EXPECTED_CLASS_COUNTS, check_descriptions

NAME = "descriptions"
HELP = "inspect action description files (subcommand: check)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate description files; non-zero exit on problems")
    check.add_argument("files", nargs="*", type=Path, help="files to check (default: all shipped files)")
    check.add_argument("--json", action="store_true", help="print a JSON report")


def check_file(path: Path, expected_dataset: str | None = None) -> dict[str, Any]:
    """Report for one file: ``{"path", "dataset", "classes", "expected_classes", "problems"}``."""
    report: dict[str, Any] = {"path": str(path), "dataset": expected_dataset, "classes": None,
                              "expected_classes": EXPECTED_CLASS_COUNTS.get(expected_dataset or ""), "problems": []}
    try:
        ds = load_descriptions(path)
    except (DescriptionError, OSError) as exc:
        report["problems"].append({"class": None, "field": None, "message": str(exc)})
        return report
    report["dataset"] = ds.dataset
    report["classes"] = len(ds)
    report["expected_classes"] = EXPECTED_CLASS_COUNTS.get(expected_dataset or ds.dataset)
    report["problems"] = [p.to_dict() for p in check_descriptions(ds, expected_dataset)]
    return report


def run(args: argparse.Namespace) -> int:
    if args.files:
        reports = [check_file(p) for p in args.files]
    else:
        # a shipped file must describe the dataset its name says
        reports = [check_file(shipped_path(d), expected_dataset=d) for d in shipped_datasets()]
    ok = bool(reports) and all(not r["problems"] for r in reports)
    if args.json:
        print(json.dumps({"ok": ok, "datasets": reports}, indent=1))
    else:
        if not reports:
            print("no description files found")
        for r in reports:
            expected = f" (expected {r['expected_classes']})" if r["expected_classes"] is not None else ""
            status = "ok" if not r["problems"] else f"{len(r['problems'])} problem(s)"
            print(f"{r['dataset'] or r['path']}: {r['classes']} classes{expected}: {status}")
            for p in r["problems"]:
                where = ", ".join(x for x in (p["class"] and f"class {p['class']!r}",
                                              p["field"] and f"field {p['field']!r}") if x)
                print(f"  - {where + ': ' if where else ''}{p['message']}")
    return 0 if ok else 1
