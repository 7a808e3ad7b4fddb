"""Distribution calibration on a real trained encoder (tests/assets/crossglg_realdata.onnx) and real
UTD-MHAD clips: the one logistic solver (crossglg.oneshot.fit_logistic, used by evaluation and the
edge) fits its own training set, where the old fixed-step gradient descent diverged on some models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossglg.datasets import read_utd_mat
from crossglg.oneshot import base_statistics, dc_classify
from edge.calibration import DCClassifier
from edge.matcher import SupportSet
from edge.runtime import embed_clips, open_model, preprocess_config_for

pytestmark = pytest.mark.realdata
ASSET = Path(__file__).resolve().parents[1] / "assets" / "crossglg_realdata.onnx"
NOVEL = (3, 6, 9, 12, 15, 18, 21, 24, 27)  # never seen by the asset
BASE = tuple(a for a in range(1, 28) if a not in NOVEL)


def _embed(engine, pp, data_dir: Path, names: list[str]) -> np.ndarray:
    clips = [read_utd_mat(data_dir / "utd_mhad/Skeleton" / f"{n}_skeleton.mat") for n in names]
    return embed_clips(engine, pp, clips)


def test_dc_fit_converges_and_classifies_real_novel_clips(data_dir: Path) -> None:
    with open_model(ASSET, threads=1) as engine:
        pp = preprocess_config_for(engine.meta)
        base_names = [f"a{a}_s{s}_t1" for a in BASE for s in (1, 2, 3, 4)]
        base = _embed(engine, pp, data_dir, base_names)
        stats = base_statistics(base, np.repeat(np.arange(len(BASE)), 4))
        support = _embed(engine, pp, data_dir, [f"a{a}_s1_t1" for a in NOVEL])
        q_names = [f"a{a}_s{s}_t2" for a in NOVEL for s in (2, 5, 7)]
        queries = _embed(engine, pp, data_dir, q_names)
    truth = np.repeat(np.arange(len(NOVEL)), 3)

    sup = SupportSet(slugs=tuple(map(str, NOVEL)), labels=tuple(map(str, NOVEL)),
                     embeddings=tuple(support[i : i + 1] for i in range(len(NOVEL))))
    dc = DCClassifier(sup, stats)
    # its own training set (calibrated samples + supports): far below chance-level loss ln(9) = 2.2
    assert dc.train_loss < 0.5, dc.train_loss
    pred = dc.predict_proba(queries).argmax(1)
    assert (pred == truth).mean() > 0.5  # 9 novel classes: chance is 11%
    # evaluation's path (same solver, same sampling) agrees with the edge's
    shared = dc_classify(queries, support, np.arange(len(NOVEL)), stats, rng=np.random.default_rng(0))
    assert (shared == pred).mean() >= 0.95
