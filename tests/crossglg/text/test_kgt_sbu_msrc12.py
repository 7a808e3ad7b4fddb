"""SBU and MSRC-12 descriptions agree with the recordings (real data, read through the scanners).

For SBU the description is of one person of the pair: the motion is measured on the person who
moves more in each sequence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossglg.datasets import scan_dataset
from crossglg.skeleton.layouts import NTU25
from crossglg.text.descriptions import load_shipped
from crossglg.text.lexicon import k_gt

pytestmark = pytest.mark.realdata
LEFT = [i for i, n in enumerate(NTU25.joints) if n.endswith("Left")]
RIGHT = [i for i, n in enumerate(NTU25.joints) if n.endswith("Right")]


def _motion(seqs: list[np.ndarray]) -> np.ndarray:
    """Share of motion per joint ``(25,)``: std of each joint relative to SpineBase, summed over xyz."""
    rows = [np.nan_to_num(np.nanstd(q - q[:, :1], axis=0).sum(-1)) for q in seqs]
    m = np.mean(rows, axis=0)
    return m / m.sum()


def _mover(seq: np.ndarray) -> np.ndarray:
    """``(T, M, 25, 3)`` -> ``(T, 25, 3)`` of the body that moves most."""
    spread = [np.nanstd(seq[:, m] - seq[:, m, :1], axis=0).sum() for m in range(seq.shape[1])]
    return seq[:, int(np.argmax(spread))]


@pytest.mark.parametrize(("dataset", "sided"), [("sbu", 2), ("msrc12", 3)])
def test_descriptions_match_recorded_motion(
    data_dir: Path, tmp_path_factory: pytest.TempPathFactory, dataset: str, sided: int
) -> None:
    cache = tmp_path_factory.getbasetemp() / "dataset-cache"  # shared with the dataset tests of this session
    samples, _ = scan_dataset(dataset, data_dir / dataset, cache_dir=cache)
    ds = load_shipped(dataset)
    kk, mm, checked = [], [], 0
    for label, c in enumerate(ds.classes):
        m = _motion([_mover(s.load()) for s in samples if s.label == label][:40])
        k = k_gt(c.global_text, c.name)
        kl, kr = k[LEFT].sum(), k[RIGHT].sum()
        if max(kl, kr) >= 2 * min(kl, kr):  # a one-sided description: the same side moves more
            assert (kl > kr) == (m[LEFT].sum() > m[RIGHT].sum()), (dataset, c.id, c.name)
            checked += 1
        kk.append(k)
        mm.append(m)
    assert checked >= sided
    kk, mm = np.stack(kk), np.stack(mm)
    cos = (kk / np.linalg.norm(kk, axis=1, keepdims=True)) @ (mm / np.linalg.norm(mm, axis=1, keepdims=True)).T
    off = (cos.sum() - np.trace(cos)) / (len(cos) ** 2 - len(cos))
    assert np.trace(cos) / len(cos) > off + 0.05, "each class's text fits its own recordings best"
