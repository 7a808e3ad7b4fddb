"""The compact base-statistics sidecar (crossglg.basestats format /2): low rank + diagonal, full and
diagonal forms round-trip through the edge's reader; format /1 (float64 or float32 full covariances)
and plain archives still load; malformed files give errors naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossglg.basestats import (
    FORMAT_V1,
    low_rank,
    read_base_stats_info,
    write_base_stats,
)
from crossglg.oneshot import base_statistics, center_from_stats
from edge.calibration import load_base_stats


def _stats(classes: int = 5, per: int = 12, d: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.standard_normal((per, d)) * rng.uniform(0.2, 2, d) + 3 * c for c in range(classes)])
    return base_statistics(np.abs(x), np.repeat(np.arange(classes), per))


def test_low_rank_is_exact_at_the_sample_rank_and_keeps_variances(tmp_path: Path) -> None:
    st = _stats(per=12)  # 12 samples per class: covariance rank <= 11
    full_rank = low_rank(st.covs, 11).expand()
    np.testing.assert_allclose(full_rank, st.covs, atol=2e-3 * np.abs(st.covs).max())  # float16 eigenvectors
    coarse = low_rank(st.covs, 3)
    np.testing.assert_allclose(np.einsum("bdd->bd", coarse.expand()), np.einsum("bdd->bd", st.covs), rtol=1e-3)
    assert (coarse.resid >= 0).all() and coarse.eigvecs.dtype == np.float16
    # truncation error falls with the rank
    errs = [np.abs(low_rank(st.covs, r).expand() - st.covs).max() for r in (1, 3, 6)]
    assert errs[0] > errs[1] > errs[2]


def test_every_form_round_trips_through_the_edge_reader(tmp_path: Path) -> None:
    st = _stats()
    center = center_from_stats(st)
    sizes = {}
    for form in ("full", "lowrank", "diag"):
        path = write_base_stats(tmp_path / f"{form}.npz", st, center, "f" * 64, [f"c{i}" for i in range(5)],
                                form=form, rank=4)  # fmt: skip
        sizes[form] = path.stat().st_size
        got = load_base_stats(path)
        assert got.covs.shape == st.covs.shape and got.covs.dtype == np.float32 and got.beta == st.beta
        np.testing.assert_array_equal(got.means, st.means)
        np.testing.assert_allclose(np.einsum("bdd->bd", got.covs), np.einsum("bdd->bd", st.covs), rtol=1e-3)
        info = read_base_stats_info(path)
        assert info.fingerprint == "f" * 64 and info.classes == tuple(f"c{i}" for i in range(5))
        with np.load(path, allow_pickle=False) as z:
            assert str(z["cov_form"]) == form and all(z[k].dtype != np.float64 for k in z.files if k != "beta")
    np.testing.assert_array_equal(load_base_stats(tmp_path / "full.npz").covs, st.covs)
    assert sizes["diag"] < sizes["lowrank"] < sizes["full"]
    with pytest.raises(ValueError, match="form"):
        write_base_stats(tmp_path / "x.npz", st, center, "f", form="sparse")


def test_old_files_still_load(tmp_path: Path) -> None:
    st = _stats()
    covs64 = st.covs.astype(np.float64)
    np.savez(tmp_path / "v1.npz", format=np.array(FORMAT_V1), means=st.means.astype(np.float64), covs=covs64,
             beta=np.float64(0.5), center=center_from_stats(st), classes=np.array([], dtype=str),
             fingerprint=np.array("fp"))  # fmt: skip
    got = load_base_stats(tmp_path / "v1.npz")
    assert got.covs.dtype == np.float32
    np.testing.assert_allclose(got.covs, covs64, rtol=1e-6)
    assert read_base_stats_info(tmp_path / "v1.npz").fingerprint == "fp"
    np.savez(tmp_path / "plain.npz", means=st.means, vars=np.einsum("bdd->bd", st.covs))
    assert load_base_stats(tmp_path / "plain.npz").beta == 0.5


def _write(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("change, needle", [
    ({"eigvecs": None}, "missing array 'eigvecs'"),
    ({"resid": np.zeros((5, 39), np.float32)}, "'resid' has shape (5, 39)"),
    ({"eigvals": np.full((5, 4), np.nan, np.float32)}, "'eigvals' holds non-finite"),
    ({"eigvals": -np.ones((5, 4), np.float32)}, ">= 0"),
    ({"eigvals": np.zeros(5, np.float32)}, "'eigvals' must be (B, r)"),
    ({"cov_form": np.array("sparse")}, "cov_form must be one of"),
    ({"format": np.array("crossglg-basestats/9")}, "format must be"),
    ({"means": np.zeros(40, np.float32)}, "'means' of shape (B, D)"),
    ({"eigvecs": np.array(["a"] * 800).reshape(5, 4, 40)}, "'eigvecs' must be numeric"),
    ({"beta": np.float64(3.0)}, "'beta' must be in (0, 1]"),
])  # fmt: skip
def test_malformed_files_name_the_file_and_field(tmp_path: Path, change: dict, needle: str) -> None:
    good = tmp_path / "good.npz"
    write_base_stats(good, _stats(), np.zeros(40), "fp", rank=4)
    with np.load(good, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in change.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    bad = _write(tmp_path / "bad.basestats.npz", **arrays)
    with pytest.raises(ValueError, match="bad.basestats.npz") as err:
        load_base_stats(bad)
    assert needle in str(err.value)


def test_not_an_archive_or_pickled_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    objects = np.array([object(), object()], dtype=object)
    np.savez(tmp_path / "pickled.npz", means=objects, covs=objects)
    for name in ("one.npy", "junk.npz", "pickled.npz"):
        with pytest.raises(ValueError, match=name):
            load_base_stats(tmp_path / name)
