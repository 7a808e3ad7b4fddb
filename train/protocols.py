"""One-shot protocols as data: which classes are base (trained on), which are novel (one exemplar
each, every other sample a query), and which samples are the exemplars.

A class is a :data:`ClassKey` ``(dataset, label)`` with the 0-based labels of ``crossglg.datasets``.
``Protocol.split(samples)`` turns scanned samples into training samples, exemplars and queries;
``exemplar_seed`` swaps the fixed exemplars for a seeded random draw (one per novel class).
The choices below are documented with their reasons in ``docs/protocols.md``.

Registered names (:func:`get_protocol`):

- ``ntu120`` (= ``ntu120-b100``), ``ntu120-b80/-b60/-b40/-b20``: the official NTU RGB+D 120
  one-shot split (novel A1, A7, ..., A115) with the official exemplars; reduced base sets take
  evenly spaced classes of the 100 base classes (nested: b20 in b40 in b80, b20 in b60).
- ``ntu60`` (= ``ntu60-b50``), ``ntu60-b40/-b30/-b20/-b10``: NTU RGB+D 60 (setups S001-S017),
  novel A1, A7, ..., A55 with the NTU-120 exemplars of those classes; base sets as above.
- ``kinetics-b20``, ``kinetics-b40``: the paper supplement's Kinetics lists (60 frames); no fixed
  exemplars (pass ``exemplar_seed``).
- ``realdata``: UTD-MHAD novel a3, a6, ..., a27; base = the other 18 UTD classes plus all of
  NW-UCLA, GTU and IRDS; exemplars ``a{k}_s1_t1``.
- ``realdata-utd27``: all 27 UTD-MHAD classes novel (exemplars ``a{k}_s1_t1``), base = NW-UCLA,
  GTU, IRDS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from crossglg.datasets.classes import CLASS_NAMES
from crossglg.datasets.sample import Sample

ClassKey = tuple[str, int]
EXEMPLAR_RULES = ("", "first_of_lowest_subject")


@dataclass(frozen=True)
class Split:
    """Samples of one protocol run. ``train`` uses ``Protocol.base_label``; ``exemplars[i]`` is the
    exemplar of ``Protocol.novel[i]``; ``queries`` are all other novel-class samples."""

    train: list[Sample]
    exemplars: list[Sample]
    queries: list[Sample]


@dataclass(frozen=True)
class Protocol:
    """A one-shot protocol.

    Attributes:
        name: registry name, e.g. ``ntu120-b60``.
        description: one line for reports.
        base: base classes in training-label order (``base_label(key)`` = index here).
        novel: novel classes in evaluation order.
        exemplars: fixed exemplar sample names, one per novel class in ``novel`` order (empty when
            the protocol defines none: then ``split`` needs ``exemplar_seed``).
        frames: window length the protocol prescribes (Kinetics: 60), or ``None``.
        ntu_setups: for NTU samples, the inclusive setup range that belongs to the dataset
            (NTU-60 = S001-S017); samples outside are ignored.
        exemplar_rule: how fixed exemplars are chosen when ``exemplars`` is empty:
            ``"first_of_lowest_subject"`` = per novel class, the sample of the lowest subject id
            (first by name); ``""`` = none (``split`` then needs ``exemplar_seed``). A protocol with
            no novel classes (a model trained on everything) splits into training samples only.
    """

    name: str
    description: str
    base: tuple[ClassKey, ...]
    novel: tuple[ClassKey, ...]
    exemplars: tuple[str, ...] = ()
    frames: int | None = None
    ntu_setups: tuple[int, int] | None = None
    exemplar_rule: str = ""

    def __post_init__(self) -> None:
        if self.exemplar_rule not in EXEMPLAR_RULES:
            raise ValueError(f"protocol {self.name}: exemplar_rule must be one of {EXEMPLAR_RULES}, got {self.exemplar_rule!r}")
        if set(self.base) & set(self.novel):
            raise ValueError(f"protocol {self.name}: classes both base and novel: {sorted(set(self.base) & set(self.novel))}")
        if len(set(self.base)) != len(self.base) or len(set(self.novel)) != len(self.novel):
            raise ValueError(f"protocol {self.name}: duplicate classes")
        if self.exemplars and len(self.exemplars) != len(self.novel):
            raise ValueError(f"protocol {self.name}: {len(self.exemplars)} exemplars for {len(self.novel)} novel classes")

    @property
    def datasets(self) -> tuple[str, ...]:
        """Datasets whose samples the protocol uses, sorted."""
        return tuple(sorted({d for d, _ in self.base + self.novel}))

    def base_label(self, key: ClassKey) -> int:
        """Training label (0..len(base)-1) of a base class."""
        return self.base.index(key)

    def novel_label(self, key: ClassKey) -> int:
        """Evaluation label (0..len(novel)-1) of a novel class."""
        return self.novel.index(key)

    def class_names(self, keys: Iterable[ClassKey]) -> list[str]:
        """Human names, ``"<dataset>: <name>"`` (datasets without a name table: ``"<dataset>: <label>"``)."""
        out = []
        for d, label in keys:
            names = CLASS_NAMES.get(d)
            out.append(f"{d}: {names[label] if names else label}")
        return out

    def _in_scope(self, s: Sample) -> bool:
        if self.ntu_setups is not None and s.dataset == "ntu":
            setup = s.meta.get("setup")
            return setup is not None and self.ntu_setups[0] <= int(setup) <= self.ntu_setups[1]
        return True

    def split(self, samples: Iterable[Sample], exemplar_seed: int | None = None) -> Split:
        """Base-class samples -> ``train``; per novel class one exemplar (the fixed one, or a
        uniform draw from ``np.random.default_rng(exemplar_seed)`` over that class's samples sorted
        by name, classes in ``novel`` order); every other novel sample -> ``queries``.

        Samples of classes in neither set (e.g. classes dropped by a reduced base set) are ignored.
        Raises ``ValueError`` when a fixed exemplar or a novel class has no sample.
        """
        base, novel = set(self.base), set(self.novel)
        train: list[Sample] = []
        by_class: dict[ClassKey, list[Sample]] = {k: [] for k in self.novel}
        for s in samples:
            if not self._in_scope(s):
                continue
            if s.key in base:
                train.append(s)
            elif s.key in novel:
                by_class[s.key].append(s)
        if not self.novel:
            return Split(train=train, exemplars=[], queries=[])
        empty = [k for k, v in by_class.items() if not v]
        if empty:
            raise ValueError(f"protocol {self.name}: no samples for novel classes {self.class_names(empty)}")
        exemplars: list[Sample] = []
        if exemplar_seed is None and not self.exemplars and self.exemplar_rule:
            exemplars = [min(by_class[key], key=_subject_order) for key in self.novel]
        elif exemplar_seed is None:
            if not self.exemplars:
                raise ValueError(f"protocol {self.name} has no fixed exemplars; pass exemplar_seed")
            for key, name in zip(self.novel, self.exemplars, strict=True):
                match = [s for s in by_class[key] if s.name == name]
                if not match:
                    raise ValueError(f"protocol {self.name}: exemplar {name} ({self.class_names([key])[0]}) not found")
                exemplars.append(match[0])
        else:
            rng = np.random.default_rng(exemplar_seed)
            for key in self.novel:
                pool = sorted(by_class[key], key=lambda s: s.name)
                exemplars.append(pool[int(rng.integers(len(pool)))])
        chosen = {id(s) for s in exemplars}
        queries = [s for key in self.novel for s in by_class[key] if id(s) not in chosen]
        return Split(train=train, exemplars=exemplars, queries=queries)


def _subject_order(s: Sample) -> tuple:
    return (s.subject is None, s.subject if s.subject is not None else 0, s.name)


def evenly_spaced(items: tuple, count: int) -> tuple:
    """``count`` items at positions ``floor(i * len / count)``: spread over the whole list and
    nested for divisors (20 in 40 in 80, 20 in 60)."""
    if not 0 < count <= len(items):
        raise ValueError(f"cannot take {count} of {len(items)} classes")
    return tuple(items[(i * len(items)) // count] for i in range(count))


# --- NTU RGB+D 120 / 60 ---------------------------------------------------------------------------

NTU120_NOVEL_ACTIONS: tuple[int, ...] = tuple(1 + 6 * k for k in range(20))  # A1, A7, ..., A115 (1-based)
NTU120_EXEMPLARS: tuple[str, ...] = tuple(
    f"S{1 if a <= 60 else 18:03d}C003P008R001A{a:03d}" for a in NTU120_NOVEL_ACTIONS
)
NTU120_BASE_COUNTS = (20, 40, 60, 80, 100)
NTU60_NOVEL_ACTIONS: tuple[int, ...] = NTU120_NOVEL_ACTIONS[:10]  # A1, A7, ..., A55
NTU60_BASE_COUNTS = (10, 20, 30, 40, 50)


def _ntu_oneshot(
    classes: int, novel_actions: tuple[int, ...], base_counts: tuple[int, ...], base_count: int, description: str,
    ntu_setups: tuple[int, int] | None = None,
) -> Protocol:
    """NTU one-shot over the first ``classes`` actions: ``novel_actions`` (1-based) are novel, the
    official NTU-120 exemplars of those classes, ``base_count`` of the others (:func:`evenly_spaced`)."""
    tag = f"ntu{classes}"
    if base_count not in base_counts:
        raise ValueError(f"{tag} base_count must be one of {base_counts}, got {base_count}")
    novel = tuple(("ntu", a - 1) for a in novel_actions)
    all_base = tuple(("ntu", k) for k in range(classes) if ("ntu", k) not in novel)
    return Protocol(
        name=f"{tag}-b{base_count}",
        description=description.format(base=base_count, novel=len(novel)),
        base=evenly_spaced(all_base, base_count),
        novel=novel,
        exemplars=NTU120_EXEMPLARS[: len(novel)],
        ntu_setups=ntu_setups,
    )


def ntu120_oneshot(base_count: int = 100) -> Protocol:
    """NTU RGB+D 120 one-shot: official 20 novel classes and exemplars; ``base_count`` of the 100
    base classes (100 = official; fewer = :func:`evenly_spaced`)."""
    return _ntu_oneshot(
        120, NTU120_NOVEL_ACTIONS, NTU120_BASE_COUNTS, base_count,
        "NTU RGB+D 120 one-shot, {base} base / {novel} novel classes, official exemplars",
    )  # fmt: skip


def ntu60_oneshot(base_count: int = 50) -> Protocol:
    """NTU RGB+D 60 one-shot (our choice, see docs/protocols.md): novel A1, A7, ..., A55 with the
    official NTU-120 exemplars of those classes; ``base_count`` of the other 50 classes."""
    return _ntu_oneshot(
        60, NTU60_NOVEL_ACTIONS, NTU60_BASE_COUNTS, base_count,
        "NTU RGB+D 60 one-shot, {base} base / {novel} novel classes", ntu_setups=(1, 17),
    )  # fmt: skip


# --- Kinetics (CrossGLG supplement) ---------------------------------------------------------------

KINETICS_NOVEL: tuple[int, ...] = tuple(3 + 20 * k for k in range(20))  # 3, 23, ..., 383
KINETICS_BASE_20: tuple[int, ...] = tuple(2 + 20 * k for k in range(20))  # 2, 22, ..., 382
KINETICS_BASE_40: tuple[int, ...] = KINETICS_BASE_20 + tuple(4 + 20 * k for k in range(20))  # + 4, 24, ..., 384


def kinetics_oneshot(base_count: int = 20) -> Protocol:
    """Kinetics-skeleton one-shot from the paper's supplement (class indices as listed there,
    taken as ST-GCN's 0-based Kinetics-400 labels); 60-frame samples; exemplars drawn by seed."""
    lists = {20: KINETICS_BASE_20, 40: KINETICS_BASE_40}
    if base_count not in lists:
        raise ValueError(f"kinetics base_count must be 20 or 40, got {base_count}")
    return Protocol(
        name=f"kinetics-b{base_count}",
        description=f"Kinetics-skeleton one-shot, {base_count} base / 20 novel classes (supplement lists)",
        base=tuple(("kinetics", k) for k in lists[base_count]),
        novel=tuple(("kinetics", k) for k in KINETICS_NOVEL),
        frames=60,
    )


