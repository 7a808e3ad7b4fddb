"""The multi-protocol one-shot benchmark on the real datasets (docs/protocols.md, "Benchmark").

Four protocols, each: novel classes held out, one exemplar per novel class (fixed: the first
recording of the lowest-numbered subject; or seeded random draws), every other novel sample a query,
base = every class of every other real dataset MINUS the classes that name the same action as a
novel class (:data:`SAME_ACTION`: "wave" in UTD-MHAD, KARD, Florence and Kinder-Gator is one action;
training on one and testing on another would measure recall, not one-shot learning).

- ``bench-utd9``: UTD-MHAD a3, a6, ..., a27 (DESIGN.md's real-data novel set).
- ``bench-kard18``: all 18 KARD activities (KARD not in base).
- ``bench-kgator``: a third of Kinder-Gator's motion families (every third family in sorted order,
  with all its variants: "wave your hand" and "wave your other hand" are one family).
- ``bench-florence9``: all 9 Florence 3D actions (Florence not in base).
- ``starter-all``: the shipped starter model's training set (every class, nothing held out).
- ``bench-heldout``: the training protocol of the benchmark model: base = the classes that are base
  in ALL four protocols (so one model is held out from every protocol's novel classes and their
  same-action classes); its own novel set is the UTD one (for training-time evaluation).

Class sets are resolved from ``crossglg.datasets.CLASS_NAMES`` when a protocol is built.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from crossglg.datasets.classes import CLASS_NAMES

from .protocols import REALDATA_NOVEL_ACTIONS, ClassKey, Protocol

# Datasets that are sources of base classes (the NTU folder holds one sample: not a class source).
BENCH_DATASETS: tuple[str, ...] = (
    "utd_mhad", "nw_ucla", "gtu3d", "irds", "kinder_gator", "kard", "florence", "sbu", "msrc12",
)  # fmt: skip

# Groups of classes that name the same action, as (dataset, regex on the lower-case class name).
# A base class in the group of a novel class is removed from that protocol's base set.
SAME_ACTION: dict[str, tuple[tuple[str, str], ...]] = {
    "wave": (("utd_mhad", r"hand wave"), ("kard", r"wave"), ("florence", r"^wave$"), ("kinder_gator", r"wave"),
             ("ntu", r"hand waving")),
    "clap": (("utd_mhad", r"clap"), ("kard", r"clap"), ("florence", r"^clap"), ("gtu3d", r"applause"),
             ("ntu", r"^clapping")),
    "sit down": (("utd_mhad", r"stand to sit"), ("nw_ucla", r"sit down"), ("kard", r"sit down"),
                 ("florence", r"sit down"), ("gtu3d", r"sit and applause"), ("ntu", r"sitting down")),
    "stand up": (("utd_mhad", r"sit to stand"), ("nw_ucla", r"stand up"), ("kard", r"stand up"),
                 ("florence", r"stand up"), ("ntu", r"standing up")),
    "walk": (("utd_mhad", r"walking in place"), ("nw_ucla", r"walk around"), ("gtu3d", r"^walking"),
             ("kard", r"^walk"), ("kinder_gator", r"walk in place")),
    "run": (("utd_mhad", r"jogging"), ("kinder_gator", r"run in place")),
    "throw": (("utd_mhad", r"throw"), ("nw_ucla", r"^throw"), ("kard", r"throw|toss"), ("msrc12", r"throw"),
              ("kinder_gator", r"throw"), ("ntu", r"^throw$")),
    "kick": (("kard", r"kick"), ("msrc12", r"kick"), ("sbu", r"kick"), ("kinder_gator", r"kick"),
             ("ntu", r"kick")),
    "punch": (("utd_mhad", r"boxing"), ("sbu", r"punch"), ("kinder_gator", r"^punch")),
    "push": (("utd_mhad", r"push"), ("sbu", r"push"), ("msrc12", r"push"), ("kinder_gator", r"push")),
    "drink": (("kard", r"drink"), ("florence", r"drink"), ("ntu", r"drink")),
    "phone": (("kard", r"phone"), ("florence", r"phone"), ("ntu", r"phone call")),
    "bow": (("florence", r"^bow"), ("msrc12", r"^bow"), ("kinder_gator", r"^bow"), ("ntu", r"bow")),
    "watch": (("florence", r"watch"), ("ntu", r"check time")),
    "draw x": (("utd_mhad", r"draw x"), ("kard", r"draw x"), ("kinder_gator", r"letter x")),
    "draw circle": (("utd_mhad", r"draw circle"), ("kinder_gator", r"draw a circle")),
    "draw triangle": (("utd_mhad", r"draw triangle"), ("kinder_gator", r"draw a triangle")),
    "catch": (("utd_mhad", r"catch"), ("kard", r"catch")),
    "cross arms": (("utd_mhad", r"cross arms"), ("ntu", r"cross arms")),
    "squat": (("utd_mhad", r"squat"), ("gtu3d", r"crouch"), ("msrc12", r"duck"), ("ntu", r"squat")),
    "lunge": (("utd_mhad", r"lunge"), ("kinder_gator", r"lunge")),
    "bend": (("kard", r"^bend$"), ("nw_ucla", r"pick up"), ("kinder_gator", r"touch your toes"),
             ("utd_mhad", r"pick up"), ("ntu", r"pickup")),
    "jump": (("kinder_gator", r"jump"), ("ntu", r"jump")),
    "raise arms": (("msrc12", r"lift outstretched"), ("irds", r"abduction"), ("kinder_gator", r"raise your arm"),
                   ("ntu", r"hands up")),
    "raise hand": (("kinder_gator", r"raise your (other )?hand"), ("irds", r"shoulder flexion|forward elevation")),
    "swipe": (("utd_mhad", r"swipe"), ("kinder_gator", r"swipe")),
    "point": (("kinder_gator", r"point"), ("msrc12", r"shoot"), ("ntu", r"pointing")),
    "stop": (("kinder_gator", r"signal someone to stop"), ("ntu", r"say stop")),
    "side kick / leg lift": (("kard", r"side kick"), ("kinder_gator", r"lift your leg to"), ("gtu3d", r"bend the leg")),
    "hug": (("sbu", r"hug"), ("ntu", r"hugging")),
    "handshake": (("sbu", r"shaking hands"), ("ntu", r"handshaking")),
    "give": (("sbu", r"exchang"), ("ntu", r"giving something")),
    "waist": (("kinder_gator", r"hands on your hips"), ("gtu3d", r"waist|lower back")),
}  # fmt: skip


def class_keys(dataset: str) -> tuple[ClassKey, ...]:
    """Every class of ``dataset``; ``ValueError`` when no reader registers its class names."""
    names = CLASS_NAMES.get(dataset)
    if names is None:
        raise ValueError(f"benchmark: dataset {dataset!r} has no class names (no reader registered)")
    return tuple((dataset, k) for k in range(len(names)))


def _name(key: ClassKey) -> str:
    return CLASS_NAMES[key[0]][key[1]].lower()


def same_action(key: ClassKey) -> set[ClassKey]:
    """Classes of any dataset in a :data:`SAME_ACTION` group with ``key`` (``key`` itself included)."""
    out = {key}
    for group in SAME_ACTION.values():
        members = {(d, k) for d, pattern in group if d in CLASS_NAMES
                   for k, n in enumerate(CLASS_NAMES[d]) if re.search(pattern, n.lower())}  # fmt: skip
        if key in members:
            out |= members
    return out


def base_without(novel: tuple[ClassKey, ...], datasets: tuple[str, ...] = BENCH_DATASETS) -> tuple[ClassKey, ...]:
    """Every class of ``datasets`` except the novel ones and those naming the same action."""
    excluded = set().union(*(same_action(k) for k in novel)) if novel else set()
    return tuple(k for d in datasets for k in class_keys(d) if k not in excluded)


# Kinder-Gator variants of one motion: other side, harder, faster (order matters: longest first)
_VARIANTS: tuple[tuple[str, str], ...] = (
    (r"\bas (far|fast|high) as you can\b", ""),
    (r"\bwith (your|the) other (arm|leg)\b", ""),
    (r"\byour other\b", "your"),
    (r"\b(the other|the) side\b", "one side"),
    (r"\bother\b", ""),
)


def motion_family(name: str) -> str:
    """Kinder-Gator motion name -> its family key: "Kick a ball as far as you can with the other leg"
    and "Kick a ball" -> "kick a ball"; "Wave your other hand" -> "wave your hand"; "Raise your arm to
    the other side" -> "raise your arm to one side"."""
    s = name.lower().replace("-", " ")
    for pattern, repl in _VARIANTS:
        s = re.sub(pattern, repl, s)
    return " ".join(s.split())


