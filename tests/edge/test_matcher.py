"""Matcher (open-set rejection), smoothing with hysteresis + events, and distribution calibration."""

from __future__ import annotations

import numpy as np
import pytest

from crossglg.oneshot import base_statistics
from edge.calibration import DCConfig, base_stats_from_arrays, load_base_stats
from edge.matcher import Matcher, MatcherConfig, SupportSet
from edge.smoothing import Smoother, SmoothingConfig

D = 32


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def make_support(k: int = 4, per: int = 2, seed: int = 0) -> tuple[SupportSet, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(k, D)))
    emb = tuple(unit(centres[i] + rng.normal(0, 0.05, (per, D))) for i in range(k))
    return SupportSet(tuple(f"a{i}" for i in range(k)), tuple(f"Action {i}" for i in range(k)), emb), centres


def test_cosine_matching_and_open_set_rejection() -> None:
    sup, centres = make_support()
    m = Matcher(sup, MatcherConfig(threshold=0.6, margin=0.05, topk=3))
    rng = np.random.default_rng(1)
    for i in range(4):
        r = m.match(centres[i] + rng.normal(0, 0.03, D))
        assert (r.state, r.slug, r.label, r.reason, r.method) == ("action", f"a{i}", f"Action {i}", None, "cosine")
        assert r.topk[0][0] == f"Action {i}" and len(r.topk) == 3 and r.margin > 0.05
        assert r.cosine == pytest.approx(r.scores.max())
    stranger = m.match(unit(rng.normal(size=D)))  # a motion nobody enrolled
    assert (stranger.state, stranger.reason, stranger.slug) == ("unknown", "below_threshold", None)
    between = m.match(unit(centres[0] + centres[1]))  # equally close to two actions
    assert (between.state, between.reason) == ("unknown", "low_margin") and between.margin < 0.05
    # max over an action's exemplars, not the mean: a query equal to one exemplar scores 1
    assert m.match(sup.embeddings[2][1]).cosine == pytest.approx(1.0, abs=1e-5)


def test_single_action_and_empty_support() -> None:
    sup, centres = make_support(k=1)
    r = Matcher(sup).match(centres[0])
    assert r.state == "action" and r.margin is None
    empty = Matcher(SupportSet((), (), ())).match(centres[0])
    assert (empty.state, empty.reason) == ("unknown", "no_support")
    with pytest.raises(ValueError, match="dimension"):
        Matcher(sup).match(np.ones(D + 1))
    with pytest.raises(ValueError, match="NaN"):
        Matcher(sup).match(np.full(D, np.nan))


def test_smoothing_hysteresis_and_events() -> None:
    sup, c = make_support()
    m = Matcher(sup, MatcherConfig(threshold=0.6, margin=0.05))
    sm = Smoother(m, SmoothingConfig(alpha=0.35, hysteresis=0.15, enter_windows=2, gate_windows=2))
    events = []

    def feed(vec=None, gate=None, t=[0.0]):  # noqa: B006 - a running clock
        t[0] += 8 / 30
        state, ev = sm.update(1, t[0], result=None if vec is None else m.match(vec), gate=gate)
        if ev:
            events.append((ev.event, ev.previous.state, ev.current.state, ev.current.slug))
        return state

    assert feed(c[0]).reason == "confirming"  # qualifies once: not reported yet
    assert feed(c[0]).slug == "a0"  # second window in a row: start
    assert feed(c[1]).slug == "a0"  # one stray window of another action: no flicker
    assert feed(c[0]).slug == "a0"
    weak = unit(c[0] + 0.8 * unit(np.random.default_rng(5).normal(size=D)))  # cosine ~0.6-0.8 of a0
    s = feed(weak)
    assert s.slug == "a0"  # below the strict threshold maybe, but within the hysteresis band
    for _ in range(3):
        s = feed(unit(c[2] + c[3]))  # between two other actions: a0 fades, nothing new qualifies
    assert (s.state, s.slug) == ("unknown", None)
    feed(c[3])
    assert feed(c[3]).slug == "a3"  # unknown -> a3 after two windows
    assert feed(gate="idle").slug == "a3"  # one gated window is held
    assert feed(gate="idle").state == "none"  # the second ends the action
    assert feed(gate="low_visibility").reason == "low_visibility"
    assert events == [
        ("change", "none", "unknown", None),  # "confirming" is already a state change (none -> unknown)
        ("start", "unknown", "action", "a0"), ("end", "action", "unknown", None), ("start", "unknown", "action", "a3"),
        ("end", "action", "none", None),
    ]
    ev = sm.drop(1, 99.0)
    assert (ev.event, ev.current.state) == ("change", "no_person")
    state, ev = sm.update(None, 100.0, gate="no_person")
    assert state.state == "no_person" and state.track_id is None and ev.event == "change"
    with pytest.raises(ValueError):
        sm.update(1, 0.0)


