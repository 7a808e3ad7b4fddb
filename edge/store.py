"""The support store: one-shot exemplars on disk (a directory), safe to edit while things go wrong.

Layout::

    <store>/manifest.json            schema version, model fingerprint, preprocessing id, actions
    <store>/manifest.json.bak        the previous manifest (kept for manual recovery)
    <store>/exemplars/<slug>.<k>.npz raw clip (T, M, 25, 3) float32 + fps + timestamps (T,)
    <store>/embeddings.<gen>.npz     embeddings (S, D) float32 + the exemplar file of each row

Rules: every file is written to a temp file, fsynced and renamed (``os.replace``); the manifest is
written last and is the commit point (files it does not reference are leftovers of an interrupted
write: they are ignored, and removed after the next successful write); a Ctrl-C or SIGTERM during a
write takes effect once it has finished (:mod:`edge.signals`). ``np.load(allow_pickle=False)`` only. Labels are free text kept
in the manifest; file names use a slug (ASCII ``[a-z0-9-]``, unique). Raw clips are kept so a new
model can re-embed them: opening a store made with another model fingerprint (or preprocessing)
raises :class:`StoreMismatchError` unless ``allow_mismatch=True``, after which :meth:`SupportStore.reembed`
brings it up to date. One writer at a time (no cross-process locking).
"""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import io
import json
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crossglg.atomic import atomic_write
from crossglg.npy_check import check_npy_sizes
from crossglg.pose_features import pose_vector
from crossglg.preprocess import validate_sequence

from .errors import EdgeError
from .matcher import SupportSet
from .signals import deferred_interrupts
from .store_manifest import MANIFEST, SCHEMA_VERSION, ActionEntry, ExemplarEntry, parse_manifest

_SLUG_MAX = 48
MAX_NPZ_BYTES = 1 << 30  # a store file over 1 GiB is not one the store wrote (clips are ~100 KB)
MAX_LABEL_CHARS = 80  # the UI's label inputs take at most this many characters too
_RESERVED = {"con", "prn", "aux", "nul", "com1", "lpt1", "manifest", "embeddings"}


class StoreMismatchError(ValueError):
    """The store was embedded by another model or preprocessing; re-embed it (raw clips are kept)."""


class StoreWriteError(EdgeError, OSError):
    """The store's directory cannot be written (full disk, read-only, permissions): nothing changed.

    Its text is one line naming the store, the reason and what to do; exit code 1 (the command was
    fine, its surroundings were not).
    """

    exit_code = 1


def _discard(path: Path) -> None:
    """Remove a file a failed write left, if the file system lets us (never masks the first error)."""
    with suppress(OSError):
        path.unlink(missing_ok=True)


def _write_error(root: Path, exc: OSError) -> StoreWriteError:
    reason = exc.strerror or str(exc)
    hint = {
        errno.ENOSPC: "free some space there or choose another --store",
        errno.EDQUOT: "free some space there or choose another --store",
        errno.EROFS: "it is on a read-only file system: choose another --store",
        errno.EACCES: "this user may not write there: fix its permissions or choose another --store",
        errno.EPERM: "this user may not write there: fix its permissions or choose another --store",
    }.get(exc.errno or 0, "choose another --store or fix the directory")
    err = StoreWriteError(f"cannot write the support store {root}: {reason} ({hint}); nothing was changed")
    err.errno = exc.errno
    return err


class AmbiguousActionError(ValueError):
    """A name matches one action's label and another action's slug: the caller must say which."""


