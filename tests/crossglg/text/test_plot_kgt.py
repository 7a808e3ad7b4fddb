"""tools/plot_kgt.py draws k_gt on the skeleton template."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from shared_helpers import load_tool

from crossglg.skeleton.layouts import NTU25


def _tool():
    return load_tool('plot_kgt')


def test_template_is_mirror_symmetric_and_plot_writes_png(tmp_path: Path):
    tool = _tool()
    xy = tool.template()
    assert xy.shape == (25, 2)
    mirrored = xy[NTU25.mirror_permutation()] * np.array([-1, 1])
    np.testing.assert_allclose(mirrored, xy, atol=1e-6)
    # the subject's right is on the image's left (camera view)
    assert xy[NTU25.index("HandRight"), 0] < 0 < xy[NTU25.index("HandLeft"), 0]
    out = tmp_path / "k.png"
    assert tool.main(["--dataset", "irds", "--classes", "0", "7", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
