"""Joint importance shown to a person: the text's ``k_gt`` next to the JID's learned ``k_out``.

For a checkpoint of a variant with the global-to-local guidance (``g2l`` or ``crossglg``), the
Joint Importance Discriminator predicts a distribution over the 25 NTU joints per window. Training
pulls it towards ``k_gt``, the distribution read from the class's global description (the
lexicon, :mod:`crossglg.text.lexicon`), on the base classes only. On novel classes the question is
whether the JID's importance still resembles what the text says about that class.

:func:`class_importance` runs the real query windows of a protocol's novel classes through the
model (test transform) and averages ``k_out`` per class; :func:`agreement` scores each class's
learned row against its own text row (Spearman rank correlation; top-5 hit rate) and against the
other classes' text rows (the chance reference: "does the JID say something about *this* class, or
only what every description says, e.g. that hands matter?"), plus a permutation test over
shuffled class assignments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossglg.oneshot import accuracy_summary

TOP_K = 5
TIE_TOL = 1e-9  # a shuffle whose mean equals the matched one up to summation order reaches it
SPLITS = ("novel", "base")


class NoJointImportanceError(ValueError):
    """The checkpoint's variant has no Joint Importance Discriminator (g2l off)."""


@dataclass(frozen=True)
class ClassImportance:
    """Per class: the text's and the learned joint importance.

    Attributes:
        protocol: protocol name.
        checkpoint: the checkpoint path.
        variant: the checkpoint's model variant.
        split: ``"novel"`` (query windows of the novel classes) or ``"base"`` (training classes).
        epochs: epochs the checkpoint was trained for.
        class_names: ``K`` class names in protocol order.
        text: ``(K, 25)`` k_gt from each class's global description (rows sum to 1).
        learned: ``(K, 25)`` JID k_out averaged over each class's windows (rows sum to 1).
        windows: ``(K,)`` number of windows averaged per class.
        window_tv: mean total-variation distance of each window's k_out from the mean k_out over
            all windows (0 = the JID gives every window the same importance, whatever the input).
    """

    protocol: str
    checkpoint: str
    variant: str
    split: str
    epochs: int
    class_names: tuple[str, ...]
    text: np.ndarray
    learned: np.ndarray
    windows: np.ndarray
    window_tv: float = float("nan")


def window_spread(k_out: np.ndarray) -> float:
    """Mean total-variation distance of ``(N, 25)`` per-window importance rows from their mean row.

    0 means the discriminator ignores its input; a class-aware one sits well above 0 (the text rows
    of two classes differ by ~0.4).
    """
    k_out = np.asarray(k_out, dtype=np.float64)
    return float((0.5 * np.abs(k_out - k_out.mean(axis=0)).sum(axis=1)).mean())


def require_jid(ckpt: dict, path: str | Path) -> None:
    """:class:`NoJointImportanceError` when the checkpoint's model has no JID / text branch."""
    mc = ckpt.get("model_config") or {}
    variant = (ckpt.get("config") or {}).get("model", {}).get("variant", "?")
    if not mc.get("g2l"):
        raise NoJointImportanceError(
            f"{path}: variant {variant!r} has no joint-importance discriminator (global-to-local guidance off), so "
            "there is no learned joint importance to show; use a checkpoint of variant 'g2l' or 'crossglg'")


def text_importance(keys: Sequence[tuple[str, int]]) -> np.ndarray:
    """``(K, 25)`` k_gt of classes ``(dataset, label)`` from the shipped descriptions.

    ``ValueError`` naming the dataset and class when a description is missing or names another class.
    """
    from crossglg.text.descriptions import load_shipped
    from crossglg.text.lexicon import k_gt_matrix

    from .prepare import check_descriptions

    check_descriptions(keys)
    return np.stack([k_gt_matrix([load_shipped(d).classes[label]])[0] for d, label in keys]).astype(np.float64)


