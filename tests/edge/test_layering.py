"""Layering: the edge runtime depends on the core only, never on train/ or the torch stack.

Two checks: importing every edge module in a fresh interpreter leaves no ``train``, ``torch`` or
``transformers`` module behind, and no edge source file (function bodies included, where lazy imports
hide) has an import statement naming them.
"""

from __future__ import annotations

import ast

from shared_helpers import ROOT, run_python

FORBIDDEN = ("train", "torch", "transformers")

_IMPORT_ALL = r"""
import importlib, pkgutil, sys
import edge
names = ["edge"]
for info in pkgutil.walk_packages(edge.__path__, "edge."):
    importlib.import_module(info.name)
    names.append(info.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("train", "torch", "transformers"))
print("\n".join(names))
sys.exit("forbidden modules imported: " + ", ".join(bad) if bad else 0)
"""


def test_every_edge_module_imports_without_train_or_torch() -> None:
    # nothing blocked: an optional import guarded by ``except ImportError`` must not hide a dependency
    proc = run_python(_IMPORT_ALL)
    assert proc.returncode == 0, proc.stderr
    imported = set(proc.stdout.split())
    # the walk really covered the package (the runtime, the engines, the TUI, the commands)
    assert {"edge.pipeline", "edge.skeleton_files", "edge.engines.onnx", "edge.ui.app", "edge.commands.run"} <= imported


def _imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_edge_source_imports_train_or_torch_even_lazily() -> None:
    files = sorted((ROOT / "edge").rglob("*.py"))
    assert len(files) > 20
    offenders = {}
    for path in files:
        bad = _imported_roots(ast.parse(path.read_text(encoding="utf-8"), str(path))) & set(FORBIDDEN)
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert not offenders, offenders


def test_import_scan_sees_lazy_imports() -> None:
    """The static check would catch the old lazy ``from train import datasets`` inside a function."""
    src = "def f():\n    from train import datasets\n    import torch.nn\n    from .x import y\n"
    assert _imported_roots(ast.parse(src)) == {"train", "torch"}