# --- real data in ../shared/data ------------------------------------------------------------------

REALDATA_NOVEL_ACTIONS: tuple[int, ...] = tuple(range(3, 28, 3))  # UTD a3, a6, ..., a27 (1-based)
AUXILIARY_DATASETS = ("nw_ucla", "gtu3d", "irds")


def _auxiliary_base() -> tuple[ClassKey, ...]:
    return tuple((d, k) for d in AUXILIARY_DATASETS for k in range(len(CLASS_NAMES[d])))


def realdata_oneshot() -> Protocol:
    """DESIGN.md's real-data protocol: UTD-MHAD novel a3, a6, ..., a27 (exemplar subject 1 trial
    1); base = the other 18 UTD classes, then all NW-UCLA, GTU and IRDS classes."""
    novel = tuple(("utd_mhad", a - 1) for a in REALDATA_NOVEL_ACTIONS)
    utd_base = tuple(("utd_mhad", k) for k in range(27) if ("utd_mhad", k) not in novel)
    return Protocol(
        name="realdata",
        description="UTD-MHAD 9 novel (a3..a27 step 3) / 18 UTD + NW-UCLA + GTU + IRDS base classes",
        base=utd_base + _auxiliary_base(),
        novel=novel,
        exemplars=tuple(f"a{a}_s1_t1" for a in REALDATA_NOVEL_ACTIONS),
    )