def test_direct_switch_between_actions() -> None:
    sup, c = make_support()
    m = Matcher(sup, MatcherConfig(threshold=0.6, margin=0.05))
    sm = Smoother(m, SmoothingConfig(alpha=1.0, enter_windows=2))
    kinds = []
    for k, vec in enumerate([c[0], c[0], c[1], c[1], c[1]]):
        _, ev = sm.update(7, float(k), result=m.match(vec))
        kinds.append(None if ev is None else (ev.event, ev.previous.slug, ev.current.slug))
    assert kinds == [("change", None, None), ("start", None, "a0"), None, ("change", "a0", "a1"), None]


def _dc_case(seed: int, k: int = 6, base: int = 16, d: int = 24, noise: float = 0.9):
    """Novel classes near pairs of base classes; one noisy exemplar each (DC's working assumption)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.5, 3.0, (k, d))
    base_means = np.concatenate([centres + rng.normal(0, 0.15, (k, d)), centres + rng.normal(0, 0.15, (k, d)),
                                 rng.uniform(0.5, 3.0, (base - 2 * k, d))])
    base_feats = np.concatenate([mu + rng.normal(0, noise, (200, d)) for mu in base_means]).clip(0)
    stats = base_statistics(base_feats, np.repeat(np.arange(base), 200))
    support = tuple((c + rng.normal(0, noise, (1, d))).clip(0).astype(np.float32) for c in centres)
    queries = np.concatenate([(c + rng.normal(0, noise, (100, d))).clip(0) for c in centres]).astype(np.float32)
    sup = SupportSet(tuple(f"a{i}" for i in range(k)), tuple(f"a{i}" for i in range(k)), support)
    return sup, stats, queries, np.repeat(np.arange(k), 100)


def test_distribution_calibration_beats_cosine_on_a_constructed_case() -> None:
    gains = []
    for seed in range(2):
        sup, stats, queries, truth = _dc_case(seed)
        cos_acc = (Matcher(sup, MatcherConfig(use_dc=False)).scores(queries)[0].argmax(1) == truth).mean()
        dc = Matcher(sup, MatcherConfig(), base_stats=stats)
        assert dc.method == "dc"
        dc_acc = (dc.scores(queries)[0].argmax(1) == truth).mean()
        gains.append(dc_acc - cos_acc)
    assert min(gains) > 0.05, gains


def test_dc_is_deterministic_accepts_diagonal_and_npz(tmp_path) -> None:
    sup, stats, queries, _ = _dc_case(3, k=3, base=8, d=12)
    cfg = MatcherConfig(dc=DCConfig(samples=200, steps=100))
    p1 = Matcher(sup, cfg, stats).scores(queries[:5])[0]
    p2 = Matcher(sup, cfg, stats).scores(queries[:5])[0]
    np.testing.assert_array_equal(p1, p2)
    assert np.allclose(p1.sum(axis=1), 1.0)
    diag = np.einsum("bdd->bd", stats.covs)
    np.savez(tmp_path / "base_stats.npz", means=stats.means, vars=diag, beta=np.float64(0.5))
    loaded = load_base_stats(tmp_path / "base_stats.npz")
    assert loaded.covs.shape == stats.covs.shape
    np.testing.assert_allclose(np.einsum("bdd->bd", loaded.covs), diag)
    assert Matcher(sup, cfg, loaded).method == "dc"
    with pytest.raises(ValueError, match="means"):
        base_stats_from_arrays(np.zeros(3), np.zeros(3))
    one, _ = make_support(k=1)
    assert Matcher(one, cfg, stats).method == "cosine"  # DC needs >= 2 actions
    # open-set still uses the cosine under DC: a stranger stays unknown even with a confident classifier
    r = Matcher(sup, cfg, stats).match(-queries[0])
    assert r.state == "unknown" and r.reason == "below_threshold"




def test_fused_matching_is_the_weighted_mean_of_both_cosines() -> None:
    from crossglg.pose_features import Fusion

    rng = np.random.default_rng(5)
    sup, centres = make_support(k=3, per=2)
    poses = tuple(rng.normal(size=(2, 12)).astype(np.float32) for _ in range(3))
    fused_sup = SupportSet(sup.slugs, sup.labels, sup.embeddings, poses)
    center = rng.normal(0, 0.1, D).astype(np.float32)
    q, qp = rng.normal(size=(5, D)).astype(np.float32), rng.normal(size=(5, 12)).astype(np.float32)
    plain = Matcher(sup, MatcherConfig(), center=center)
    m = Matcher(fused_sup, MatcherConfig(fusion=Fusion(0.3)), center=center)
    assert (plain.method, m.method, m.wants_poses, plain.wants_poses) == ("cosine", "fused", True, False)
    # by hand: per exemplar 0.3 * centred cosine + 0.7 * pose cosine, then the max over each action's exemplars
    e = unit(np.concatenate(sup.embeddings) - center)
    p = unit(np.concatenate(poses))
    sim = 0.3 * (unit(q - center) @ e.T) + 0.7 * (unit(qp) @ p.T)
    want = np.stack([sim[:, 2 * k : 2 * k + 2].max(axis=1) for k in range(3)], axis=1)
    rank, cos = m.scores(q, qp)
    assert np.allclose(cos, want, atol=1e-5) and np.array_equal(rank, cos)
    assert np.allclose(Matcher(fused_sup, MatcherConfig(fusion=Fusion(1.0)), center=center).scores(q, qp)[1],
                       plain.scores(q)[1], atol=1e-6)  # weight 1: the model alone  # fmt: skip
    with pytest.raises(ValueError, match="fuses scores with pose features; none were given"):
        m.scores(q)
    with pytest.raises(ValueError, match="pose features must be finite"):
        m.scores(q, np.full_like(qp, np.nan))
    # without the support's pose features there is nothing to fuse: plain cosine
    assert Matcher(sup, MatcherConfig(fusion=Fusion(0.3)), center=center).method == "cosine"
    with pytest.raises(ValueError, match="one row per exemplar"):
        SupportSet(sup.slugs, sup.labels, sup.embeddings, poses[:2])


def test_fusion_takes_precedence_over_distribution_calibration() -> None:
    from crossglg.pose_features import Fusion

    sup, stats, _q, _y = _dc_case(0)
    poses = tuple(np.ones((e.shape[0], 6), np.float32) for e in sup.embeddings)
    fused = SupportSet(sup.slugs, sup.labels, sup.embeddings, poses)
    assert Matcher(sup, MatcherConfig(), base_stats=stats).method == "dc"
    m = Matcher(fused, MatcherConfig(fusion=Fusion(0.5)), base_stats=stats)
    assert m.method == "fused" and m.dc is None
