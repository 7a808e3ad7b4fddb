"""Open-set episodes of the benchmark, scored by the edge's own matcher and rule, and the calibration
of the open-set thresholds for a target false-accept rate.

An episode: enroll ``enrolled_fraction`` of a protocol's novel classes (one random exemplar each),
query with every other novel clip. Scores come from :class:`edge.matcher.Matcher` (centred cosine;
distribution-calibration probabilities with the model's base statistics, as the edge ranks once its
DC fit is ready), the decision from :func:`crossglg.open_set.reject_codes`: the same code the edge
runs. Two ranking paths are kept per query: ``"dc"`` (what a model with base statistics uses with
>= 2 actions) and ``"cosine"`` (a single action, before the DC fit is ready, or no statistics).

Per episode: known accuracy = enrolled-class queries accepted as their own class / enrolled-class
queries; false-accept rate = never-enrolled queries accepted as any class / never-enrolled queries;
AUROC of the best-ranked action's cosine (the threshold's score) for known vs never-enrolled.
Pooled figures are means over episodes of every protocol (each protocol has the same number of
draws, so each weighs the same), with a 95% CI over episodes.

Ranking (:func:`choose_ranking`): the path the edge should rank by is a per-model decision from the
benchmark's closed-set figures: ``dc`` only when DC's random-draw mean, averaged over the protocols,
beats centred cosine's; else ``cosine``. It travels in the model's metadata with the thresholds.

Calibration (:func:`calibrate`) sweeps the threshold and both margins over grids, keeps the points
whose pooled false-accept rate is at most the target and takes the one with the most known accuracy
on the primary path (the chosen ranking; without one ``dc`` when present), the other path's margin
chosen at the same threshold. A leave-one-protocol-out check reports what the values chosen without
a protocol do on it.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from crossglg.atomic import atomic_write
from crossglg.oneshot import BaseStats, accuracy_summary
from crossglg.open_set import ACCEPT, DEFAULTS, OpenSetParams, reject_codes, summarize_scores
from crossglg.pose_features import Fusion
from edge.calibration import DCConfig
from edge.matcher import Matcher, MatcherConfig, SupportSet

from .oneshot_eval import random_exemplars

PATHS = ("dc", "cosine", "fused")
RANKED = {"cosine_centered": "cosine", "dc": "dc", "fused": "fused"}  # closed-set method -> ranking path
MARGIN_FIELD = {"cosine": "margin", "fused": "margin", "dc": "dc_margin"}
THRESHOLDS = np.round(np.arange(-0.2, 1.0, 0.01), 2)  # centred cosine
MARGINS = np.round(np.arange(0.0, 0.201, 0.01), 2)  # cosine units
DC_MARGINS = np.round(np.arange(0.0, 0.901, 0.05), 2)  # probability units


@dataclass(frozen=True)
class PathScores:
    """One ranking path, per query ``(N,)``: best-ranked action's ``cosine``, ranking ``margin``
    (top-1 minus top-2) and whether that action is the query's own class (``correct``)."""

    cosine: np.ndarray
    margin: np.ndarray
    correct: np.ndarray


@dataclass(frozen=True)
class Episodes:
    """Queries of many episodes, concatenated; every array ``(N,)``, episodes contiguous.

    ``episode`` id (0..E-1, sorted), ``protocol`` index into ``names``, ``known`` (the query's class
    was enrolled), ``paths`` ``{"dc"?: PathScores, "cosine": PathScores}``."""

    episode: np.ndarray
    protocol: np.ndarray
    names: tuple[str, ...]
    known: np.ndarray
    paths: dict[str, PathScores]

    @property
    def count(self) -> int:
        return int(self.episode[-1]) + 1 if self.episode.size else 0

    def select(self, keep: np.ndarray) -> Episodes:
        """The queries where ``keep (N,)`` is true (whole episodes), episode ids renumbered."""
        ep = np.unique(self.episode[keep], return_inverse=True)[1]
        paths = {k: PathScores(*(getattr(p, f.name)[keep] for f in fields(PathScores))) for k, p in self.paths.items()}
        return Episodes(ep, self.protocol[keep], self.names, self.known[keep], paths)


