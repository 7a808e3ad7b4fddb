"""Calibration windows from the real datasets (base classes of the realdata protocol)."""

from __future__ import annotations

import numpy as np
import pytest

from calib.windows import WindowReader, calibration_windows, model_input_spec

pytestmark = pytest.mark.realdata


def test_windows_shape_finite_and_deterministic(split, tiny_spec, calib_windows) -> None:
    assert calib_windows.shape == (24, 3, 16, 25, 1)
    assert calib_windows.dtype == np.float32
    assert np.isfinite(calib_windows).all()
    assert np.abs(calib_windows).max() > 0.1  # real motion, not zero padding
    again = calibration_windows(split.train, tiny_spec, 24, seed=0)
    np.testing.assert_array_equal(again, calib_windows)
    other = calibration_windows(split.train, tiny_spec, 24, seed=1)
    assert not np.array_equal(other, calib_windows)


def test_windows_come_from_base_classes_only(split) -> None:
    novel = {s.key for s in split.exemplars}
    assert split.train and not {s.key for s in split.train} & novel
    assert len({s.dataset for s in split.train}) == 4  # UTD base classes + NW-UCLA, GTU, IRDS


def test_reader_batches_and_rewinds(calib_windows) -> None:
    reader = WindowReader(calib_windows, batch=10)
    sizes = []
    while (feed := reader.get_next()) is not None:
        sizes.append(feed["skeleton"].shape[0])
    assert sizes == [10, 10, 4] and len(reader) == 3
    reader.rewind()
    np.testing.assert_array_equal(reader.get_next()["skeleton"], calib_windows[:10])


def test_bad_arguments(split, tiny_spec, calib_windows) -> None:
    with pytest.raises(ValueError, match="count"):
        calibration_windows(split.train, tiny_spec, 0)
    with pytest.raises(ValueError, match="no samples"):
        calibration_windows([], tiny_spec, 4)
    with pytest.raises(ValueError, match="windows must be"):
        WindowReader(calib_windows[0])


def test_spec_from_metadata(tiny_fp32, tiny_spec) -> None:
    assert model_input_spec(tiny_fp32) == tiny_spec