MATCH_FIELDS = ("any", "label", "slug")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def check_label(label: object) -> str:
    """A label as stored: stripped text of 1..:data:`MAX_LABEL_CHARS` characters with no control
    characters (newline, tab, NUL, ...), line separators or unpaired surrogates; ValueError otherwise.

    Why bounded: every label and event message carries the label, and a message over the
    protocol's size limit never reaches a subscriber; a newline breaks one-line listings.
    """
    if not isinstance(label, str) or not label.strip():
        raise ValueError("action label: expected non-empty text")
    text = label.strip()
    if len(text) > MAX_LABEL_CHARS:
        raise ValueError(f"action label: at most {MAX_LABEL_CHARS} characters, got {len(text)} ({text[:20]!r}...)")
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            name = unicodedata.name(ch, "control character")
            raise ValueError(f"action label {text[:40]!r}: character {i + 1} is U+{ord(ch):04X} ({name.lower()}), "
                             "which a label cannot hold (use printable text on one line)")  # fmt: skip
    return text


def slugify(label: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """Safe, unique file-name stem for a free-text label: ``[a-z0-9-]{1,48}`` (+ ``-N`` when taken).

    Accents are folded (``Café`` -> ``cafe``); labels with no ASCII letters or digits at all (e.g.
    ``"挥手"``, ``"../.."``, ``""``) become ``action-<hash>`` so different labels stay distinct.
    """
    folded = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii").lower()
    base = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:_SLUG_MAX].strip("-")
    if not base or base in _RESERVED:
        digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:8]
        base = f"action-{digest}" if not base else f"{base}-{digest}"
    slug, n = base, 2
    while slug in taken:
        suffix = f"-{n}"
        slug = base[: _SLUG_MAX - len(suffix)].rstrip("-") + suffix
        n += 1
    return slug


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _load_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        check_npy_sizes(path, MAX_NPZ_BYTES)  # a header claiming 10^9 rows is refused, not allocated
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys if k not in z.files]
            if missing:
                raise ValueError(f"{path}: missing arrays {missing} (expected {list(keys)})")
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"support store file missing: {path}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:  # damaged archive: bad CRC, names, headers
        raise ValueError(f"{path}: not a readable npz file: {exc}") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():  # numpy's words for anything that is neither npz nor npy
            raise ValueError(f"{path}: not an .npz archive of plain arrays (expected one written by the store; "
                             "pickled objects are never loaded)") from None
        raise


@dataclass(frozen=True)
class Exemplar:
    """One raw demonstration: clip ``(T, M, 25, 3)`` float32 (NaN = missing), fps, timestamps ``(T,)``."""

    clip: np.ndarray
    fps: float
    timestamps: np.ndarray


def _check_clip(clip: np.ndarray) -> np.ndarray:
    """The checks training applies (:func:`crossglg.preprocess.validate_sequence`), and T >= 2."""
    arr = np.asarray(clip)
    if arr.ndim != 4 or arr.shape[2:] != (25, 3) or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"exemplar clip: expected (T>=2, M>=1, 25, 3), got {arr.shape}")
    try:
        return validate_sequence(arr)
    except ValueError as exc:
        raise ValueError(f"exemplar clip: {exc}") from None


def _check_embedding(emb: np.ndarray, dim: int | None) -> np.ndarray:
    e = np.asarray(emb, dtype=np.float32).reshape(-1)
    if dim is not None and e.size != dim:
        raise ValueError(f"embedding: expected {dim} values, got {e.size}")
    if not np.isfinite(e).all() or not np.any(e):
        raise ValueError("embedding: must be finite and not all zero")
    return e