def open_set_episodes(feats: np.ndarray, labels: np.ndarray, center: np.ndarray | None, stats: BaseStats | None,
                      draws: int, seed: int, name: str = "", enrolled_fraction: float = 0.5,
                      dc: DCConfig | None = None, poses: np.ndarray | None = None,
                      fusion: Fusion | None = None) -> Episodes:  # fmt: skip
    """``draws`` episodes over embeddings ``feats (N, D)`` with class ids ``labels (N,)``; with
    ``poses (N, P)`` and the model's ``fusion`` also the fused path (the edge's fused matcher)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    n_known = max(1, int(round(enrolled_fraction * classes.size)))
    cfg = MatcherConfig(dc=dc or DCConfig())
    feats = np.asarray(feats, dtype=np.float32)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("episode", "known", *(f"{p}.{f.name}" for p in PATHS
                                                                             for f in fields(PathScores)))}  # fmt: skip
    if poses is not None:
        poses = np.asarray(poses, dtype=np.float32)
    for e in range(draws):
        known = np.sort(rng.permutation(classes)[:n_known])
        masked = np.where(np.isin(labels, known), labels, -1)
        support = random_exemplars(masked, rng)
        support = support[masked[support] >= 0]  # (K,), one exemplar per enrolled class, class order
        sup = SupportSet(tuple(str(c) for c in labels[support]), tuple(str(c) for c in labels[support]),
                         tuple(feats[i : i + 1] for i in support))  # fmt: skip
        matcher = Matcher(sup, cfg, base_stats=stats, center=center)
        q = np.setdiff1d(np.arange(labels.size), support)
        rank, cos = matcher.scores(feats[q])
        scored = [("dc", rank if matcher.method == "dc" else None, cos), ("cosine", cos, cos)]
        if fusion is not None and poses is not None:
            fused = Matcher(replace(sup, poses=tuple(poses[i : i + 1] for i in support)),
                            replace(cfg, fusion=fusion), center=center)  # fmt: skip
            _, fcos = fused.scores(feats[q], poses[q])
            scored.append(("fused", fcos, fcos))
        parts["episode"].append(np.full(q.size, e))
        parts["known"].append(np.isin(labels[q], known))
        for path, r, c in scored:
            if r is None:
                continue
            s = summarize_scores(r, c)
            parts[f"{path}.cosine"].append(s.cosine.astype(np.float32))
            parts[f"{path}.margin"].append(s.margin.astype(np.float32))
            parts[f"{path}.correct"].append(labels[support][s.best] == labels[q])
    paths = {p: PathScores(*(np.concatenate(parts[f"{p}.{f.name}"]) for f in fields(PathScores)))
             for p in PATHS if parts[f"{p}.cosine"]}  # fmt: skip
    episode = np.concatenate(parts["episode"])
    return Episodes(episode, np.zeros(episode.size, np.int64), (name,), np.concatenate(parts["known"]), paths)


def concat(parts: list[Episodes]) -> Episodes:
    """Episodes of several protocols as one set (ids renumbered; the DC path only if all have it)."""
    names: list[str] = []
    offset, eps, protos = 0, [], []
    for p in parts:
        eps.append(p.episode + offset)
        offset += p.count
        protos.append(p.protocol + len(names))
        names.extend(p.names)
    common = [k for k in PATHS if all(k in p.paths for p in parts)]
    paths = {k: PathScores(*(np.concatenate([getattr(p.paths[k], f.name) for p in parts]) for f in fields(PathScores)))
             for k in common}  # fmt: skip
    return Episodes(np.concatenate(eps), np.concatenate(protos), tuple(names),
                    np.concatenate([p.known for p in parts]), paths)  # fmt: skip


def episode_rates(ep: Episodes, path: str, thresholds: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-episode ``(known accuracy (G, E), false-accept rate (G, E))`` at ``thresholds (G,)`` and one margin."""
    s = ep.paths[path]
    accept = reject_codes(s.cosine[None], s.margin[None], np.asarray(thresholds, np.float64)[:, None], margin) == ACCEPT
    starts = np.flatnonzero(np.r_[True, ep.episode[1:] != ep.episode[:-1]])
    n_known = np.add.reduceat(ep.known.astype(np.int64), starts)
    n_unknown = np.add.reduceat((~ep.known).astype(np.int64), starts)
    hits = np.add.reduceat(accept & (s.correct & ep.known)[None], starts, axis=1)
    false = np.add.reduceat(accept & ~ep.known[None], starts, axis=1)
    return hits / np.maximum(n_known, 1), false / np.maximum(n_unknown, 1)


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve of scores: P(pos > neg) + 0.5 P(tie)."""
    pos, neg = np.asarray(pos, np.float64), np.asarray(neg, np.float64)
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None]).mean()
    ties = (pos[:, None] == neg[None]).mean()
    return float(greater + 0.5 * ties)


def evaluate(ep: Episodes, path: str, params: OpenSetParams) -> dict:
    """Known accuracy, false-accept rate and AUROC at ``params`` (mean, std, 95% CI over episodes)."""
    need = params.required_margin(path)
    acc, far = episode_rates(ep, path, np.array([params.threshold]), need)
    s = ep.paths[path]
    aucs = [auroc(s.cosine[(ep.episode == e) & ep.known], s.cosine[(ep.episode == e) & ~ep.known])
            for e in range(ep.count)]  # fmt: skip
    aucs = [a for a in aucs if np.isfinite(a)]
    return {"known_accuracy": accuracy_summary(acc[0]), "false_accept": accuracy_summary(far[0]),
            "auroc": accuracy_summary(np.array(aucs)) if aucs else None}  # fmt: skip


def _sweep(ep: Episodes, path: str, margins: np.ndarray, target: float, default_margin: float,
           thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Per threshold: the best feasible known accuracy, its margin, and the lowest FAR (all ``(G,)``);
    infeasible thresholds get accuracy -inf. Ties between margins go to the one nearest the default."""
    acc = np.empty((margins.size, thresholds.size))
    far = np.empty_like(acc)
    for i, m in enumerate(margins):
        a, f = episode_rates(ep, path, thresholds, float(m))
        acc[i], far[i] = a.mean(axis=1), f.mean(axis=1)
    score = np.where(far <= target + 1e-12, acc, -np.inf)
    order = np.argsort(np.abs(margins - default_margin), kind="stable")  # nearest the default first
    pick = order[np.argmax(score[order], axis=0)]
    cols = np.arange(thresholds.size)
    return score[pick, cols], margins[pick], far.min(axis=0)


