"""Centred cosine matching (crossglg.oneshot), the centre estimated from Tukey-space base statistics,
the ``embedding_center`` metadata value and the base-statistics sidecar file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossglg.basestats import basestats_path, read_base_stats_info, write_base_stats
from crossglg.model_meta import decode_center, encode_center
from crossglg.oneshot import base_statistics, center_from_stats, cosine_1nn, cosine_scores, l2_normalize


def _offset_classes(k: int = 4, per: int = 10, d: int = 32, offset: float = 50.0, seed: int = 0):
    """``k`` classes whose differences (unit scale) ride on a large common offset, like a trained
    encoder's embeddings: ``(features (k * per, D), labels, offset vector (D,))``."""
    rng = np.random.default_rng(seed)
    common = offset * (1.0 + 0.1 * rng.standard_normal(d))
    means = rng.standard_normal((k, d))
    x = common + means[:, None] + 0.3 * rng.standard_normal((k, per, d))
    return x.reshape(-1, d).astype(np.float32), np.repeat(np.arange(k), per), common.astype(np.float32)


def test_common_offset_makes_raw_cosines_one_and_centring_separates() -> None:
    x, y, common = _offset_classes()
    support_idx = np.array([0, 10, 20, 30])  # first sample of each class
    q = np.setdiff1d(np.arange(len(y)), support_idx)
    _, raw = cosine_scores(x[q], x[support_idx], y[support_idx])
    assert raw.min() > 0.99  # every query looks like every class
    _, cen = cosine_scores(x[q], x[support_idx], y[support_idx], center=common)
    right = cen[np.arange(len(q)), y[q]]
    wrong = np.where(np.eye(4, dtype=bool)[y[q]], -np.inf, cen).max(axis=1)
    assert right.mean() > 0.7 and wrong.mean() < 0.5 and cen.min() < 0  # spread over [-1, 1]
    assert np.mean(cosine_1nn(x[q], x[support_idx], y[support_idx], center=common) == y[q]) == 1.0
    # the centre the base statistics give is as good as the true offset
    est = center_from_stats(base_statistics(x, y))
    assert np.mean(cosine_1nn(x[q], x[support_idx], y[support_idx], center=est) == y[q]) == 1.0


def test_no_center_is_the_plain_cosine_and_bad_shapes_raise() -> None:
    x, y, _ = _offset_classes(k=3, per=4, d=8)
    _, a = cosine_scores(x, x[:3], np.arange(3))
    ref = l2_normalize(x) @ l2_normalize(x[:3]).T
    np.testing.assert_allclose(a, ref, rtol=1e-6)
    np.testing.assert_array_equal(cosine_scores(x, x[:3], np.arange(3), center=None)[1], a)
    with pytest.raises(ValueError, match="centre"):
        cosine_scores(x, x[:3], np.arange(3), center=np.zeros(7))


@pytest.mark.parametrize("beta", [0.5, 1.0])
def test_center_from_stats_recovers_class_balanced_raw_mean(beta: float) -> None:
    x, y, _ = _offset_classes(k=5, per=40, d=16, offset=4.0, seed=3)
    x[y == 0] += 2.0  # unbalanced class means, still one sign per feature
    balanced = np.stack([x[y == c].mean(axis=0) for c in range(5)]).mean(axis=0)
    est = center_from_stats(base_statistics(x, y, beta=beta))
    np.testing.assert_allclose(est, balanced, rtol=1e-3 if beta == 0.5 else 1e-5)


def test_center_metadata_round_trip_and_validation() -> None:
    c = np.random.default_rng(0).standard_normal(6).astype(np.float32)
    text = encode_center(c)
    np.testing.assert_allclose(decode_center({"embedding_center": text}, 6), c, rtol=1e-7)
    assert decode_center({}, 6) is None
    for bad, msg in (("[1, 2]", "has 2 values"), ("[1, 2, NaN, 4, 5, 6]", "NaN"), ("{", "not JSON"),
                     ('["a", 1, 2, 3, 4, 5]', "list of numbers")):  # fmt: skip
        with pytest.raises(ValueError, match=msg):
            decode_center({"embedding_center": bad}, 6)


def test_base_stats_sidecar_round_trip(tmp_path: Path) -> None:
    x, y, _ = _offset_classes(k=3, per=6, d=8)
    st = base_statistics(x, y)
    center = center_from_stats(st)
    path = basestats_path(tmp_path / "m.onnx")
    assert path.name == "m.onnx.basestats.npz"
    write_base_stats(path, st, center, "ab" * 32, ["x", "y", "z"], form="full")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # atomic: no temp file left
    info = read_base_stats_info(path)
    assert info.fingerprint == "ab" * 32 and info.classes == ("x", "y", "z")
    np.testing.assert_array_equal(info.center, center)
    with np.load(path, allow_pickle=False) as z:  # plain arrays, no pickle
        np.testing.assert_array_equal(z["covs"], st.covs)
        assert float(z["beta"]) == 0.5
    with pytest.raises(ValueError, match="centre"):
        write_base_stats(path, st, center[:3], "f")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz"):
        read_base_stats_info(tmp_path / "junk.npz")
