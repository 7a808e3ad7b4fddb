"""Body-part lexicon: words in a global action description -> joint importance ``k_gt`` (NTU-25).

CrossGLG calibrates its Joint Importance Discriminator against ``k_gt``, a distribution over the
25 joints read from the body-part words of the global description. Here each body-part word or
phrase (``"forearm"``, ``"both hands"``, ``"lower back"``, ``"left knee"``, plurals included)
spreads one unit of weight over its joints. Sides:

* ``left`` / ``right`` / ``both`` / ``two`` / ``left and right`` just before the word choose the side;
  ``other`` / ``opposite`` / ``free`` mean the side opposite to the current one;
* an unqualified sided word (``"hand"``) takes the side the class name qualifies (``"right hand
  wave"``), else the side the text named before it (both once it has named both; sides named in
  still clauses such as ``"the left arm hangs"`` do not count), else both sides;
* ``two``/``both`` before fingers is a count, and ``the other fingers`` are on the same hand;
* ``"to the left"``, ``"turn right"`` and the like are directions, not sides.

Mentions in a clause that says the part is still (``"the legs stay planted"``) count a quarter;
mentions that are only a target or place (``"to the mouth"``, ``"in front of the chest"``) count
0.3; mentions in a clause with ``mainly`` / ``primarily`` / ``key`` count one and a half; ``back``
counts as the body part only after an article (``"the back bends"``, not ``"leans back"``).

``k_gt`` = the class name's and the global text's weights, summed and normalised, plus a floor:
``FLOOR_MASS`` (5%) of the mass is spread uniformly, so no joint is exactly zero (the
discriminator's softmax can never reach 0, and the MSE target stays smooth).
A text without any body-part word gives the uniform distribution.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from crossglg.skeleton.layouts import NTU25

FLOOR_MASS = 0.05
STILL_WEIGHT = 0.25
TARGET_WEIGHT = 0.3
EMPHASIS_WEIGHT = 1.5

_S = "{S}"  # side placeholder in joint templates: "Left" / "Right"

# Sided parts: template joint -> weight (before normalising each mention to one unit).
_SIDED: dict[str, dict[str, float]] = {
    "arm": {f"Shoulder{_S}": 0.5, f"Elbow{_S}": 1.0, f"Wrist{_S}": 1.0, f"Hand{_S}": 0.7},
    "upper arm": {f"Shoulder{_S}": 1.0, f"Elbow{_S}": 1.0},
    "forearm": {f"Elbow{_S}": 0.7, f"Wrist{_S}": 1.0, f"Hand{_S}": 0.5},
    "elbow": {f"Elbow{_S}": 1.0},
    "wrist": {f"Wrist{_S}": 1.0, f"Hand{_S}": 0.3},
    "hand": {f"Wrist{_S}": 0.5, f"Hand{_S}": 1.0, f"HandTip{_S}": 0.7, f"Thumb{_S}": 0.7},
    "palm": {f"Hand{_S}": 1.0, f"HandTip{_S}": 0.3, f"Thumb{_S}": 0.3},
    "fist": {f"Hand{_S}": 1.0, f"HandTip{_S}": 0.7, f"Thumb{_S}": 0.7},
    "finger": {f"HandTip{_S}": 1.0, f"Thumb{_S}": 0.5, f"Hand{_S}": 0.3},
    "thumb": {f"Thumb{_S}": 1.0},
    "shoulder": {f"Shoulder{_S}": 1.0},
    "hip": {f"Hip{_S}": 1.0},
    "leg": {f"Hip{_S}": 0.5, f"Knee{_S}": 1.0, f"Ankle{_S}": 1.0, f"Foot{_S}": 0.7},
    "thigh": {f"Hip{_S}": 1.0, f"Knee{_S}": 0.7},
    "knee": {f"Knee{_S}": 1.0},
    "lower leg": {f"Knee{_S}": 0.5, f"Ankle{_S}": 1.0},
    "ankle": {f"Ankle{_S}": 1.0, f"Foot{_S}": 0.3},
    "foot": {f"Foot{_S}": 1.0, f"Ankle{_S}": 0.5},
}

# Central parts (no side). Face features are targets ("hand to the mouth"), so they weigh less.
_CENTRAL: dict[str, dict[str, float]] = {
    "head": {"Head": 1.0, "Neck": 0.5},
    "neck": {"Neck": 1.0, "Head": 0.5},
    "face": {"Head": 0.5},
    "torso": {"SpineBase": 0.5, "SpineMid": 1.0, "SpineShoulder": 1.0},
    "upper body": {"SpineMid": 1.0, "SpineShoulder": 1.0, "ShoulderLeft": 0.5, "ShoulderRight": 0.5, "Neck": 0.3},
    "lower body": {"SpineBase": 0.5, "HipLeft": 0.5, "HipRight": 0.5, "KneeLeft": 1.0, "KneeRight": 1.0,
                   "AnkleLeft": 0.5, "AnkleRight": 0.5},
    "whole body": {name: 1.0 for name in NTU25.joints},
    "spine": {"SpineBase": 1.0, "SpineMid": 1.0, "SpineShoulder": 1.0},
    "back": {"SpineMid": 1.0, "SpineShoulder": 0.7, "SpineBase": 0.5},
    "lower back": {"SpineBase": 1.0, "SpineMid": 1.0},
    "chest": {"SpineShoulder": 1.0, "SpineMid": 0.7},
    "waist": {"SpineBase": 1.0, "SpineMid": 0.7, "HipLeft": 0.3, "HipRight": 0.3},
    "pelvis": {"SpineBase": 1.0, "HipLeft": 0.5, "HipRight": 0.5},
}

# Face features mostly appear as places a hand goes to; they weigh less than a moving part.
_PART_SCALE = {"face": 0.5}

# Surface forms -> lexicon key (plurals, synonyms, phrases). Two-word forms are matched first.
_FORMS: dict[str, str] = {
    "arm": "arm", "arms": "arm", "upper arm": "upper arm", "upper arms": "upper arm",
    "forearm": "forearm", "forearms": "forearm", "lower arm": "forearm", "lower arms": "forearm",
    "elbow": "elbow", "elbows": "elbow", "wrist": "wrist", "wrists": "wrist",
    "hand": "hand", "hands": "hand", "handed": "hand", "palm": "palm", "palms": "palm",
    "fist": "fist", "fists": "fist", "finger": "finger", "fingers": "finger", "fingertip": "finger",
    "fingertips": "finger", "thumb": "thumb", "thumbs": "thumb",
    "shoulder": "shoulder", "shoulders": "shoulder", "shoulder blade": "shoulder", "shoulder blades": "shoulder",
    "hip": "hip", "hips": "hip", "leg": "leg", "legs": "leg", "legged": "leg",
    "thigh": "thigh", "thighs": "thigh", "knee": "knee", "knees": "knee",
    "lower leg": "lower leg", "lower legs": "lower leg", "shin": "lower leg", "shins": "lower leg",
    "calf": "lower leg", "calves": "lower leg", "ankle": "ankle", "ankles": "ankle",
    "foot": "foot", "feet": "foot", "footed": "foot", "heel": "foot", "heels": "foot", "toe": "foot",
    "toes": "foot", "sole": "foot", "soles": "foot",
    "head": "head", "neck": "neck", "face": "face", "mouth": "face", "chin": "face", "ear": "face",
    "ears": "face", "eyes": "face", "forehead": "face", "nose": "face",
    "torso": "torso", "trunk": "torso", "upper body": "upper body", "lower body": "lower body",
    "whole body": "whole body", "entire body": "whole body", "full body": "whole body",
    "spine": "spine", "back": "back", "lower back": "lower back", "upper back": "back",
    "chest": "chest", "waist": "waist", "pelvis": "pelvis",
}  # fmt: skip

_SIDE_WORDS = {"left": "L", "right": "R", "both": "B", "two": "B", "each": "B"}
_OTHER_WORDS = {"other", "opposite", "free"}
# a side word right after one of these is a direction ("to the left", "turn right"), not a side
_DIRECTION_BEFORE = {"to", "toward", "towards", "the", "turn", "turns", "turning", "from", "leans", "lean"}
_STILL_WORDS = {
    "still", "stationary", "static", "motionless", "planted", "idle", "relaxed", "unchanged", "steady",
    "stable", "stays", "stay", "remain", "remains", "rest", "rests", "hang", "hangs", "hanging", "barely",
    "not", "no", "little", "passive", "passively", "steadies", "steadying",
}  # fmt: skip
# a body-part word after one of these (skipping articles/sides) is a place the action goes to
_TARGET_BEFORE = {
    "to", "toward", "towards", "at", "near", "above", "over", "behind", "beside", "against", "past", "onto",
    "into", "under", "below", "beneath", "around", "across", "by", "on", "off",
}  # fmt: skip
_SKIP_BEFORE = {"the", "a", "his", "her", "their", "its", "one", "s", "own", "left", "right", "both", "other"}
_NOUN_BEFORE = {"the", "his", "her", "their", "its", "whose", "small"}
_EMPHASIS_WORDS = {"mainly", "primarily", "chiefly", "key", "dominant", "main", "mostly"}
_CLAUSE_BREAK = {".", ",", ";", ":", "!", "?", "(", ")", "while", "whereas", "but", "except"}
_TOKEN = re.compile(r"[a-z]+|[.,;:!?()]")
_JOINT_INDEX = {name: i for i, name in enumerate(NTU25.joints)}
_CAMEL_JOINT = re.compile("|".join(sorted(NTU25.joints, key=len, reverse=True)))


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _sides(code: str) -> tuple[str, ...]:
    return {"L": ("Left",), "R": ("Right",), "B": ("Left", "Right")}[code]


def _side_before(tokens: list[str], start: int, context: str | None, part: str) -> str | None:
    """Side code qualifying the body-part word at ``start`` (look back <= 4 tokens in the clause)."""
    found: set[str] = set()
    other = False
    for k in range(start - 1, max(-1, start - 5), -1):
        tok = tokens[k]
        if tok in _CLAUSE_BREAK or tok in _FORMS:
            break
        if tok in ("left", "right") and _is_side(tokens, k):
            found.add(_SIDE_WORDS[tok])
        elif tok in _SIDE_WORDS and tok not in ("left", "right") and part not in ("finger", "thumb"):
            found.add(_SIDE_WORDS[tok])  # "both hands"; but "two fingers" is a count on one hand
        elif tok in _OTHER_WORDS and part not in ("finger", "thumb"):
            other = True  # "the other hand" is the opposite side; "the other fingers" the same hand
    if "B" in found or {"L", "R"} <= found:
        return "B"
    if found:
        return found.pop()
    if other and context in ("L", "R"):
        return "R" if context == "L" else "L"
    return None


def _is_target(tokens: list[str], start: int) -> bool:
    k = start - 1
    while k >= 0 and tokens[k] in _SKIP_BEFORE:
        k -= 1
    if k < 0:
        return False
    return tokens[k] in _TARGET_BEFORE or (tokens[k] == "of" and k > 0 and tokens[k - 1] == "front")


def _is_side(tokens: list[str], k: int) -> bool:
    """Whether ``left``/``right`` at ``k`` names a body side rather than a direction.

    A side word right before a body-part word (``"right arm"``, ``"left upper arm"``) or before
    ``"and right"``-style pairs is a side; after ``to``/``the``/``turn``... it is a direction
    (``"to the left"``); elsewhere (``"elbow flexion left"``) it is a side.
    """
    nxt = tokens[k + 1 : k + 4]
    if nxt and (nxt[0] in _FORMS or " ".join(nxt[:2]) in _FORMS):
        return True
    if len(nxt) >= 2 and nxt[0] in ("and", "or") and nxt[1] in ("left", "right"):
        return True
    return not (k > 0 and tokens[k - 1] in _DIRECTION_BEFORE)


def name_side(name: str) -> str | None:
    """Side the class name qualifies: ``"L"``, ``"R"`` or ``None`` (both / none / ambiguous).

    ``"right arm swipe to the left"`` -> ``"R"`` (``to the left`` is a direction);
    ``"elbow flexion left"`` -> ``"L"``; ``"bend the leg left or right"`` -> ``None``.
    """
    toks = _tokens(name)
    sides = {_SIDE_WORDS[t] for k, t in enumerate(toks) if t in ("left", "right") and _is_side(toks, k)}
    return sides.pop() if len(sides) == 1 else None


def _add(weights: np.ndarray, part: str, side: str | None, scale: float) -> None:
    if part in _CENTRAL:
        table, sides = _CENTRAL[part], ("",)
    else:
        table, sides = _SIDED[part], _sides(side or "B")
    entries = [(tmpl.replace(_S, s), w) for s in sides for tmpl, w in table.items()]
    total = sum(w for _, w in entries)
    for joint, w in entries:
        weights[_JOINT_INDEX[joint]] += scale * w / total  # one unit per mention


def joint_weights(text: str, default_side: str | None = None) -> np.ndarray:
    """Unnormalised importance ``(25,)`` float64 from the body-part words of ``text``.

    Args:
        text: free text (a global description, a class name).
        default_side: ``"L"``/``"R"`` for unqualified sided words (from the class name), or None.
    """
    weights = np.zeros(len(NTU25.joints), dtype=np.float64)
    for m in _CAMEL_JOINT.finditer(text):  # explicit NTU joint names ("HandRight") count fully
        weights[_JOINT_INDEX[m.group(0)]] += 1.0
    toks = _tokens(text)
    clauses = _clause_words(toks)
    context = default_side
    named: set[str] = set()  # sides the text has named so far in clauses about moving parts
    i = 0
    while i < len(toks):
        tok = toks[i]
        still = bool(clauses[i] & _STILL_WORDS)
        if default_side is None and not still and (
            _names_both(toks, i) or (tok in ("left", "right") and _is_side(toks, i))
        ):
            # unqualified words follow the side the text names; both once it has named both.
            # Still clauses ("the left arm hangs") do not count: they name the idle side.
            named |= {"L", "R"} if tok not in ("left", "right") else {_SIDE_WORDS[tok]}
            context = next(iter(named)) if len(named) == 1 else "B"
        pair = f"{tok} {toks[i + 1]}" if i + 1 < len(toks) else ""
        form, width = (pair, 2) if pair in _FORMS else (tok, 1) if tok in _FORMS else (None, 1)
        if form is None or (form == "back" and not (i > 0 and toks[i - 1] in _NOUN_BEFORE)):
            i += 1  # not a body part; "leans back" / "comes back" is a direction
            continue
        part = _FORMS[form]
        if still:
            scale = STILL_WEIGHT
        elif _is_target(toks, i):
            scale = TARGET_WEIGHT
        else:
            scale = EMPHASIS_WEIGHT if clauses[i] & _EMPHASIS_WORDS else 1.0
        scale *= _PART_SCALE.get(part, 1.0)
        side = _side_before(toks, i, context, part) if part in _SIDED else None
        _add(weights, part, side if side is not None else context, scale)
        i += width
    return weights


def _names_both(toks: list[str], i: int) -> bool:
    """``both``/``two`` at ``i`` qualifying a limb ("both arms", "two hands"), not "two fingers"."""
    if toks[i] not in ("both", "two") or i + 1 >= len(toks):
        return False
    nxt = toks[i + 2] if toks[i + 1] == "the" and i + 2 < len(toks) else toks[i + 1]
    return nxt in _FORMS and _FORMS[nxt] not in ("finger", "thumb")


def _clause_words(toks: list[str]) -> list[frozenset[str]]:
    """For each token, the set of words of the clause it belongs to."""
    out: list[frozenset[str]] = []
    start = 0
    for end in [k for k, t in enumerate(toks) if t in _CLAUSE_BREAK] + [len(toks)]:
        words = frozenset(toks[start:end])
        out.extend([words] * (end - start))
        if end < len(toks):
            out.append(frozenset())  # the break token itself
        start = end + 1
    return out


def normalise(weights: np.ndarray, floor_mass: float = FLOOR_MASS) -> np.ndarray:
    """Weights ``(..., V)`` -> distribution with ``floor_mass`` spread uniformly (float32)."""
    w = np.asarray(weights, dtype=np.float64)
    v = w.shape[-1]
    total = w.sum(axis=-1, keepdims=True)
    p = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / v)
    return ((1.0 - floor_mass) * p + floor_mass / v).astype(np.float32)


def k_gt(global_text: str, name: str = "") -> np.ndarray:
    """Joint importance distribution ``(25,)`` float32 (sums to 1) for one class.

    The class name decides the side of unqualified words and its body-part words count too.
    """
    side = name_side(name)
    return normalise(joint_weights(global_text, side) + joint_weights(name, side))


def k_gt_matrix(classes: Iterable[object]) -> np.ndarray:
    """``(K, 25)`` float32 k_gt for objects with ``global_text`` and ``name`` (ClassDescription)."""
    rows = [k_gt(c.global_text, c.name) for c in classes]  # type: ignore[attr-defined]
    return np.stack(rows) if rows else np.zeros((0, len(NTU25.joints)), dtype=np.float32)