def choose_ranking(results: list[dict]) -> dict:
    """The ranking decision from the benchmark's per-protocol results (``evaluate_protocol``'s dicts):
    ``{"chosen": "cosine" | "dc" | "fused", "<method>_mean", "protocols", "rule"}``, the means
    (fractions) over the protocols that have every compared method's random-draw mean (centred
    cosine, DC, and fused when all protocols have it); the highest mean wins, ties go to centred
    cosine (no figures: ``cosine``, the means None)."""
    dicts = [r for r in results if isinstance(r, dict)]
    methods = [m for m in RANKED if m != "fused" or (dicts and all(isinstance(r.get("fused"), dict) for r in dicts))]
    rows = [r for r in dicts if all(isinstance(r.get(m), dict) for m in methods)]
    try:
        means = {m: [float(r[m]["random"]["mean"]) for r in rows] for m in methods}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"benchmark results: a protocol's {'/'.join(methods)} lacks random.mean ({exc})") from None
    avg = {m: float(np.mean(v)) if v else None for m, v in means.items()}
    chosen = "cosine_centered"
    for m in methods:
        if avg[m] is not None and avg[chosen] is not None and avg[m] > avg[chosen]:
            chosen = m
    out = {"chosen": RANKED[chosen], **{f"{m}_mean": avg[m] for m in methods},
           "protocols": [str(r.get("protocol")) for r in rows],
           "rule": "the highest random-draw mean over the protocols among "
                   f"{', '.join(methods)}; ties go to centred cosine"}  # fmt: skip
    return out


def choose(ep: Episodes, target_far: float, thresholds: np.ndarray = THRESHOLDS, margins: np.ndarray = MARGINS,
           dc_margins: np.ndarray = DC_MARGINS, primary: str | None = None) -> tuple[OpenSetParams, bool]:  # fmt: skip
    """The values with the most ``primary``-path known accuracy at pooled FAR <= ``target_far`` (both
    paths when possible); ``(params, target met)``. ``primary`` None: ``dc`` when the episodes have
    it. Ties go to the threshold nearest the default; a path that cannot reach the target at the
    chosen threshold gets its grid's largest margin (the most conservative)."""
    primary = primary or ("dc" if "dc" in ep.paths else "cosine")
    if primary not in ep.paths:
        raise ValueError(f"open-set calibration: ranking {primary!r} chosen, but the episodes hold only "
                         f"{', '.join(ep.paths)} scores")  # fmt: skip
    grids = {"cosine": (margins, DEFAULTS.margin), "fused": (margins, DEFAULTS.margin),
             "dc": (dc_margins, DEFAULTS.dc_margin)}  # fmt: skip
    # the primary path and, for the other margin field, the path that sets it (dc, else cosine)
    companion = "cosine" if primary == "dc" else "dc"
    kept = [primary] + ([companion] if companion in ep.paths else [])
    sweeps = {k: _sweep(ep, k, grids[k][0], target_far, grids[k][1], thresholds) for k in kept}
    prim_acc, _, prim_far = sweeps[primary]
    other = next((k for k in sweeps if k != primary), None)
    prim_ok = np.isfinite(prim_acc)
    both_ok = prim_ok & np.isfinite(sweeps[other][0]) if other else prim_ok
    closeness = -np.abs(thresholds - DEFAULTS.threshold)
    if both_ok.any():
        other_acc = np.where(both_ok, sweeps[other][0], -np.inf) if other else np.zeros(thresholds.size)
        i = int(np.lexsort((closeness, other_acc, np.where(both_ok, prim_acc, -np.inf)))[-1])
        met = True
    elif prim_ok.any():  # the other path cannot reach the target at a threshold the primary path can
        i = int(np.lexsort((closeness, np.where(prim_ok, prim_acc, -np.inf)))[-1])
        met = False
    else:  # nothing reaches it: the most conservative point of the primary path (least FAR, highest threshold)
        i = int(np.lexsort((thresholds, -prim_far))[-1])
        met = False
    chosen = {MARGIN_FIELD[k]: float(m[i]) if np.isfinite(acc[i]) else float(grids[k][0].max())
              for k, (acc, m, _) in sweeps.items()}  # fmt: skip
    return OpenSetParams(float(thresholds[i]), chosen.get("margin", DEFAULTS.margin),
                         chosen.get("dc_margin", DEFAULTS.dc_margin)), met  # fmt: skip


