"""InfoGCN's augmentation on top of the one preprocessing function (numpy).

Train: crop a random 50-100% of the valid frames (random start), let :func:`crossglg.preprocess.
preprocess` resample the crop to T, then rotate by random angles in +-0.3 rad about x, y and z.
Test: a centred crop of 95% of the valid frames, no rotation.

Transfer augmentations (``AugmentConfig`` fields, off by default), applied after the rotation in this
order, each drawing from the same per-sample generator only when it is on (so a config without them
reproduces the old batches exactly): per-axis scale and shear (other body proportions, other sensor
calibrations), joint drop (a joint replaced by its parent: sensors without hand tips/thumbs, derived
joints), bone jitter (a constant per-joint offset: another skeleton fit), frame jitter (sensor noise),
and a left/right mirror whose class mapping comes from the class names (:func:`mirror_label_map`).
Before all of them, on the raw clip, ``relayout`` re-derives one sensor family's derived joints
(:func:`relayout`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from crossglg.preprocess import PreprocessConfig, preprocess, select_bodies, valid_range, validate_sequence
from crossglg.skeleton.joint_maps import SENSOR_DERIVES, rederive
from crossglg.skeleton.layouts import NTU25, Layout

from .config import AugmentConfig


def valid_length(seq: np.ndarray, cfg: PreprocessConfig, layout: Layout = NTU25) -> int:
    """Number of frames in the valid range that :func:`preprocess` crops inside."""
    arr = select_bodies(validate_sequence(seq, layout), cfg.max_bodies)
    start, stop = valid_range(arr)
    return stop - start


def random_crop(length: int, lo: float, hi: float, rng: np.random.Generator) -> tuple[int, int]:
    """A random window ``(start, stop)`` of ``lo..hi`` of ``length`` frames (at least 1 frame)."""
    frac = rng.uniform(lo, hi)
    size = int(np.clip(round(frac * length), 1, length))
    start = int(rng.integers(0, length - size + 1))
    return start, start + size


def centre_crop(length: int, frac: float) -> tuple[int, int]:
    """The centred window of ``frac`` of ``length`` frames."""
    size = int(np.clip(round(frac * length), 1, length))
    start = (length - size) // 2
    return start, start + size


def rotation_matrix(angles: np.ndarray) -> np.ndarray:
    """``(3,)`` angles (rad) about x, y, z -> ``(3, 3)`` float32 rotation ``Rz @ Ry @ Rx``."""
    ax, ay, az = (float(a) for a in angles)
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return (rz @ ry @ rx).astype(np.float32)


def rotate(x: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Rotate a model input ``(3, T, V, M)`` by ``rot (3, 3)``; zero (absent) joints stay zero."""
    return np.einsum("ij,jtvm->itvm", rot, x).astype(np.float32)


_SIDE = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def mirrored_name(name: str) -> str:
    """``name`` with the words left and right swapped (case kept): "elbow flexion left" -> "... right"."""
    def swap(m: re.Match) -> str:
        word = m.group(0)
        other = "right" if word.lower() == "left" else "left"
        return other.capitalize() if word[0].isupper() else other
    return _SIDE.sub(swap, name)


def mirror_label_map(names: Sequence[str]) -> np.ndarray:
    """Class index after a left/right mirror, per class ``(K,)`` int64; -1 = never mirror this class.

    A name without a side word mirrors onto itself ("clapping"); a side-named class mirrors onto the
    class whose name has the sides swapped ("shoulder flexion left" <-> "... right"); a side-named
    class without such a counterpart ("right hand wave") is not mirrored: its mirror image is a class
    we have no label for. Names are compared case-insensitively.
    """
    index = {n.lower(): i for i, n in enumerate(names)}
    out = np.full(len(names), -1, dtype=np.int64)
    for i, n in enumerate(names):
        if not _SIDE.search(n):
            out[i] = i
        else:
            out[i] = index.get(mirrored_name(n).lower(), -1)
    return out


def mirror_input(x: np.ndarray, layout: Layout = NTU25) -> np.ndarray:
    """Mirror a model input ``(3, T, V, M)`` left/right: negate x (the preprocessed body's lateral
    axis) and swap the left and right joints."""
    out = x[:, :, layout.mirror_permutation()].copy()
    out[0] = -out[0]
    return out


SENSOR_FAMILIES = tuple(sorted(SENSOR_DERIVES))


