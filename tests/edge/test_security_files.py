"""Security defaults on the file side: a label is never a file path (whatever text the store accepts,
its files stay inside the store with safe names; what it refuses leaves the store untouched), and
nothing a user hands us is unpickled (a scan of the product code, and hostile pickles offered to the
readers never run)."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from crossglg.datasets import read_pyskl_pickle
from edge.calibration import load_base_stats
from edge.errors import SourceError
from edge.skeleton_files import load_skeleton_file
from edge.store import MAX_LABEL_CHARS, SupportStore, check_label, slugify

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("crossglg", "edge", "train", "calib")
PP = "crossglg-pp/1;frames=64"
SLUG_RE = re.compile(r"^[a-z0-9-]{1,48}$")
STORE_FILE_RE = re.compile(r"^(manifest\.json(\.bak)?|embeddings\.\d+\.npz|exemplars/[a-z0-9-]{1,48}\.\d+\.npz)$")

# accepted by the store (printable, one line, <= 80 characters) yet full of path syntax
HOSTILE = [
    "../../x", "..", ".", "/etc/passwd", "..\\..\\x", "C:\\Windows\\win.ini", "~/.ssh/id_rsa", "a/../../b",
    "%2e%2e%2fx", "$HOME", "CON", "nul", "aux.txt", ".hidden", "x/" * 40, "./-rf", "\u202e../x",
    "\uff0e\uff0e\uff0fx",  # fullwidth ../x: NFKD folds it to ASCII ../x
    "\u2215etc\u2215passwd",  # division slashes
    "挥手/../挥手", "👋" * MAX_LABEL_CHARS, "zero\u200bwidth", "\ufeffbom",
]
# refused by the store: control characters, line breaks, surrogates, too long
REFUSED = ["../../x\x00", "\x00", "a\nb", "../x\ry", "tab\there", "line\u2028sep", "lone \ud800",
           "x" * (MAX_LABEL_CHARS + 1), "挥" * 10_000, "", "   "]
PATH_PIECES = ["..", "/", "\\", ".", "~", ":", "*", "?", '"', "<", ">", "|", " ", "a", "Z", "9", "é", "挥", "👋",
               "\u200b", "%00", "\u2215", "\uff0f", "\uff0e", "-", "_", "$", "%"]
CONTROL = ["\x00", "\n", "\r", "\x7f", "\x1b", "\u2028", "\u2029", "\x85"]


def _random_labels(n: int, seed: int = 0, control: bool = False) -> list[str]:
    """Labels of 1-39 path-syntax pieces (<= 78 characters, deterministic); with ``control`` each
    also holds a control character or line separator inside (never at an end, where it would be
    stripped)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        text = "".join(rng.choice(PATH_PIECES, size=int(rng.integers(1, 40))))
        if control:
            cut = int(rng.integers(0, len(text) + 1))
            text = f"a{text[:cut]}{CONTROL[int(rng.integers(len(CONTROL)))]}{text[cut:]}a"  # not rng.choice: NumPy strings drop a trailing NUL
        out.append(text)
    return out


