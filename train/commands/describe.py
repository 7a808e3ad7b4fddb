"""`crossglg-train describe`: LLM descriptions for new class names, merged into a description file.

Example::

    crossglg-train describe --dataset my_actions.json --base-url http://127.0.0.1:8000/v1 \\
        --model llama3 "w1=wave both hands" "stretch arms overhead"

Every class is generated and validated first; the file is written (atomically) only when all
replies are good, so a malformed reply leaves it untouched.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from crossglg.text.descriptions import (
    DescriptionSet,
    load_descriptions,
    merge_descriptions,
    save_descriptions,
    shipped_path,
)
from crossglg.text.generate import ChatConfig, describe_class

NAME = "describe"
HELP = "generate class descriptions with an OpenAI-compatible chat endpoint and merge them into a file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("classes", nargs="+", metavar="CLASS",
                        help='class name, or "ID=name" to choose the class id (default: a slug of the name)')
    parser.add_argument("--dataset", required=True,
                        help="description file to extend (created if missing), or a shipped dataset key")
    parser.add_argument("--dataset-key", default=None,
                        help="dataset key for a new file (default: the file name without .json)")
    parser.add_argument("--base-url", default=None,
                        help="API root, e.g. http://127.0.0.1:8000/v1 (env CROSSGLG_LLM_BASE_URL, OPENAI_BASE_URL)")
    parser.add_argument("--model", default=None, help="model name (env CROSSGLG_LLM_MODEL)")
    parser.add_argument("--api-key", default=None,
                        help="bearer token (env CROSSGLG_LLM_API_KEY, OPENAI_API_KEY); omit for no auth")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--replace", action="store_true", help="overwrite classes whose id already exists")
    parser.add_argument("--dry-run", action="store_true", help="print the merged file instead of writing it")


def _resolve_path(dataset: str) -> Path:
    if dataset.endswith(".json") or os.sep in dataset or "/" in dataset:
        return Path(dataset)
    return shipped_path(dataset)


def _split(spec: str) -> tuple[str, str]:
    if "=" in spec:
        cid, name = spec.split("=", 1)
        if not cid.strip() or not name.strip():
            raise ValueError(f"class {spec!r}: expected ID=name with both parts non-empty")
        return cid.strip(), name.strip()
    name = spec.strip()
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not slug:
        raise ValueError(f"class {spec!r}: empty class name")
    return slug, name


def _env(*names: str) -> str | None:
    for n in names:
        if os.environ.get(n):
            return os.environ[n]
    return None


def run(args: argparse.Namespace) -> int:
    path = _resolve_path(args.dataset)
    if path.exists():
        base = load_descriptions(path)
    else:
        base = DescriptionSet(dataset=args.dataset_key or path.stem, classes=())
    base_url = args.base_url or _env("CROSSGLG_LLM_BASE_URL", "OPENAI_BASE_URL")
    model = args.model or _env("CROSSGLG_LLM_MODEL")
    if not base_url:
        raise ValueError("no endpoint: pass --base-url or set CROSSGLG_LLM_BASE_URL")
    if not model:
        raise ValueError("no model: pass --model or set CROSSGLG_LLM_MODEL")
    config = ChatConfig(
        base_url=base_url,
        model=model,
        api_key=args.api_key or _env("CROSSGLG_LLM_API_KEY", "OPENAI_API_KEY"),
        timeout=args.timeout,
        temperature=args.temperature,
    )
    specs = [_split(s) for s in args.classes]
    ids = [cid for cid, _ in specs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate class ids in the request: {ids}")
    existing = set(base.ids)
    if not args.replace and existing & set(ids):
        raise ValueError(f"{path}: class ids already present (use --replace): {sorted(existing & set(ids))}")
    new = []
    for cid, name in specs:
        print(f"describing {base.dataset}/{cid}: {name}", file=sys.stderr)
        new.append(describe_class(config, base.dataset, cid, name))
    merged = merge_descriptions(base, new, replace=args.replace)
    if args.dry_run:
        import json

        print(json.dumps(merged.to_dict(), indent=1, ensure_ascii=False))
        return 0
    save_descriptions(merged, path)
    print(f"{path}: {len(new)} class(es) added or replaced, {len(merged)} in total", file=sys.stderr)
    return 0
