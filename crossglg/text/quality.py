"""Quality checks for description sets (used by `crossglg-train descriptions check` and the tests).

Schema validity is :mod:`crossglg.text.descriptions`' job; these checks catch descriptions that are
valid but useless for guidance:

* class count and id convention of a known dataset (``ntu120``: 120 classes ``A001``..``A120``);
* templated filler: the same joint text (case/space-normalised) in more than ``MAX_SHARED`` classes,
  or two classes with the same global text;
* a joint the action clearly moves described without motion: every joint whose ``k_gt`` is at
  least ``MOVING_FRACTION`` of the class maximum must contain a motion word (``MOTION_WORDS``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from crossglg.datasets.classes import KINDER_GATOR_MOTIONS
from crossglg.text.descriptions import EXPECTED_CLASS_COUNTS, JOINT_NAMES, DescriptionSet
from crossglg.text.lexicon import FLOOR_MASS, k_gt

MAX_SHARED = 3
MOVING_FRACTION = 0.6

_NW_UCLA_IDS = ("a01", "a02", "a03", "a04", "a05", "a06", "a08", "a09", "a11", "a12")
EXPECTED_IDS: dict[str, tuple[str, ...]] = {
    "ntu120": tuple(f"A{i:03d}" for i in range(1, 121)),
    "utd_mhad": tuple(f"a{i}" for i in range(1, 28)),
    "nw_ucla": _NW_UCLA_IDS,
    "gtu3d": tuple(str(i) for i in range(1, 15)),
    "irds": tuple(str(i) for i in range(9)),
    "sbu": tuple(f"{i:02d}" for i in range(1, 9)),  # interaction folders 01..08
    "msrc12": tuple(f"G{i}" for i in range(1, 13)),
    "kinder_gator": KINDER_GATOR_MOTIONS,  # the motion as spelled in the file names
    "kard": tuple(f"a{i:02d}" for i in range(1, 19)),
    "florence": tuple(f"a{i:02d}" for i in range(1, 10)),
}

# Word stems that say a joint moves (matched at a word start). Generous on purpose: the check is
# for texts like "not involved" on the joint that performs the action, not for a style guide.
_MOTION_STEMS = (
    "mov", "lift", "rais", "lower", "swing", "swung", "bend", "bent", "flex", "extend", "extension",
    "straighten", "rotat", "turn", "twist", "tilt", "lean", "nod", "shak", "wav", "swip", "sweep", "swept",
    "push", "pull", "reach", "punch", "throw", "threw", "thrown", "releas", "grip", "grasp", "grab", "open",
    "clos", "curl", "clench", "spread", "squeez", "kick", "step", "strid", "walk", "jog", "run", "hop",
    "jump", "lung", "squat", "crouch", "sit", "sits", "stand", "rise", "rises", "rising", "rose", "drop",
    "fall", "fell", "dip", "sink", "sank", "descend", "ascend", "climb", "travel", "follow", "trac", "draw",
    "drew", "circl", "arc", "swivel", "pivot", "shift", "sway", "rock", "slid", "glid", "flick", "snap",
    "roll", "brush", "rub", "clap", "strik", "struck", "hit", "knock", "toss", "carr", "bring", "brought",
    "pump", "driv", "drove", "thrust", "press", "tuck", "cross", "spin", "whip", "jerk", "wip", "scrub",
    "point", "wrap", "stretch", "abduct", "adduct", "elevat", "hing", "collaps", "buckl", "fold", "retract",
    "shrug", "approach", "separat", "meet", "meets", "lead", "leads", "trail", "accelerat", "oscillat",
    "alternat", "repeat", "displac", "advanc", "return", "withdr", "flap", "pat", "stomp", "shuffl", "slap",
    "touch", "hug", "tap", "kneel", "squat", "pick", "scoop", "catch", "caught", "shov", "hurl", "lob",
    "pitch", "serv", "chop", "bounc", "wobbl", "shiver", "tremb", "stagger", "stumbl", "hurr", "march",
    "goes", "going", "went", "come", "comes", "came", "upward", "downward", "forward", "backward",
    "sideways", "outward", "inward", "toward", "away", "up", "down", "back", "spring", "sprang", "launch",
    "land", "plant", "shift", "transfer", "load", "unload", "brac", "absorb", "counter", "compress",
    "arch", "hunch", "slump", "straighten", "recover", "settl", "sweep", "fling", "flung", "yank",
    "tug", "jab", "hook", "uppercut", "block", "fend", "dodg", "duck", "wring", "knead", "massag",
    "guid", "prob", "look", "insert", "thread", "plac", "put", "remov", "tak", "took", "pour", "fetch",
    "dig", "rummag", "search", "nudg", "bump", "pok", "scratch", "comb", "wip", "fan", "lick",
)  # fmt: skip
MOTION_WORDS = re.compile(r"\b(?:" + "|".join(sorted(set(_MOTION_STEMS), key=len, reverse=True)) + r")", re.I)


@dataclass(frozen=True)
class Problem:
    """One quality problem: where (class id, field) and what."""

    class_id: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = ", ".join(x for x in (f"class {self.class_id!r}" if self.class_id else "",
                                      f"field {self.field!r}" if self.field else "") if x)
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, str | None]:
        return {"class": self.class_id, "field": self.field, "message": self.message}


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".")


def moving_joints(global_text: str, name: str) -> list[str]:
    """NTU-25 joints the class clearly moves: ``k_gt >= MOVING_FRACTION * max`` (none if uniform)."""
    k = k_gt(global_text, name)
    if float(k.max() - k.min()) < 1e-6:  # no body-part words: nothing to hold the text to
        return []
    floor = FLOOR_MASS / len(k)
    thr = floor + MOVING_FRACTION * (float(k.max()) - floor)
    return [JOINT_NAMES[i] for i in np.flatnonzero(k >= thr)]


def check_descriptions(ds: DescriptionSet, expected_dataset: str | None = None) -> list[Problem]:
    """All quality problems of one description set (empty list = good)."""
    problems: list[Problem] = []
    key = expected_dataset or ds.dataset
    if expected_dataset is not None and ds.dataset != expected_dataset:
        problems.append(Problem(None, "dataset", f"is {ds.dataset!r}, expected {expected_dataset!r}"))
    if key in EXPECTED_CLASS_COUNTS and len(ds) != EXPECTED_CLASS_COUNTS[key]:
        problems.append(Problem(None, "classes", f"{len(ds)} classes, expected {EXPECTED_CLASS_COUNTS[key]}"))
    if key in EXPECTED_IDS:
        missing = [i for i in EXPECTED_IDS[key] if i not in set(ds.ids)]
        extra = [i for i in ds.ids if i not in set(EXPECTED_IDS[key])]
        if missing:
            problems.append(Problem(None, "classes", f"missing class ids: {', '.join(missing[:10])}"))
        if extra:
            problems.append(Problem(None, "classes", f"unexpected class ids: {', '.join(extra[:10])}"))

    shared: dict[str, list[tuple[str, str]]] = defaultdict(list)
    globals_seen: dict[str, str] = {}
    for c in ds.classes:
        g = _norm(c.global_text)
        if g in globals_seen:
            problems.append(Problem(c.id, "global", f"same global text as class {globals_seen[g]!r}"))
        globals_seen.setdefault(g, c.id)
        for joint, text in zip(JOINT_NAMES, c.joints, strict=True):
            shared[_norm(text)].append((c.id, joint))
        for joint in moving_joints(c.global_text, c.name):
            text = c.joint(joint)
            if not MOTION_WORDS.search(text):
                problems.append(Problem(c.id, f"joints.{joint}",
                                        f"the action moves this joint (k_gt) but the text has no motion word: {text!r}"))
    for text, where in shared.items():
        classes = sorted({cid for cid, _ in where})
        if len(classes) > MAX_SHARED:
            problems.append(Problem(None, "joints",
                                    f"identical joint text in {len(classes)} classes ({', '.join(classes[:8])}"
                                    f"{', ...' if len(classes) > 8 else ''}): {text!r}"))
    return problems