class SupportStore:
    """An open support store (see the module doc). Mutating methods persist before returning."""

    def __init__(self, root: Path, manifest: dict[str, Any], embeddings: dict[str, np.ndarray]) -> None:
        self.root = root
        self._m = manifest
        self._emb = embeddings  # exemplar file -> (D,) float32

    # ---- opening ---------------------------------------------------------------------------

    @classmethod
    def create(cls, root: str | os.PathLike, model_fingerprint: str, preprocess_id: str) -> SupportStore:
        """Make a new, empty store; refuses to touch a directory that already holds a manifest."""
        path = Path(root)
        if (path / MANIFEST).exists():
            raise FileExistsError(f"{path / MANIFEST} already exists; open the store instead")
        store = cls(path, {
            "schema_version": SCHEMA_VERSION, "model_fingerprint": model_fingerprint,
            "preprocess_id": preprocess_id, "embedding_dim": None, "embeddings_file": None,
            "created": now_iso(), "actions": [],
        }, {})
        with store._writing():
            store._commit(None)
        return store

    @classmethod
    def open(
        cls, root: str | os.PathLike, model_fingerprint: str | None = None, preprocess_id: str | None = None,
        *, allow_mismatch: bool = False,
    ) -> SupportStore:
        """Open and validate a store. Pass the current model's fingerprint/preprocessing id to check them."""
        path = Path(root)
        manifest = parse_manifest(path / MANIFEST)
        emb: dict[str, np.ndarray] = {}
        if manifest["embeddings_file"]:
            emb_path = path / manifest["embeddings_file"]
            z = _load_npz(emb_path, ("embeddings", "files", "fingerprint"))
            if str(z["fingerprint"]) != manifest["model_fingerprint"]:
                raise ValueError(f"{emb_path}: field 'fingerprint' {str(z['fingerprint'])!r} differs from the manifest's")
            rows, files, dim = z["embeddings"], z["files"], manifest["embedding_dim"]
            if rows.ndim != 2 or files.ndim != 1 or rows.shape[0] != files.shape[0] or rows.dtype.kind not in "fiu" \
                    or (dim is not None and rows.shape[1] != dim):  # fmt: skip
                raise ValueError(f"{emb_path}: field 'embeddings': expected (S, {dim or 'D'}) numbers with one row per "
                                 f"entry of 'files', got {rows.shape} {rows.dtype} and files {files.shape}")  # fmt: skip
            if not np.isfinite(rows).all():
                raise ValueError(f"{emb_path}: field 'embeddings': expected finite values, found NaN or inf")
            emb = {str(f): row.astype(np.float32) for f, row in zip(files, rows, strict=True)}
        store = cls(path, manifest, emb)
        for a in store.actions:
            for ex in a.exemplars:
                if ex.file not in emb:
                    raise ValueError(f"{emb_path}: no embedding for exemplar {ex.file!r} of action {a.slug!r}")
        stale = [
            what for what, want, have in (
                ("model fingerprint", model_fingerprint, manifest["model_fingerprint"]),
                ("preprocessing", preprocess_id, manifest["preprocess_id"]),
            ) if want is not None and want != have
        ]
        if stale and not allow_mismatch:
            raise StoreMismatchError(
                f"support store {path} was embedded with another {' and '.join(stale)} "
                f"(store: {manifest['model_fingerprint']!r} / {manifest['preprocess_id']!r}; current: "
                f"{model_fingerprint!r} / {preprocess_id!r}). Re-embed it from its raw clips "
                "(SupportStore.open(..., allow_mismatch=True).reembed(...)); nothing has been changed."
            )
        return store

    @classmethod
    def open_or_create(cls, root: str | os.PathLike, model_fingerprint: str, preprocess_id: str) -> SupportStore:
        if (Path(root) / MANIFEST).exists():
            return cls.open(root, model_fingerprint, preprocess_id)
        return cls.create(root, model_fingerprint, preprocess_id)

    # ---- reading ---------------------------------------------------------------------------

    @property
    def model_fingerprint(self) -> str:
        return self._m["model_fingerprint"]

    @property
    def preprocess_id(self) -> str:
        return self._m["preprocess_id"]

    @property
    def actions(self) -> list[ActionEntry]:
        return [ActionEntry.from_dict(a) for a in self._m["actions"]]

    def action(self, slug: str) -> ActionEntry:
        for a in self.actions:
            if a.slug == slug:
                return a
        raise KeyError(f"support store {self.root}: no action with slug {slug!r}")

    def find(self, name: str, by: str = "any") -> str:
        """The slug of the action that ``name`` names, matched exactly on ``by`` (label, slug or any).

        With ``by="any"`` a name that is one action's label and another action's slug (``"tai-chi"``
        when "tai chi" has slug ``tai-chi`` and "tai-chi" has slug ``tai-chi-2``) is refused with both
        candidates shown: guessing would delete or rename the wrong recording.
        """
        if by not in MATCH_FIELDS:
            raise ValueError(f"match field: expected one of {list(MATCH_FIELDS)}, got {by!r}")
        acts = self.actions
        hits = {a.slug: a for a in acts if (by != "slug" and a.label == name) or (by != "label" and a.slug == name)}
        if len(hits) == 1:
            return next(iter(hits))
        if hits:
            both = " and ".join(f"{a.label!r} (slug {a.slug})" for a in hits.values())
            raise AmbiguousActionError(f"{name!r} names two actions: {both}; say which by label or by slug")
        field = {"any": "label or slug", "label": "label", "slug": "slug"}[by]
        known = ", ".join(f"{a.label!r} (slug {a.slug})" for a in acts) or "none"
        raise ValueError(f"no enrolled action with {field} {name!r} in {self.root} (enrolled: {known})")

    def load_exemplar(self, slug: str, index: int = 0) -> Exemplar:
        ex = self.action(slug).exemplars[index]
        path = self.root / ex.file
        z = _load_npz(path, ("clip", "fps", "timestamps"))
        try:
            clip = _check_clip(z["clip"])
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        fps, ts = z["fps"], z["timestamps"]
        if fps.shape != () or fps.dtype.kind not in "fiu" or not (np.isfinite(fps) and fps > 0):
            shown = repr(fps.item()) if fps.size == 1 else f"an array of shape {fps.shape}"
            raise ValueError(f"{path}: field 'fps': expected a positive frame rate, got {shown}")
        if ts.shape != (clip.shape[0],) or ts.dtype.kind not in "fiu" or not np.isfinite(ts).all():
            raise ValueError(f"{path}: field 'timestamps': expected ({clip.shape[0]},) finite numbers, "
                             f"got {ts.shape} {ts.dtype}")  # fmt: skip
        return Exemplar(clip=clip, fps=float(fps), timestamps=ts.astype(np.float64))

    def support(self, pose_frames: int | None = None) -> SupportSet:
        """Embeddings grouped by action, for :class:`edge.matcher.Matcher`; with ``pose_frames``
        also each exemplar's pose features (:func:`crossglg.pose_features.pose_vector` of its raw
        clip), which a model with score fusion matches on. ``ValueError`` names a damaged clip."""
        acts = self.actions
        poses = None
        if pose_frames is not None:
            poses = tuple(np.stack([self._pose(a.slug, i, pose_frames) for i in range(len(a.exemplars))]) for a in acts)
        return SupportSet(
            slugs=tuple(a.slug for a in acts), labels=tuple(a.label for a in acts),
            embeddings=tuple(np.stack([self._emb[e.file] for e in a.exemplars]) for a in acts), poses=poses,
        )

    def _pose(self, slug: str, index: int, frames: int) -> np.ndarray:
        clip = self.load_exemplar(slug, index).clip  # its errors name the file already
        try:
            return pose_vector(clip, frames)
        except ValueError as exc:
            raise ValueError(f"{self.root / self.action(slug).exemplars[index].file}: {exc}") from None

    # ---- writing ---------------------------------------------------------------------------

    def add_action(
        self, label: str, clip: np.ndarray, embedding: np.ndarray, *, fps: float = 30.0,
        timestamps: np.ndarray | None = None, source: str = "",
    ) -> str:
        """Add a new action with its first exemplar; returns its slug. ``label``: see :func:`check_label`."""
        label = check_label(label)
        slug = slugify(label, {a["slug"] for a in self._m["actions"]})
        entry = {"label": label, "slug": slug, "created": now_iso(), "source": source, "exemplars": []}
        self._write_exemplar(entry, clip, embedding, fps, timestamps, source, new_action=True)
        return slug

    def add_exemplar(
        self, slug: str, clip: np.ndarray, embedding: np.ndarray, *, fps: float = 30.0,
        timestamps: np.ndarray | None = None, source: str = "",
    ) -> None:
        """Add one more demonstration to an existing action."""
        self.action(slug)
        entry = next(a for a in self._m["actions"] if a["slug"] == slug)
        self._write_exemplar(entry, clip, embedding, fps, timestamps, source, new_action=False)

    def _write_exemplar(
        self, entry: dict, clip: np.ndarray, embedding: np.ndarray, fps: float,
        timestamps: np.ndarray | None, source: str, new_action: bool,
    ) -> None:
        arr = _check_clip(clip)
        emb = _check_embedding(embedding, self._m["embedding_dim"])
        if not fps > 0:
            raise ValueError(f"exemplar fps: expected > 0, got {fps}")
        ts = np.arange(arr.shape[0]) / fps if timestamps is None else np.asarray(timestamps, np.float64)
        if ts.shape != (arr.shape[0],):
            raise ValueError(f"exemplar timestamps: expected ({arr.shape[0]},), got {ts.shape}")
        k = 0
        while (rel := f"exemplars/{entry['slug']}.{k}.npz") in self._emb or (self.root / rel).exists():
            k += 1
        new_entry = {**entry, "exemplars": [*entry["exemplars"], {
            "file": rel, "created": now_iso(), "source": source, "frames": int(arr.shape[0]), "fps": float(fps),
        }]}
        actions = [a for a in self._m["actions"] if a["slug"] != entry["slug"]]
        actions = [*actions, new_entry] if new_action else [new_entry if a["slug"] == entry["slug"] else a
                                                           for a in self._m["actions"]]
        emb_map = {**self._emb, rel: emb}
        with deferred_interrupts():  # Ctrl-C/SIGTERM after the commit must not reach the clean-up below
            try:
                with self._writing():
                    atomic_write(self.root / rel, _npz_bytes(clip=arr, fps=np.float64(fps), timestamps=ts))
                    self._commit({**self._m, "actions": actions, "embedding_dim": int(emb.size)}, emb_map)
            except BaseException:
                # the manifest was not replaced: the clip is an orphan; on a full disk it holds the
                # space the next write needs, so it goes now, not at the next successful commit
                _discard(self.root / rel)
                raise

    def remove_action(self, slug: str) -> None:
        """Remove an action and (after the manifest no longer lists them) its files."""
        act = self.action(slug)
        files = {e.file for e in act.exemplars}
        actions = [a for a in self._m["actions"] if a["slug"] != slug]
        with self._writing():
            self._commit({**self._m, "actions": actions}, {f: e for f, e in self._emb.items() if f not in files})
        for f in files:
            (self.root / f).unlink(missing_ok=True)

    def rename_action(self, slug: str, new_label: str) -> None:
        """Change an action's free-text label (its slug and files stay: other references remain valid)."""
        self.action(slug)
        new_label = check_label(new_label)
        actions = [{**a, "label": new_label} if a["slug"] == slug else a for a in self._m["actions"]]
        with self._writing():
            self._commit({**self._m, "actions": actions}, self._emb)

    def reembed(self, embed_fn: Callable[[np.ndarray], np.ndarray], model_fingerprint: str, preprocess_id: str) -> int:
        """Recompute every embedding from the raw clips with a new model; returns the exemplar count.

        ``embed_fn(clip (T, M, 25, 3) float32) -> (D,)``: the caller preprocesses and runs the model.
        All embeddings are computed first; the store changes only if every one succeeds.
        """
        new: dict[str, np.ndarray] = {}
        dim = None
        for a in self.actions:
            for i, ex in enumerate(a.exemplars):
                e = _check_embedding(embed_fn(self.load_exemplar(a.slug, i).clip), dim)
                dim = e.size
                new[ex.file] = e
        m = {**self._m, "model_fingerprint": model_fingerprint, "preprocess_id": preprocess_id, "embedding_dim": dim}
        with self._writing():
            self._commit(m, new)
        return len(new)

    def check_writable(self) -> None:
        """Raise :class:`StoreWriteError` now if the store's folders cannot take a new file (read-only,
        permissions): `enroll` asks before recording, not after."""
        with self._writing():
            for folder in (self.root, self.root / "exemplars"):
                folder.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=folder)
                os.close(fd)
                os.unlink(name)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """OSError from the file system -> :class:`StoreWriteError` (one line saying what to do); a
        Ctrl-C or SIGTERM meanwhile takes effect once the write has committed or been undone."""
        with deferred_interrupts():
            try:
                yield
            except StoreWriteError:
                raise
            except OSError as exc:
                raise _write_error(self.root, exc) from exc

    def _commit(self, manifest: dict | None, embeddings: dict[str, np.ndarray] | None = None) -> None:
        """Write embeddings (new generation file), then the manifest (commit point), then tidy up."""
        m = dict(manifest or self._m)
        emb = self._emb if embeddings is None else embeddings
        old_emb_file = self._m.get("embeddings_file")
        try:
            self._write_files(m, emb, embeddings is not None)
        except BaseException:
            # the manifest still names the old embeddings file: the new one is an orphan, remove it now
            new_file = m.get("embeddings_file")
            if new_file and new_file != old_emb_file:
                _discard(self.root / new_file)
            raise
        self._m, self._emb = m, emb
        if old_emb_file and old_emb_file != m["embeddings_file"]:
            (self.root / old_emb_file).unlink(missing_ok=True)
        self._tidy()

    def _write_files(self, m: dict, emb: dict[str, np.ndarray], new_embeddings: bool) -> None:
        """The embeddings generation file (when ``new_embeddings``; sets ``m["embeddings_file"]``),
        the backup of the current manifest, then the manifest itself (the commit point)."""
        if new_embeddings:
            gen = 0
            while (self.root / f"embeddings.{gen}.npz").exists():
                gen += 1
            files = [e["file"] for a in m["actions"] for e in a["exemplars"]]
            if files:
                rel = f"embeddings.{gen}.npz"
                atomic_write(self.root / rel, _npz_bytes(
                    embeddings=np.stack([emb[f] for f in files]).astype(np.float32),
                    files=np.array(files, dtype=np.str_), fingerprint=np.array(m["model_fingerprint"], dtype=np.str_),
                ))
                m["embeddings_file"] = rel
            else:
                m["embeddings_file"] = None
        mpath = self.root / MANIFEST
        text = json.dumps(m, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
        if mpath.exists():
            atomic_write(self.root / (MANIFEST + ".bak"), mpath.read_bytes())
        atomic_write(mpath, text)

    def _tidy(self) -> None:
        """Remove what the committed manifest does not reference (leftovers of interrupted writes)."""
        keep = {e.file for a in self.actions for e in a.exemplars}
        if self._m.get("embeddings_file"):
            keep.add(self._m["embeddings_file"])
        leftovers = [*self.root.glob("embeddings.*.npz"), *(self.root / "exemplars").glob("*.npz"),
                     *self.root.glob(".*.tmp"), *(self.root / "exemplars").glob(".*.tmp")]
        for p in leftovers:
            if p.relative_to(self.root).as_posix() not in keep:
                p.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"SupportStore({str(self.root)!r}, actions={len(self._m['actions'])})"


__all__ = ["SupportStore", "StoreMismatchError", "check_label", "MAX_LABEL_CHARS", "Exemplar", "ActionEntry", "ExemplarEntry", "slugify"]
