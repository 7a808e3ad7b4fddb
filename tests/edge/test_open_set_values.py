"""Open-set values at the edge: the matcher decides through the shared rule, a model's calibrated
values travel in ModelMeta, and `run` picks flag > model > built-in default, saying which in one
line (subprocess runs on a real ONNX model with calibrated metadata: tests/edge/test_run_open_set.py)."""

from __future__ import annotations

import numpy as np
import pytest

from crossglg.open_set import (
    ACCEPT,
    BELOW_THRESHOLD,
    LOW_MARGIN,
    OPEN_SET_KEY,
    OpenSetParams,
    decide,
    encode_open_set,
)
from edge.engines.base import ModelMeta
from edge.matcher import Matcher, MatcherConfig, SupportSet
from edge.open_set_values import choose_open_set


def _meta(**extra: str) -> ModelMeta:
    return ModelMeta(embedding_dim=8, fingerprint="f" * 64, extra=extra)


def test_edge_matcher_decides_through_the_shared_rule() -> None:
    rng = np.random.default_rng(3)
    sup = SupportSet(("a", "b", "c"), ("A", "B", "C"), tuple(rng.normal(size=(1, 8)).astype(np.float32) for _ in range(3)))
    m = Matcher(sup, MatcherConfig(threshold=0.3, margin=0.1))
    rank = rng.uniform(-1, 1, size=(200, 3))
    cos = rng.uniform(-1, 1, size=(200, 3))
    s, codes = decide(rank, cos, 0.3, 0.1, slack=0.02)
    names = {ACCEPT: None, BELOW_THRESHOLD: "below_threshold", LOW_MARGIN: "low_margin"}
    for i in range(200):
        state, best, margin, reason = m.decide(rank[i], cos[i], slack=0.02)
        assert (best, reason) == (int(s.best[i]), names[int(codes[i])])
        assert margin == pytest.approx(float(s.margin[i])) and state == ("action" if reason is None else "unknown")
    assert {int(c) for c in codes} == {ACCEPT, BELOW_THRESHOLD, LOW_MARGIN}  # every branch was exercised


def test_model_metadata_carries_calibrated_values() -> None:
    value = encode_open_set(OpenSetParams(0.42, 0.04, 0.3), 0.1, "benchmark of x.pt")
    meta = ModelMeta.from_props({"crossglg.embedding_dim": "8", f"crossglg.{OPEN_SET_KEY}": value})
    assert meta.open_set is not None and meta.open_set.params == OpenSetParams(0.42, 0.04, 0.3)
    assert ModelMeta.from_dict(meta.to_dict()).open_set == meta.open_set  # the sidecar form keeps it
    assert _meta().open_set is None
    # damaged values fail when the model loads, naming where and the field
    with pytest.raises(ValueError, match=r"m.onnx: metadata_props: open_set.threshold must be a finite number"):
        ModelMeta.from_props({f"crossglg.{OPEN_SET_KEY}": '{"threshold": "high"}'}, where="m.onnx: metadata_props")


def test_flag_beats_model_beats_default_and_the_line_says_which() -> None:
    plain = choose_open_set(_meta())
    assert plain.params == OpenSetParams() and set(plain.origin.values()) == {"default"} and plain.use_dc
    assert plain.line == ("open-set threshold 0.5, margin 0.05, DC margin 0.2 (built-in defaults; the model "
                          "carries no calibrated values); ranking: distribution calibration when the model has "
                          "base statistics (built-in)")  # fmt: skip
    calibrated = _meta(**{OPEN_SET_KEY: encode_open_set(OpenSetParams(0.42, 0.04, 0.35), 0.1, "benchmark of x.pt")})
    c = choose_open_set(calibrated)
    assert c.params == OpenSetParams(0.42, 0.04, 0.35) and c.use_dc  # stored before the ranking decision
    assert c.origin == {"threshold": "model", "margin": "model", "dc_margin": "model", "ranking": "default"}
    assert c.line.startswith("open-set threshold 0.42, margin 0.04, DC margin 0.35 (calibrated for this model: "
                             "false accepts <= 10% on never-enrolled actions, benchmark of x.pt); ranking: ")  # fmt: skip
    mixed = choose_open_set(calibrated, threshold=0.0)
    assert mixed.params == OpenSetParams(0.0, 0.04, 0.35) and mixed.origin["threshold"] == "flag"
    assert mixed.line.startswith("open-set threshold 0, margin 0.04")
    assert "(--threshold given; the rest calibrated for this model" in mixed.line
    every = choose_open_set(calibrated, 0.6, 0.1, 0.5)
    assert every.params == OpenSetParams(0.6, 0.1, 0.5)
    assert "(from --threshold, --margin, --dc-margin); ranking" in every.line
    with pytest.raises(ValueError, match=r"--margin: margin must be a number in \[0, 2\], got -0.5"):
        choose_open_set(calibrated, margin=-0.5)