def _tree(top: Path) -> dict[str, bytes]:
    return {p.relative_to(top).as_posix(): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


def test_labels_with_path_characters_never_become_file_paths(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "store"
    store = SupportStore.create(root, "fp", PP)
    rng = np.random.default_rng(1)
    accepted = []
    for label in HOSTILE + _random_labels(120):  # each add is an atomic, fsynced write: ~40 ms
        try:
            text = check_label(label)
        except ValueError:
            continue
        if text in accepted:
            continue  # a second action with the same label is the enroll command's business, not ours
        clip = rng.normal(0, 0.3, (20, 1, 25, 3)).astype(np.float32)
        store.add_action(label, clip, rng.normal(size=8).astype(np.float32))
        accepted.append(text)
    assert set(HOSTILE) <= set(accepted) and len(accepted) > 130, len(accepted)  # all legal labels

    # every file anywhere under tmp_path is one of the store's own, named after slugs only
    files = _tree(tmp_path)
    assert all(f.startswith("deep/store/") for f in files), [f for f in files if not f.startswith("deep/store/")]
    names = [f.removeprefix("deep/store/") for f in files]
    assert all(STORE_FILE_RE.match(n) for n in names), [n for n in names if not STORE_FILE_RE.match(n)]
    slugs = [a.slug for a in store.actions]
    assert len(set(slugs)) == len(slugs) == len({a.label for a in store.actions})
    # the text itself is kept verbatim (a label is data, not a name) and survives a reopen
    again = SupportStore.open(root, "fp", PP)
    assert [a.label for a in again.actions] == [a.label for a in store.actions]
    assert set(accepted) == {a.label for a in again.actions}

    # renaming to hostile text touches the manifest only
    before = {k: v for k, v in _tree(root).items() if k.startswith("exemplars/")}
    store.rename_action(slugs[0], "../../../../tmp/owned")
    assert {k: v for k, v in _tree(root).items() if k.startswith("exemplars/")} == before
    assert not (tmp_path / "tmp").exists() and store.action(slugs[0]).label == "../../../../tmp/owned"


def test_refused_labels_leave_the_store_untouched(tmp_path: Path) -> None:
    store = SupportStore.create(tmp_path / "store", "fp", PP)
    clip = np.zeros((20, 1, 25, 3), np.float32)
    slug = store.add_action("wave", clip, np.ones(8, np.float32))
    before = _tree(tmp_path)
    refused = REFUSED + _random_labels(200, seed=2, control=True)
    for label in refused:
        with pytest.raises(ValueError, match="action label"):
            store.add_action(label, clip, np.ones(8, np.float32))
        with pytest.raises(ValueError, match="action label"):
            store.rename_action(slug, label)
    assert _tree(tmp_path) == before and [a.label for a in store.actions] == ["wave"]


def test_slugs_stay_safe_for_any_text() -> None:
    """Below the store's label rule, slugify alone keeps every name safe (defence in depth)."""
    taken: set[str] = set()
    for label in HOSTILE + REFUSED + _random_labels(300, seed=3) + _random_labels(200, seed=4, control=True) + [
            "\x00" * 10_000, "/" * 10_000]:
        slug = slugify(label, taken)
        assert SLUG_RE.match(slug) and slug not in taken and slug not in ("con", "nul", "aux"), (label[:40], slug)
        taken.add(slug)


# ---- no pickle ---------------------------------------------------------------------------------

# the only product code allowed to unpickle, and why (each entry must still be needed)
TRUSTED_ONLY = {
    ("crossglg/datasets/ntu.py", "pickle.load"): "read_pyskl_pickle refuses unless trusted=True (documented)",
}
FORBIDDEN = {"pickle.load", "pickle.loads", "pickle.Unpickler", "_pickle.load", "_pickle.loads", "cPickle.load",
             "dill.load", "dill.loads", "joblib.load", "shelve.open", "marshal.load", "marshal.loads",
             "pandas.read_pickle", "yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all", "torch.jit.load"}
SAFE_YAML_LOADERS = {"yaml.SafeLoader", "yaml.CSafeLoader"}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted module/object name, from every import in the file."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([aliases.get(node.id, node.id), *reversed(parts)])


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def unsafe_loads(path: Path) -> list[tuple[int, str, str]]:
    """``(line, call, why)`` for each call in ``path`` that could unpickle (or run code) from a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or (name := _dotted(node.func, aliases)) is None:
            continue
        if name in FORBIDDEN:
            found.append((node.lineno, name, "unpickles or runs code"))
        elif name == "numpy.load":
            flag = _keyword(node, "allow_pickle")
            if not (isinstance(flag, ast.Constant) and flag.value is False):
                found.append((node.lineno, name, "needs allow_pickle=False"))
        elif name == "torch.load":
            flag = _keyword(node, "weights_only")
            if not (isinstance(flag, ast.Constant) and flag.value is True):
                found.append((node.lineno, name, "needs weights_only=True"))
        elif name in ("yaml.load", "yaml.load_all"):
            loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            if loader is None or _dotted(loader, aliases) not in SAFE_YAML_LOADERS:
                found.append((node.lineno, name, "needs Loader=yaml.SafeLoader"))
    return found


def test_the_scanner_sees_each_unsafe_form(tmp_path: Path) -> None:
    code = """
import pickle as pk, numpy, yaml
from numpy import load
import torch
pk.loads(b"")
numpy.load("a.npy")
load("a.npy", allow_pickle=True)
numpy.load("ok.npy", allow_pickle=False)
torch.load("m.pt")
torch.load("ok.pt", weights_only=True)
yaml.load(open("c.yaml"))
yaml.load(open("ok.yaml"), Loader=yaml.SafeLoader)
"""
    (tmp_path / "m.py").write_text(code)
    assert [(c, why) for _, c, why in unsafe_loads(tmp_path / "m.py")] == [
        ("pickle.loads", "unpickles or runs code"), ("numpy.load", "needs allow_pickle=False"),
        ("numpy.load", "needs allow_pickle=False"), ("torch.load", "needs weights_only=True"),
        ("yaml.load", "needs Loader=yaml.SafeLoader")]  # fmt: skip


def test_no_product_code_unpickles_user_files() -> None:
    files = [p for pkg in PRODUCT for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert len(files) > 50
    found: dict[tuple[str, str], list[int]] = {}
    for path in files:
        for line, call, why in unsafe_loads(path):
            found.setdefault((path.relative_to(ROOT).as_posix(), call), []).append(line)
            if (path.relative_to(ROOT).as_posix(), call) not in TRUSTED_ONLY:
                pytest.fail(f"{path.relative_to(ROOT)}:{line}: {call} {why} (user files must never be unpickled)")
    assert set(found) == set(TRUSTED_ONLY), f"stale TRUSTED_ONLY entries: {set(TRUSTED_ONLY) - set(found)}"
    # and no product code opts into the trusted reader
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                flag = _keyword(node, "trusted")
                assert not (isinstance(flag, ast.Constant) and flag.value is True), f"{path}:{node.lineno}: trusted=True"


class _Trap:
    """Unpickling this creates ``marker``: how we see whether a reader ran a file's code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_hostile_pickles_offered_to_the_readers_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    trap = _Trap(marker)
    pkl = tmp_path / "ntu_3d.pkl"
    pkl.write_bytes(pickle.dumps({"annotations": [trap], "split": {}}))
    with pytest.raises(ValueError, match="refusing to unpickle"):
        read_pyskl_pickle(pkl)
    objects = np.array([trap, trap], dtype=object)
    np.save(tmp_path / "clip.npy", objects, allow_pickle=True)
    np.savez(tmp_path / "clip.npz", joints=objects, fps=np.float64(30))
    for name in ("clip.npy", "clip.npz"):
        with pytest.raises(SourceError, match=name):
            load_skeleton_file(tmp_path / name)
    np.savez(tmp_path / "stats.npz", means=objects, covs=objects)
    with pytest.raises(ValueError):
        load_base_stats(tmp_path / "stats.npz")
    # a support store whose exemplar was swapped for a pickle
    store = SupportStore.create(tmp_path / "store", "fp", PP)
    slug = store.add_action("wave", np.zeros((20, 1, 25, 3), np.float32), np.ones(8, np.float32))
    np.savez(tmp_path / "store" / store.action(slug).exemplars[0].file, clip=objects, fps=np.float64(30),
             timestamps=objects)  # fmt: skip
    with pytest.raises(ValueError, match="pickled"):
        SupportStore.open(tmp_path / "store", "fp", PP).load_exemplar(slug)
    assert not marker.exists()
