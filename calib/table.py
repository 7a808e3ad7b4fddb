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

from onnxruntime.quantization import write_calibration_table
from onnxruntime.quantization.calibrate import TensorsData

TABLE_FILES = ("calibration.flatbuffers", "calibration.json", "calibration.cache")


def write_trt_table(ranges: TensorsData, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the three table files into ``out_dir`` (each replaced atomically); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not len(list(ranges.keys())):
        raise ValueError("calibration table: no tensor ranges to write")
    # ORT's writer expects {name: TensorData}; TensorsData behaves like that mapping
    with tempfile.TemporaryDirectory(prefix=".trt-table-", dir=out) as tmp:
        write_calibration_table(ranges, dir=tmp)
        written = []
        for name in TABLE_FILES:
            src = Path(tmp) / name
            if not src.is_file():
                raise ValueError(f"calibration table: onnxruntime did not write {name}")
            os.replace(src, out / name)  # same filesystem: an atomic rename
            written.append(out / name)
    return written
