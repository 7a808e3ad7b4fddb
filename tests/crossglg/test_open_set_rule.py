"""The shared open-set rule (crossglg.open_set): summary of the scores, the decision codes, the
value ranges, and the metadata codec of calibrated values (the edge matcher deciding through the
rule: tests/edge/test_open_set_values.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crossglg.open_set import (
    ACCEPT,
    BELOW_THRESHOLD,
    DEFAULTS,
    LOW_MARGIN,
    OPEN_SET_KEY,
    OpenSetParams,
    decode_open_set,
    encode_open_set,
    reject_codes,
    summarize_scores,
)


def test_summary_takes_the_best_ranked_action_and_its_cosine() -> None:
    # DC ranks action 1 first although action 0 has the higher cosine: the threshold sees action 1's cosine
    rank = np.array([[0.3, 0.6, 0.1], [0.5, 0.5, 0.0]])
    cos = np.array([[0.9, 0.4, 0.2], [0.7, 0.8, 0.1]])
    s = summarize_scores(rank, cos)
    assert s.best.tolist() == [1, 0]  # a tie goes to the lower index
    np.testing.assert_allclose(s.cosine, [0.4, 0.7])
    np.testing.assert_allclose(s.margin, [0.3, 0.0])
    one = summarize_scores(np.array([0.2]), np.array([0.2]))  # one row (K,), one action: no margin
    assert one.best.tolist() == [0] and np.isnan(one.margin).all()
    with pytest.raises(ValueError, match="one"):
        summarize_scores(np.zeros((2, 3)), np.zeros((2, 2)))


def test_codes_threshold_first_then_margin_with_slack() -> None:
    cos = np.array([0.49, 0.49, 0.8, 0.8, 0.8])
    margin = np.array([0.5, 0.01, 0.01, 0.06, np.nan])
    assert reject_codes(cos, margin, 0.5, 0.05).tolist() == [BELOW_THRESHOLD, BELOW_THRESHOLD, LOW_MARGIN, ACCEPT,
                                                             ACCEPT]  # fmt: skip
    # hysteresis loosens both tests by the slack
    assert reject_codes(cos, margin, 0.5, 0.05, slack=0.05).tolist() == [ACCEPT, ACCEPT, ACCEPT, ACCEPT, ACCEPT]
    # a sweep: thresholds (G, 1) against queries (1, N)
    sweep = reject_codes(cos[None], margin[None], np.array([[0.0], [0.9]]), 0.0)
    assert sweep.shape == (2, 5) and (sweep[0] == ACCEPT).all() and (sweep[1] == BELOW_THRESHOLD).all()


def test_params_ranges_and_the_margin_per_method() -> None:
    assert (DEFAULTS.threshold, DEFAULTS.margin, DEFAULTS.dc_margin) == (0.5, 0.05, 0.2)
    p = OpenSetParams(0.4, 0.03, 0.3)
    assert (p.required_margin("cosine"), p.required_margin("dc")) == (0.03, 0.3)
    for bad in ({"threshold": 1.5}, {"margin": -0.1}, {"dc_margin": 2.0}, {"threshold": float("nan")}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            OpenSetParams(**bad)
    with pytest.raises(ValueError, match="method"):
        p.required_margin("dtw")


def test_metadata_codec_round_trip_and_clear_errors() -> None:
    text = encode_open_set(OpenSetParams(0.42, 0.04, 0.35), 0.1, "benchmark of run/final.pt")
    stored = decode_open_set({OPEN_SET_KEY: text})
    assert stored is not None and stored.params == OpenSetParams(0.42, 0.04, 0.35)
    assert stored.target_far == 0.1 and stored.source == "benchmark of run/final.pt"
    assert decode_open_set({}) is None and decode_open_set({OPEN_SET_KEY: ""}) is None
    assert stored.ranking is None and "ranking" not in json.loads(text)  # older files: the built-in choice
    for ranking in ("cosine", "dc"):
        back = decode_open_set({OPEN_SET_KEY: encode_open_set(OpenSetParams(0.42, 0.04, 0.35), 0.1, "b", ranking)})
        assert back is not None and back.ranking == ranking and back.params == OpenSetParams(0.42, 0.04, 0.35)
    with pytest.raises(ValueError, match="ranking must be one of 'cosine', 'dc', 'fused', got 'dtw'"):
        encode_open_set(OpenSetParams(), 0.1, "b", "dtw")
    cases = {"not JSON": "{", "JSON object": "[0.4]", "no threshold": json.dumps({"margin": 0.1}),
             "threshold must be a finite": json.dumps({"threshold": "0.4"}),
             "target_far must be": json.dumps({"threshold": 0.4, "target_far": 3}),
             "dc_margin must be a number in": json.dumps({"threshold": 0.4, "dc_margin": 1.5}),
             r"ranking must be one of 'cosine', 'dc', 'fused', got 'DC'": json.dumps({"threshold": 0.4, "ranking": "DC"}),
             r"ranking must be one of .*got 1": json.dumps({"threshold": 0.4, "ranking": 1})}  # fmt: skip
    for needle, value in cases.items():
        with pytest.raises(ValueError, match=f"m.onnx: {OPEN_SET_KEY}.*{needle}"):
            decode_open_set({OPEN_SET_KEY: value}, where="m.onnx")