def relayout(seq: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Raw NTU-25 clip ``(T, M, 25, 3)``: with chance ``p``, one sensor family (uniform over
    :data:`SENSOR_FAMILIES`) rebuilds the joints it derives from the clip's other joints; else the
    clip unchanged. Draws from ``rng`` only when ``p > 0``."""
    if p <= 0 or rng.random() >= p:
        return seq
    family = SENSOR_FAMILIES[int(rng.integers(len(SENSOR_FAMILIES)))]
    return rederive(seq, SENSOR_DERIVES[family])


def _affine(acfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    mat = np.eye(3)
    if acfg.scale > 0:
        mat = np.diag(rng.uniform(1 - acfg.scale, 1 + acfg.scale, size=3)) @ mat
    if acfg.shear > 0:
        sh = np.eye(3)
        sh[~np.eye(3, dtype=bool)] = rng.uniform(-acfg.shear, acfg.shear, size=6)
        mat = sh @ mat
    return mat.astype(np.float32)


def transfer_augment(x: np.ndarray, acfg: AugmentConfig, rng: np.random.Generator, layout: Layout = NTU25) -> np.ndarray:
    """Scale/shear, joint drop, bone and frame jitter on a model input ``(3, T, V, M)`` (xyz layouts).
    Absent bodies (all-zero) stay zero."""
    present = np.any(x != 0, axis=(0, 1, 2))  # (M,)
    if acfg.scale > 0 or acfg.shear > 0:
        x = np.einsum("ij,jtvm->itvm", _affine(acfg, rng), x).astype(np.float32)
    if acfg.joint_drop > 0:
        drop = np.flatnonzero(rng.random(x.shape[2]) < acfg.joint_drop)
        parents = np.asarray(layout.parents)
        # root outwards, as crossglg.preprocess fills a never-seen joint: a dropped chain sits on its
        # nearest kept ancestor
        for j in sorted(drop, key=lambda j: _depth(parents, j)):
            if parents[j] >= 0:
                x[:, :, j] = x[:, :, parents[j]]
    if acfg.bone_jitter > 0:
        x = x + rng.normal(0, acfg.bone_jitter, size=(3, 1, x.shape[2], x.shape[3])).astype(np.float32)
    if acfg.jitter > 0:
        x = x + rng.normal(0, acfg.jitter, size=x.shape).astype(np.float32)
    x[..., ~present] = 0.0
    return x


def _depth(parents: np.ndarray, j: int) -> int:
    d = 0
    while parents[j] >= 0:
        j, d = int(parents[j]), d + 1
    return d


def augment_train(
    seq: np.ndarray,
    pcfg: PreprocessConfig,
    acfg: AugmentConfig,
    rng: np.random.Generator,
    layout: Layout = NTU25,
    label: int | None = None,
    mirror_map: np.ndarray | None = None,
) -> tuple[np.ndarray, int | None]:
    """Raw ``(T, M, V, 3)`` -> (augmented model input ``(3, pcfg.frames, V, pcfg.max_bodies)``, label).

    The label changes only when a mirror turns a side-named class into its counterpart
    (``mirror_map`` from :func:`mirror_label_map`; without it no sample is mirrored).
    """
    if not acfg.enabled:
        return preprocess(seq, pcfg, layout), label
    if acfg.relayout > 0 and layout == NTU25:
        seq = relayout(seq, acfg.relayout, rng)
    length = valid_length(seq, pcfg, layout)
    crop = random_crop(length, acfg.crop_min, acfg.crop_max, rng)
    x = preprocess(seq, pcfg, layout, crop=crop)
    if layout.channels != "xyz":
        return x, label
    if acfg.rotate > 0:
        x = rotate(x, rotation_matrix(rng.uniform(-acfg.rotate, acfg.rotate, size=3)))
    x = transfer_augment(x, acfg, rng, layout)
    if acfg.mirror > 0 and mirror_map is not None and label is not None and rng.random() < acfg.mirror:
        target = int(mirror_map[label])
        if target >= 0:
            x, label = mirror_input(x, layout), target
    return x, label


def transform_test(
    seq: np.ndarray, pcfg: PreprocessConfig, acfg: AugmentConfig, layout: Layout = NTU25
) -> np.ndarray:
    """Raw ``(T, M, V, 3)`` -> deterministic model input (centre crop ``acfg.test_crop``)."""
    if not acfg.enabled or acfg.test_crop >= 1.0:
        return preprocess(seq, pcfg, layout)
    length = valid_length(seq, pcfg, layout)
    return preprocess(seq, pcfg, layout, crop=centre_crop(length, acfg.test_crop))