def class_importance(ckpt_path: str | Path, data_root: str | Path, protocol: str | None = None,
                     max_per_class: int = 0, split: str = "novel") -> ClassImportance:
    """Text ``k_gt`` and mean learned ``k_out`` ``(K, 25)`` per class of ``protocol`` (default: the
    checkpoint's own protocol).

    ``split="novel"``: the novel classes' real query windows (fixed exemplars left out);
    ``split="base"``: the base classes' training windows (test transform), the classes the JID was
    calibrated on (the reference for what training reached). ``max_per_class`` caps windows per
    class (0 = all).
    """
    import torch

    from crossglg.preprocess import PreprocessConfig, check_compatible

    from .checkpoint import load_checkpoint
    from .evaluate import load_model
    from .prepare import embed, load_protocol_data, make_dataset, preprocess_config

    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    ckpt = load_checkpoint(ckpt_path, map_location="cpu")
    require_jid(ckpt, ckpt_path)
    name = protocol or ckpt.get("protocol")
    if not name:
        raise ValueError(f"{ckpt_path}: the checkpoint names no protocol; pass one")
    model, cfg = load_model(ckpt, "cpu")
    check_compatible(ckpt["preprocess_id"], PreprocessConfig.from_dict(ckpt["preprocess"]).id, str(ckpt_path))
    check_compatible(ckpt["preprocess_id"], preprocess_config(cfg).id, f"{ckpt_path} (config vs stored preprocessing)")
    if split == "novel":
        data = load_protocol_data(name, data_root, max_per_class=1, max_novel_per_class=max_per_class)
        trained = set(data.novel_names) & set(ckpt["class_names"])
        if trained:  # same-action classes are the benchmark's stricter rule; the old realdata protocol trains on them
            raise ValueError(f"{ckpt_path}: trained on novel classes of protocol {name}: {sorted(trained)[:5]}")
        queries = np.setdiff1d(np.arange(len(data.novel)), data.fixed)
        samples, labels = [data.novel[i] for i in queries], data.novel_labels[queries]
        names, keys = data.novel_names, data.protocol.novel
    else:
        data = load_protocol_data(name, data_root, max_per_class=max_per_class, max_novel_per_class=1)
        samples, labels, names, keys = data.train, data.train_labels, data.base_names, data.protocol.base
    text = text_importance(keys)  # before the model runs: a missing description fails fast
    with torch.inference_mode():
        _, k_out = embed(model.inference_model(), make_dataset(samples, labels, cfg, train=False), torch.device("cpu"))
    if k_out is None:  # require_jid passed, so the model must produce it
        raise RuntimeError(f"{ckpt_path}: the model produced no k_out")
    counts = np.bincount(labels, minlength=len(names))
    if (counts == 0).any():
        missing = [names[c] for c in np.flatnonzero(counts == 0)]
        raise ValueError(f"protocol {name}: no {split} windows for classes {missing[:5]}")
    learned = np.stack([k_out[labels == c].mean(axis=0) for c in range(len(names))]).astype(np.float64)
    return ClassImportance(protocol=name, checkpoint=str(ckpt_path), variant=cfg.model.variant, split=split,
                           epochs=int(ckpt["epoch"]), class_names=tuple(names), text=text, learned=learned,
                           windows=counts, window_tv=window_spread(k_out))


# --------------------------------------------------------------------------- agreement


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two ``(V,)`` vectors (average ranks for ties; 0 if one is constant)."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a) - (len(a) + 1) / 2, rankdata(b) - (len(b) + 1) / 2
    den = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else 0.0


def top_hit(learned: np.ndarray, text: np.ndarray, k: int = TOP_K) -> float:
    """Share of the ``k`` joints the model ranks highest that are among the text's ``k`` highest.

    The text's rows tie (every joint it never names sits at the same floor), so a joint counts as
    in the text's top ``k`` when its value reaches the text's ``k``-th largest value.
    """
    top = np.argsort(-learned, kind="stable")[:k]
    threshold = np.sort(text)[::-1][k - 1]
    return float(np.mean(text[top] >= threshold))


