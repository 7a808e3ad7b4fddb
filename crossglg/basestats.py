"""The base-statistics sidecar of an exported model: ``<model>.onnx.basestats.npz`` (numpy only).

Distribution calibration on the edge needs the base classes' statistics, which are far too big for
ONNX metadata_props (``(B, D, D)`` floats). ``crossglg-train export`` writes them next to the model
with :func:`write_base_stats`; the edge finds them with :func:`basestats_path`, reads the statistics
with :func:`load_base_stats_file` (via :func:`edge.calibration.load_base_stats`) and the rest with
:func:`read_base_stats_info`.

Arrays (``np.savez``, loadable with ``allow_pickle=False``), format ``crossglg-basestats/2``:

==============  ==========================================================================
``format``      0-d string ``crossglg-basestats/2``
``means``       ``(B, D)`` float32, per-base-class mean of Tukey-transformed embeddings
``cov_form``    0-d string: ``lowrank`` (default), ``full`` or ``diag``
``eigvals``     lowrank: ``(B, r)`` float32, each class's top-``r`` covariance eigenvalues
``eigvecs``     lowrank: ``(B, r, D)`` float16, their unit eigenvectors
``resid``       lowrank: ``(B, D)`` float32, diagonal residual (keeps the variances exact)
``covs``        full: ``(B, D, D)`` float32 covariances
``vars``        diag: ``(B, D)`` float32 variances
``beta``        0-d float64, the Tukey exponent
``center``      ``(D,)`` float32, raw-space mean embedding (also in the ONNX metadata)
``classes``     ``(B,)`` strings, base-class names (order of ``means``)
``fingerprint`` 0-d string, weights fingerprint of the model the statistics belong to
==============  ==========================================================================

Why low rank: full float32 covariances of ~165 classes x 256 x 256 are 43 MB, over the 10 MB a
shipped file may take; a class's covariance has rank at most (its sample count - 1), and the top
16 eigenvectors plus a diagonal residual keep distribution-calibration accuracy (measured in
docs/model-card.md, "Base statistics") in ~1.7 MB. Format ``/1`` files (full ``covs``, float32 or
float64) and plain ``means`` + ``covs``/``vars`` archives are still read.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .npy_check import check_npy_sizes
from .oneshot import BaseStats

FORMAT = "crossglg-basestats/2"
FORMAT_V1 = "crossglg-basestats/1"
MAX_BYTES = 4 << 30  # full float32 covariances of 1,000 classes x 1,024 dims; a real sidecar is ~3-45 MB
FLOAT32_MAX = float(np.finfo(np.float32).max)
SUFFIX = ".basestats.npz"
DEFAULT_RANK = 16  # 8 already matched full covariances (docs/model-card.md, "Base statistics"); x2 margin
COV_FORMS = ("lowrank", "full", "diag")


def basestats_path(model_path: str | os.PathLike[str]) -> Path:
    """``model.onnx`` -> ``model.onnx.basestats.npz`` (likewise for ``.engine`` / ``.plan``)."""
    p = Path(model_path)
    return p.with_name(p.name + SUFFIX)


@dataclass(frozen=True)
class LowRankCovs:
    """Per-class covariance ``V^T diag(eigvals) V + diag(resid)``: ``eigvals (B, r)``,
    ``eigvecs (B, r, D)`` (unit rows), ``resid (B, D)`` >= 0."""

    eigvals: np.ndarray
    eigvecs: np.ndarray
    resid: np.ndarray

    def expand(self) -> np.ndarray:
        """The covariances ``(B, D, D)`` float32."""
        v = self.eigvecs.astype(np.float32)
        covs = np.einsum("brd,br,bre->bde", v, self.eigvals.astype(np.float32), v)
        idx = np.arange(covs.shape[1])
        covs[:, idx, idx] += self.resid.astype(np.float32)
        return covs


def low_rank(covs: np.ndarray, rank: int) -> LowRankCovs:
    """Top-``rank`` eigenpairs of each ``(D, D)`` covariance of ``covs (B, D, D)`` plus the diagonal
    the dropped ones leave (so each variance is kept exactly up to float16 rounding)."""
    c = np.asarray(covs, dtype=np.float64)
    d = c.shape[-1]
    r = min(int(rank), d)
    w, v = np.linalg.eigh((c + np.swapaxes(c, 1, 2)) / 2)  # ascending eigenvalues, columns = vectors
    w = np.clip(w[:, ::-1][:, :r], 0, None)
    vecs = np.swapaxes(v[:, :, ::-1][:, :, :r], 1, 2).astype(np.float16)  # (B, r, D)
    kept = np.einsum("brd,br->bd", vecs.astype(np.float64) ** 2, w)
    resid = np.clip(np.diagonal(c, axis1=1, axis2=2) - kept, 0, None)
    return LowRankCovs(w.astype(np.float32), vecs, resid.astype(np.float32))


def write_base_stats(
    path: str | os.PathLike[str],
    stats: BaseStats,
    center: np.ndarray,
    fingerprint: str,
    classes: list[str] | tuple[str, ...] = (),
    form: str = "lowrank",
    rank: int = DEFAULT_RANK,
) -> Path:
    """Write the sidecar atomically (temp file in the same folder + ``os.replace``); returns ``path``.

    ``form``: ``lowrank`` (top-``rank`` eigenvectors + diagonal residual), ``full`` or ``diag``.
    """
    out = Path(path)
    b, d = stats.means.shape
    c = np.asarray(center, dtype=np.float32)
    if c.shape != (d,):
        raise ValueError(f"base statistics sidecar: centre has shape {c.shape}, expected ({d},)")
    if classes and len(classes) != b:
        raise ValueError(f"base statistics sidecar: {len(classes)} class names for {b} classes")
    if form not in COV_FORMS:
        raise ValueError(f"base statistics sidecar: form must be one of {COV_FORMS}, got {form!r}")
    if form == "lowrank" and rank < 1:
        raise ValueError(f"base statistics sidecar: rank must be >= 1, got {rank}")
    arrays: dict[str, np.ndarray] = {"format": np.array(FORMAT), "means": stats.means.astype(np.float32),
                                     "cov_form": np.array(form), "beta": np.float64(stats.beta), "center": c,
                                     "classes": np.array([str(x) for x in classes], dtype=str),
                                     "fingerprint": np.array(fingerprint)}  # fmt: skip
    if form == "full":
        arrays["covs"] = stats.covs.astype(np.float32)
    elif form == "diag":
        arrays["vars"] = np.diagonal(stats.covs, axis1=1, axis2=2).astype(np.float32)
    else:
        lr = low_rank(stats.covs, rank)
        arrays.update(eigvals=lr.eigvals, eigvecs=lr.eigvecs, resid=lr.resid)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:  # a file object: np.savez appends no ".npz"
        np.savez(f, **arrays)
    return out


def _load(p: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (all, or ``keys`` where present), never unpickling; ValueError naming the file."""
    check_npy_sizes(p, MAX_BYTES)  # a member header claiming (10^9, D, D) is refused, not allocated
    try:
        z = np.load(p, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with z:
            return {k: z[k] for k in z.files if keys is None or k in keys}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:  # ValueError: pickled / not an npz
        raise ValueError(f"{p}: not a readable base statistics file ({exc})") from exc


def _float_array(p: Path, arrays: dict[str, np.ndarray], key: str, shape: tuple[int, ...]) -> np.ndarray:
    a = arrays.get(key)
    if a is None:
        raise ValueError(f"{p}: missing array {key!r} (found {sorted(arrays)})")
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{p}: {key!r} must be numeric, got dtype {a.dtype}")
    if a.shape != shape:
        raise ValueError(f"{p}: {key!r} has shape {a.shape}, expected {shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{p}: {key!r} holds non-finite values (expected finite numbers)")
    if a.size and np.abs(a.astype(np.float64)).max() > FLOAT32_MAX:  # would be inf once float32
        raise ValueError(f"{p}: {key!r} holds values beyond float32's range (expected finite float32 numbers)")
    return a


def load_base_stats_file(path: str | os.PathLike[str]) -> BaseStats:
    """The statistics of a sidecar (format /2 in any ``cov_form``, format /1, or a plain archive of
    ``means`` + ``covs`` ``(B, D, D)`` / ``vars`` ``(B, D)``), covariances expanded to ``(B, D, D)``
    float32. ValueError naming the file and the field for anything malformed."""
    p = Path(path)
    z = _load(p)
    fmt = str(z["format"]) if "format" in z else ""
    if fmt not in ("", FORMAT_V1, FORMAT):
        raise ValueError(f"{p}: format must be {FORMAT!r} (or {FORMAT_V1!r}), got {fmt!r}")
    if "means" not in z or z["means"].ndim != 2:
        raise ValueError(f"{p}: expected 'means' of shape (B, D), found {sorted(z)}"
                         + (f" with means {z['means'].shape}" if "means" in z else ""))  # fmt: skip
    b, d = z["means"].shape
    if b < 1 or d < 1:
        raise ValueError(f"{p}: 'means' has shape {(b, d)}, expected at least one class and one dimension")
    means = _float_array(p, z, "means", (b, d)).astype(np.float32)
    form = str(z["cov_form"]) if "cov_form" in z else ("diag" if "vars" in z and "covs" not in z else "full")
    if form not in COV_FORMS:
        raise ValueError(f"{p}: cov_form must be one of {COV_FORMS}, got {form!r}")
    if form == "full":
        covs = _float_array(p, z, "covs", (b, d, d)).astype(np.float32)
    elif form == "diag":
        covs = np.zeros((b, d, d), np.float32)
        covs[:, np.arange(d), np.arange(d)] = _float_array(p, z, "vars", (b, d))
    else:
        r = z["eigvals"].shape[1] if "eigvals" in z and z["eigvals"].ndim == 2 else -1
        if not 1 <= r <= d:
            raise ValueError(f"{p}: 'eigvals' must be (B, r) with 1 <= r <= {d}, got "
                             f"{z['eigvals'].shape if 'eigvals' in z else 'nothing'}")  # fmt: skip
        lr = LowRankCovs(_float_array(p, z, "eigvals", (b, r)), _float_array(p, z, "eigvecs", (b, r, d)),
                         _float_array(p, z, "resid", (b, d)))  # fmt: skip
        if (lr.eigvals < 0).any() or (lr.resid < 0).any():
            raise ValueError(f"{p}: 'eigvals' and 'resid' must be >= 0 (variances)")
        with np.errstate(over="ignore", invalid="ignore"):  # huge eigenvalues: refused just below
            covs = lr.expand()
        if not np.isfinite(covs).all():
            raise ValueError(f"{p}: 'eigvals' x 'eigvecs' overflow float32 (expected covariances of finite size)")
    beta = float(_float_array(p, z, "beta", ())) if "beta" in z else 0.5
    if not 0 < beta <= 1:
        raise ValueError(f"{p}: 'beta' must be in (0, 1], got {beta}")
    return BaseStats(means=means, covs=covs, beta=beta)


@dataclass(frozen=True)
class BaseStatsInfo:
    """What a sidecar says besides the statistics: ``center`` ``(D,)`` or None, ``fingerprint``, ``classes``."""

    fingerprint: str
    center: np.ndarray | None
    classes: tuple[str, ...]


def read_base_stats_info(path: str | os.PathLike[str]) -> BaseStatsInfo:
    """Read the non-statistics fields (``allow_pickle=False``); ValueError for a foreign file."""
    p = Path(path)
    fields = _load(p, ("format", "center", "fingerprint", "classes"))
    fmt = str(fields.get("format", ""))
    if fmt not in (FORMAT, FORMAT_V1):
        raise ValueError(f"{p}: format must be {FORMAT!r} (or {FORMAT_V1!r}), got {fmt!r}")
    center = None
    if "center" in fields:
        c = fields["center"]
        if c.ndim != 1 or c.dtype.kind not in "fiu" or not np.isfinite(c).all() or \
                (c.size and np.abs(c.astype(np.float64)).max() > FLOAT32_MAX):  # fmt: skip
            raise ValueError(f"{p}: 'center' must be (D,) finite float32 numbers, got {c.shape} {c.dtype}")
        center = c.astype(np.float32)
    classes: tuple[str, ...] = ()
    if "classes" in fields:
        names = fields["classes"]
        if names.ndim != 1 or names.dtype.kind not in "US":
            raise ValueError(f"{p}: 'classes' must be (B,) strings, got {names.shape} {names.dtype}")
        classes = tuple(str(x) for x in names)
    return BaseStatsInfo(fingerprint=str(fields.get("fingerprint", "")), center=center, classes=classes)