def kgator_novel() -> tuple[ClassKey, ...]:
    """Kinder-Gator novel classes: every motion of every third family (families sorted, index 2, 5, ...)."""
    keys = class_keys("kinder_gator")
    families = sorted({motion_family(_name(k)) for k in keys})
    held = {f for i, f in enumerate(families) if i % 3 == 2}
    return tuple(k for k in keys if motion_family(_name(k)) in held)


def _bench(name: str, description: str, novel: tuple[ClassKey, ...]) -> Protocol:
    return Protocol(name=name, description=description, base=base_without(novel), novel=novel,
                    exemplar_rule="first_of_lowest_subject")  # fmt: skip


def bench_utd9() -> Protocol:
    novel = tuple(("utd_mhad", a - 1) for a in REALDATA_NOVEL_ACTIONS)
    return _bench("bench-utd9", "UTD-MHAD 9 novel (a3..a27 step 3) / all other real classes minus same actions", novel)


def bench_kard18() -> Protocol:
    return _bench("bench-kard18", "KARD all 18 novel / other datasets minus same actions", class_keys("kard"))


def bench_kgator() -> Protocol:
    return _bench("bench-kgator", "Kinder-Gator every third motion family novel / the rest minus same actions",
                  kgator_novel())


def bench_florence9() -> Protocol:
    return _bench("bench-florence9", "Florence 3D all 9 novel / other datasets minus same actions",
                  class_keys("florence"))


BENCHMARK: dict[str, Callable[[], Protocol]] = {
    "bench-utd9": bench_utd9,
    "bench-kard18": bench_kard18,
    "bench-kgator": bench_kgator,
    "bench-florence9": bench_florence9,
}


def bench_heldout() -> Protocol:
    """Base = classes that are base in every benchmark protocol; novel = the UTD nine."""
    protocols = [make() for make in BENCHMARK.values()]
    common = set.intersection(*(set(p.base) for p in protocols))
    base = tuple(k for k in protocols[0].base if k in common)
    return Protocol(name="bench-heldout", description="benchmark model: base held out from all four protocols",
                    base=base, novel=protocols[0].novel, exemplar_rule="first_of_lowest_subject")


def starter_all() -> Protocol:
    """The shipped starter model's training set: every class of every real dataset, no novel classes
    (users enroll their own actions)."""
    return Protocol(name="starter-all", description="starter model: every class of every real dataset",
                    base=tuple(k for d in BENCH_DATASETS for k in class_keys(d)), novel=())