def _scores(learned: np.ndarray, text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(K, K)`` Spearman and top-k hit of every learned row ``i`` against every text row ``j``."""
    k = learned.shape[0]
    rho = np.array([[spearman(learned[i], text[j]) for j in range(k)] for i in range(k)])
    hit = np.array([[top_hit(learned[i], text[j]) for j in range(k)] for i in range(k)])
    return rho, hit


def _derangement(k: int, rng: np.random.Generator) -> np.ndarray:
    while True:  # rejection: about 1/e of permutations have no fixed point
        p = rng.permutation(k)
        if not (p == np.arange(k)).any():
            return p


def agreement(imp: ClassImportance, permutations: int = 2000, seed: int = 0) -> dict:
    """Agreement of learned and text importance over all ``K`` classes, with a chance reference.

    Per class ``c``: ``spearman`` = rank correlation of learned row ``c`` with text row ``c``;
    ``top5`` = :func:`top_hit`; ``shuffled_*`` = the mean of the same scores against the text rows
    of the *other* classes. Summaries are means with a 95% CI over classes (Student t). The
    permutation test draws ``permutations`` random derangements of the text rows: ``p`` is the share
    whose mean Spearman reaches the matched one (small = class-specific agreement).
    ``between_classes``: the mean Spearman between the rows of two different classes, for the text
    and for the learned importance (near 1 = the same ranking for every class); ``between_classes_tv``
    the mean total-variation distance between them (0 = identical rows; it sees a row that keeps the
    ranking but sharpens).
    """
    k = imp.learned.shape[0]
    if k < 2:
        raise ValueError(f"agreement needs at least 2 novel classes for a shuffled reference, got {k}")
    rho, hit = _scores(imp.learned, imp.text)
    off = ~np.eye(k, dtype=bool)
    matched_rho, matched_hit = np.diag(rho), np.diag(hit)
    shuf_rho = (rho * off).sum(1) / (k - 1)
    shuf_hit = (hit * off).sum(1) / (k - 1)
    rng = np.random.default_rng(seed)
    perm_means = np.array([rho[np.arange(k), _derangement(k, rng)].mean() for _ in range(permutations)])
    observed = float(matched_rho.mean())
    between = {side: float(np.mean([spearman(m[i], m[j]) for i in range(k) for j in range(i + 1, k)]))
               for side, m in (("text", imp.text), ("learned", imp.learned))}
    between_tv = {side: float(np.mean([0.5 * np.abs(m[i] - m[j]).sum() for i in range(k) for j in range(i + 1, k)]))
                  for side, m in (("text", imp.text), ("learned", imp.learned))}
    per_class = [{"class": n, "windows": int(w), "spearman": float(r), "top5": float(h), "shuffled_spearman": float(sr),
                  "shuffled_top5": float(sh)}
                 for n, w, r, h, sr, sh in zip(imp.class_names, imp.windows, matched_rho, matched_hit, shuf_rho, shuf_hit,
                                               strict=True)]  # fmt: skip
    return {
        "checkpoint": imp.checkpoint, "variant": imp.variant, "epochs": imp.epochs, "protocol": imp.protocol,
        "split": imp.split, "classes": k, "windows": int(imp.windows.sum()),
        "spearman": accuracy_summary(matched_rho), "top5": accuracy_summary(matched_hit),
        "shuffled_spearman": accuracy_summary(shuf_rho), "shuffled_top5": accuracy_summary(shuf_hit),
        "top5_uniform_chance": TOP_K / imp.text.shape[1], "between_classes": between,
        "between_classes_tv": between_tv, "window_tv": imp.window_tv,
        "permutation": {"n": permutations, "seed": seed, "observed_mean_spearman": observed,
                        "shuffled_mean": float(perm_means.mean()),
                        "shuffled_95": [float(np.quantile(perm_means, 0.025)), float(np.quantile(perm_means, 0.975))],
                        "p": float((1 + (perm_means >= observed - TIE_TOL).sum()) / (1 + permutations))},
        "per_class": per_class,
    }  # fmt: skip


def pick_classes(result: dict, n: int = 4) -> list[int]:
    """``n`` class indices spread over the agreement range (best, ..., worst by Spearman), so a
    picture does not show only the flattering ones."""
    order = np.argsort([-c["spearman"] for c in result["per_class"]], kind="stable")
    n = min(n, order.size)
    return [int(order[i]) for i in np.linspace(0, order.size - 1, n).round().astype(int)]