def realdata_utd27() -> Protocol:
    """All 27 UTD-MHAD classes novel (exemplar subject 1 trial 1); base = NW-UCLA, GTU, IRDS."""
    return Protocol(
        name="realdata-utd27",
        description="UTD-MHAD all 27 classes novel / NW-UCLA + GTU + IRDS base classes",
        base=_auxiliary_base(),
        novel=tuple(("utd_mhad", k) for k in range(27)),
        exemplars=tuple(f"a{a}_s1_t1" for a in range(1, 28)),
    )


PROTOCOLS: dict[str, Callable[[], Protocol]] = {
    "ntu120": ntu120_oneshot,
    **{f"ntu120-b{n}": (lambda n=n: ntu120_oneshot(n)) for n in NTU120_BASE_COUNTS},
    "ntu60": ntu60_oneshot,
    **{f"ntu60-b{n}": (lambda n=n: ntu60_oneshot(n)) for n in NTU60_BASE_COUNTS},
    "kinetics-b20": lambda: kinetics_oneshot(20),
    "kinetics-b40": lambda: kinetics_oneshot(40),
    "realdata": realdata_oneshot,
    "realdata-utd27": realdata_utd27,
}


def all_protocols() -> dict[str, Callable[[], Protocol]]:
    """Every registered protocol: the ones above plus the real-data benchmark's (train.benchmark_protocols)."""
    from .benchmark_protocols import BENCHMARK, bench_heldout, starter_all  # imports this module

    return {**PROTOCOLS, **BENCHMARK, "bench-heldout": bench_heldout, "starter-all": starter_all}


def get_protocol(name: str) -> Protocol:
    """Protocol by registry name; ``ValueError`` listing the known names."""
    known = all_protocols()
    if name not in known:
        raise ValueError(f"unknown protocol {name!r}; known: {sorted(known)}")
    return known[name]()
