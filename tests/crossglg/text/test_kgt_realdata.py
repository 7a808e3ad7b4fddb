"""k_gt of the shipped descriptions points at the side that moves in the real recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from shared_helpers import load_tool

from crossglg.skeleton.layouts import NTU25
from crossglg.text.descriptions import load_shipped
from crossglg.text.lexicon import k_gt

LEFT = [i for i, n in enumerate(NTU25.joints) if n.endswith("Left")]
RIGHT = [i for i, n in enumerate(NTU25.joints) if n.endswith("Right")]


def _tool():
    return load_tool('kgt_vs_motion')


@pytest.mark.realdata
@pytest.mark.parametrize(("dataset", "mirror"), [("utd_mhad", False), ("gtu3d", True), ("irds", True)])
def test_one_sided_classes_match_the_moving_side(data_dir: Path, dataset: str, mirror: bool):
    tool = _tool()
    per = tool.files_per_class(data_dir, dataset)
    ds = load_shipped(dataset)
    checked = 0
    for c in ds.classes:
        k = k_gt(c.global_text, c.name)
        kl, kr = k[LEFT].sum(), k[RIGHT].sum()
        if max(kl, kr) < 2 * min(kl, kr):
            continue  # a two-sided action
        m = tool.motion(per[c.id], tool.READERS[dataset], 4)
        if mirror:  # these datasets name sides mirrored w.r.t. the Kinect joint labels
            m = m[NTU25.mirror_permutation()]
        assert (kl > kr) == (m[LEFT].sum() > m[RIGHT].sum()), (dataset, c.id, c.name)
        checked += 1
    assert checked >= {"utd_mhad": 10, "gtu3d": 4, "irds": 8}[dataset]
    # each class's k_gt matches its own recordings better than the other classes' recordings
    perm = NTU25.mirror_permutation() if mirror else np.arange(25)
    kk = np.stack([k_gt(c.global_text, c.name) for c in ds.classes])
    mm = np.stack([tool.motion(per[c.id], tool.READERS[dataset], 4)[perm] for c in ds.classes])
    cos = (kk / np.linalg.norm(kk, axis=1, keepdims=True)) @ (mm / np.linalg.norm(mm, axis=1, keepdims=True)).T
    off = (cos.sum() - np.trace(cos)) / (len(cos) ** 2 - len(cos))
    assert np.trace(cos) / len(cos) > off + 0.05