def _params(p: OpenSetParams) -> dict:
    return {"threshold": p.threshold, "margin": p.margin, "dc_margin": p.dc_margin}


def _both(ep: Episodes, params: OpenSetParams) -> dict:
    return {path: evaluate(ep, path, params) for path in PATHS if path in ep.paths}


def calibrate(ep: Episodes, target_far: float, reference: OpenSetParams = DEFAULTS, ranking: dict | None = None) -> dict:
    """The calibration record the benchmark keeps: chosen values, figures at them and at the
    ``reference`` values (the built-in defaults unless told), pooled and per protocol, and the
    leave-one-protocol-out check. ``ranking``: :func:`choose_ranking`'s decision, whose choice is
    the primary path (kept in the record as ``"ranking"``); None: ``dc`` when the episodes have it."""
    if not 0.0 <= target_far <= 1.0:
        raise ValueError(f"open-set calibration: target false-accept rate must be in [0, 1], got {target_far}")
    primary = ranking["chosen"] if ranking is not None else ("dc" if "dc" in ep.paths else "cosine")
    params, met = choose(ep, target_far, primary=primary)
    out: dict = {"target_far": target_far, "target_met": met, "params": _params(params),
                 "defaults": _params(reference), "primary": primary,
                 "episodes": ep.count, "protocols": list(ep.names),
                 "pooled": {"calibrated": _both(ep, params), "defaults": _both(ep, reference)},
                 "per_protocol": {}, "held_out": []}  # fmt: skip
    if ranking is not None:
        out["ranking"] = ranking
    for k, name in enumerate(ep.names):
        mine = ep.select(ep.protocol == k)
        out["per_protocol"][name] = {"calibrated": _both(mine, params), "defaults": _both(mine, reference)}
        if len(ep.names) > 1:
            others, _ = choose(ep.select(ep.protocol != k), target_far, primary=primary)
            out["held_out"].append({"protocol": name, "params": _params(others), **_both(mine, others)})
    return out


def save_episodes(ep: Episodes, path: str | Path) -> None:
    """The per-query arrays as a plain ``.npz`` (no pickle), so calibration can be redone later."""
    import io

    arrays = {"episode": ep.episode, "protocol": ep.protocol, "names": np.array(ep.names), "known": ep.known}
    for k, p in ep.paths.items():
        arrays.update({f"{k}.{f.name}": getattr(p, f.name) for f in fields(PathScores)})
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(path, buf.getvalue())


def load_episodes(path: str | Path) -> Episodes:
    """Inverse of :func:`save_episodes`; ``ValueError`` naming the file and member when damaged."""
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        paths = {k: PathScores(*(d[f"{k}.{f.name}"] for f in fields(PathScores))) for k in PATHS if f"{k}.cosine" in d}
        ep = Episodes(d["episode"].astype(np.int64), d["protocol"].astype(np.int64), tuple(str(n) for n in d["names"]),
                      d["known"].astype(bool), paths)  # fmt: skip
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not an open-set episodes file ({exc})") from None
    n = ep.episode.size
    if "cosine" not in paths or any(a.shape != (n,) for p in paths.values() for a in (p.cosine, p.margin, p.correct)):
        raise ValueError(f"{path}: open-set episodes arrays are missing or differ in length (expected ({n},))")
    return ep
