"""Calibration table for ONNX Runtime's TensorRT execution provider (implicit INT8 in ORT-TRT).

``onnxruntime.quantization.write_calibration_table`` writes three files into a directory:

* ``calibration.flatbuffers``: what ORT's TensorRT provider reads
  (``trt_int8_calibration_table_name``, with ``trt_int8_use_native_calibration_table=False``);
* ``calibration.json``: the same ranges, readable;
* ``calibration.cache``: a text dump of the ranges. It is NOT TensorRT's native calibration cache
  format (``TRT-<version>-EntropyCalibration2`` header + hex scales), so neither ``trtexec --calib``
  nor ``trt_int8_use_native_calibration_table=True`` can read it.

The ranges are the ones :func:`calib.quantize.calibrate` computed over every float tensor of the
FP32 model (the provider needs a range for each tensor TensorRT runs in INT8).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from onnxruntime.quantization import write_calibration_table
from onnxruntime.quantization.calibrate import TensorData, TensorsData

TABLE_FILES = ("calibration.flatbuffers", "calibration.json", "calibration.cache")


def symmetric_ranges(ranges: TensorsData) -> dict[str, TensorData]:
    """``{tensor: TensorData(lowest=-a, highest=a)}`` with ``a = max(|lowest|, |highest|)``.

    TensorRT's INT8 is symmetric (one dynamic range per tensor), and ORT's writer stores
    ``max(highest, lowest)`` (i.e. ``highest``) as that range, which under-states it whenever
    ``|lowest| > highest`` (histogram calibrators return asymmetric ranges).
    """
    out = {}
    for name, data in ranges.items():
        lo, hi = data.range_value
        a = np.float32(max(abs(float(np.max(lo))), abs(float(np.max(hi)))))
        out[name] = TensorData(lowest=-a, highest=a)
    return out


def write_trt_table(ranges: TensorsData, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the three table files into ``out_dir`` (each replaced atomically); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not list(ranges.keys()):
        raise ValueError("calibration table: no tensor ranges to write")
    with tempfile.TemporaryDirectory(prefix=".trt-table-", dir=out) as tmp:
        write_calibration_table(symmetric_ranges(ranges), dir=tmp)
        written = []
        for name in TABLE_FILES:
            src = Path(tmp) / name
            if not src.is_file():
                raise ValueError(f"calibration table: onnxruntime did not write {name}")
            os.replace(src, out / name)  # same filesystem: an atomic rename
            written.append(out / name)
    return written