def test_ranking_flag_beats_model_beats_built_in() -> None:
    def meta(ranking: str | None) -> ModelMeta:
        return _meta(**{OPEN_SET_KEY: encode_open_set(OpenSetParams(0.42, 0.04, 0.35), 0.1, "b", ranking)})

    cosine, dc = choose_open_set(meta("cosine")), choose_open_set(meta("dc"))
    assert (cosine.use_dc, cosine.origin["ranking"]) == (False, "model")
    assert cosine.line.endswith("; ranking: centred cosine (DC did not beat it on this model's benchmark)")
    assert (dc.use_dc, dc.origin["ranking"]) == (True, "model")
    assert dc.line.endswith("; ranking: distribution calibration (it beat centred cosine on this model's benchmark)")
    for m, flag, want in ((meta("cosine"), True, "--dc"), (meta("dc"), False, "--no-dc"), (_meta(), False, "--no-dc")):
        chosen = choose_open_set(m, dc=flag)
        assert (chosen.use_dc, chosen.origin["ranking"]) == (flag, "flag") and chosen.line.endswith(f"({want})")
        assert chosen.params == (m.open_set.params if m.open_set else OpenSetParams())  # thresholds untouched
    assert all("\n" not in c.line for c in (cosine, dc))


def test_a_fused_model_ranks_by_its_fused_score_unless_told_otherwise() -> None:
    from crossglg.pose_features import FUSION_KEY, Fusion, encode_fusion

    fused = _meta(**{OPEN_SET_KEY: encode_open_set(OpenSetParams(0.6, 0.03, 0.35), 0.2, "b", "fused"),
                     FUSION_KEY: encode_fusion(Fusion(0.45))})  # fmt: skip
    assert fused.fusion == Fusion(0.45)
    c = choose_open_set(fused)
    assert (c.fusion, c.use_dc, c.origin["ranking"]) == (Fusion(0.45), False, "model")
    assert c.matcher_config().fusion == Fusion(0.45) and c.params == OpenSetParams(0.6, 0.03, 0.35)
    assert "ranking: centred cosine fused with pose features (weight 0.45 learned, 0.55 pose" in c.line
    off = choose_open_set(fused, fusion=False)
    assert off.fusion is None and off.matcher_config().fusion is None
    assert "--no-fusion: the model's calibrated values are for its fused score" in off.line
    assert "ranking: centred cosine (--no-fusion" in off.line and "no fusion record" not in off.line
    by_dc = choose_open_set(fused, dc=True)
    assert (by_dc.fusion, by_dc.use_dc) == (None, True)
    # a fused calibration without the fusion record: plain centred cosine, and the line says why
    orphan = choose_open_set(_meta(**{OPEN_SET_KEY: encode_open_set(OpenSetParams(0.6, 0.03, 0.35), 0.2, "b", "fused")}))
    assert (orphan.fusion, orphan.use_dc) == (None, False) and "no fusion record" in orphan.line
    assert choose_open_set(_meta()).fusion is None
    with pytest.raises(ValueError, match=r"model metadata: fusion.weight must be a number"):
        _meta(**{FUSION_KEY: '{"weight": "half"}'})
