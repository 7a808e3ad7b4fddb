"""Layout -> NTU-25 mappings written as data: copied joints plus ordered derivation rules.

A :class:`JointMap` says which source joint becomes which NTU-25 joint (``copy``) and how the
NTU joints the source lacks are built from joints already placed (``derive``, applied in order).
One rule type covers every derivation used so far::

    target = a + t * (b - a) + forward * |b - a| * F

``t`` interpolates (0.5 = midpoint) or extrapolates (> 1 extends the bone a -> b past b);
``forward`` pushes the joint along the body's facing direction
``F = unit((HipLeft - HipRight) x (SpineShoulder - SpineBase))`` (left x up = out of the chest
in a right-handed frame), scaled by the bone length ``|b - a|``. Missing inputs give NaN outputs.

The OpenNI/NiTE 15-joint skeletons (KARD, Florence 3D, SBU) use :data:`OPENNI15_DERIVE`; the
constants it uses are listed (with where they were measured) next to it.

:data:`SENSOR_DERIVES` lists, per sensor family, the NTU joints that family's mapping builds instead
of measuring, as rules on NTU joints; :func:`rederive` rebuilds them on an NTU-25 skeleton from any
sensor, i.e. shows one recording as that sensor family would have given it (a training augmentation:
``train.augment``, ``AugmentConfig.relayout``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layouts import FLORENCE15, KARD15, NTU25, SBU15, Layout
from .mappings import HANDTIP_EXTENSION, NECK_RATIO, THUMB_EXTENSION

NTU_V = NTU25.num_joints


@dataclass(frozen=True)
class Derive:
    """``target = a + t (b - a) + forward |b - a| F`` on NTU-25 joint names (see module docstring)."""

    target: str
    a: str
    b: str
    t: float
    forward: float = 0.0


_FORWARD_INPUTS = ("HipLeft", "HipRight", "SpineShoulder", "SpineBase")


@dataclass(frozen=True)
class JointMap:
    """``source`` layout -> NTU-25: ``copy`` pairs ``(source joint, NTU joint)``, then ``derive``.

    Construction checks that every NTU joint is produced exactly once and that each rule only
    reads joints placed before it, so a table cannot silently leave a joint NaN.
    """

    name: str
    source: Layout
    copy: tuple[tuple[str, str], ...]
    derive: tuple[Derive, ...]

    def __post_init__(self) -> None:
        placed: list[str] = []
        for src, dst in self.copy:
            self.source.index(src)  # raises naming the unknown joint
            NTU25.index(dst)
            placed.append(dst)
        for rule in self.derive:
            needs = [rule.a, rule.b, *(_FORWARD_INPUTS if rule.forward else ())]
            for n in needs:
                if n not in placed:
                    raise ValueError(
                        f"mapping {self.name}: rule for {rule.target} reads {n} before it is placed"
                    )
            NTU25.index(rule.target)
            placed.append(rule.target)
        if sorted(placed) != sorted(NTU25.joints):
            dup = sorted({n for n in placed if placed.count(n) > 1})
            missing = [n for n in NTU25.joints if n not in placed]
            raise ValueError(f"mapping {self.name}: NTU joints missing {missing}, placed twice {dup}")

    @property
    def derived_joints(self) -> tuple[str, ...]:
        """NTU joints the source does not measure."""
        return tuple(r.target for r in self.derive)

    def apply(self, seq: np.ndarray) -> np.ndarray:
        """``(..., J, 3)`` in ``source`` order -> ``(..., 25, 3)`` float32 in NTU-25 order."""
        arr = np.asarray(seq, dtype=np.float32)
        j = self.source.num_joints
        if arr.ndim < 2 or arr.shape[-2:] != (j, 3):
            raise ValueError(f"{self.name}: expected an array shaped (..., {j}, 3), got {arr.shape}")
        out = np.full(arr.shape[:-2] + (NTU_V, 3), np.nan, dtype=np.float32)
        for src, dst in self.copy:
            out[..., NTU25.index(dst), :] = arr[..., self.source.index(src), :]
        for rule in self.derive:
            out[..., NTU25.index(rule.target), :] = _rule_value(out, rule)
        return out


def _rule_value(out: np.ndarray, rule: Derive) -> np.ndarray:
    """``rule``'s target ``(..., 3)`` from the joints already in ``out (..., 25, 3)``."""
    a, b = out[..., NTU25.index(rule.a), :], out[..., NTU25.index(rule.b), :]
    value = a + rule.t * (b - a)
    if rule.forward:
        length = np.linalg.norm(b - a, axis=-1, keepdims=True)
        with np.errstate(invalid="ignore"):
            value = value + rule.forward * length * _body_forward(out)
    return value


def _body_forward(out: np.ndarray) -> np.ndarray:
    """Unit facing direction ``(..., 3)`` from NTU hips and spine (NaN when degenerate)."""
    j = NTU25.index
    left = out[..., j("HipLeft"), :] - out[..., j("HipRight"), :]
    up = out[..., j("SpineShoulder"), :] - out[..., j("SpineBase"), :]
    f = np.cross(left, up)
    norm = np.linalg.norm(f, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 1e-9, f / norm, np.nan)


# Wrist sits this fraction of the way from the hand back to the elbow (NTU sample
# S001C001P001R001A001: wrist-hand 0.062-0.067 m of elbow-hand 0.25-0.30 m).
WRIST_FROM_HAND = 0.22
# Kinect v1 foot relative to its ankle, in units of the shin (knee-ankle) length, median of 232
# Kinder-Gator trials: 0.20 further down the shin line, 0.13 forward.
FOOT_ALONG_SHIN = 0.20
FOOT_FORWARD = 0.13


def _openni_derive() -> tuple[Derive, ...]:
    rules = [
        Derive("SpineBase", "HipLeft", "HipRight", 0.5),
        Derive("Neck", "SpineShoulder", "Head", NECK_RATIO),
    ]
    for s in ("Left", "Right"):
        rules += [
            Derive(f"Wrist{s}", f"Hand{s}", f"Elbow{s}", WRIST_FROM_HAND),
            Derive(f"HandTip{s}", f"Wrist{s}", f"Hand{s}", 1.0 + HANDTIP_EXTENSION),
            Derive(f"Thumb{s}", f"Wrist{s}", f"Hand{s}", 1.0 + THUMB_EXTENSION),
            Derive(f"Foot{s}", f"Knee{s}", f"Ankle{s}", 1.0 + FOOT_ALONG_SHIN, FOOT_FORWARD),
        ]
    return tuple(rules)


# NTU joints an OpenNI-15 skeleton lacks, in the order they are built.
OPENNI15_DERIVE: tuple[Derive, ...] = _openni_derive()

# (source joint, NTU joint). NiTE's Neck is the shoulders' midpoint (KARD: exactly), i.e. NTU's
# SpineShoulder; its Torso is midway between the hip midpoint and Neck (SpineMid); its Hand is the
# palm (elbow-hand 0.29 m, longer than a forearm) and its Foot the ankle (knee-foot 0.41 m).
KARD15_COPY: tuple[tuple[str, str], ...] = (
    ("Head", "Head"), ("Neck", "SpineShoulder"), ("Torso", "SpineMid"),
    ("LeftShoulder", "ShoulderLeft"), ("LeftElbow", "ElbowLeft"), ("LeftHand", "HandLeft"),
    ("RightShoulder", "ShoulderRight"), ("RightElbow", "ElbowRight"), ("RightHand", "HandRight"),
    ("LeftHip", "HipLeft"), ("LeftKnee", "KneeLeft"), ("LeftFoot", "AnkleLeft"),
    ("RightHip", "HipRight"), ("RightKnee", "KneeRight"), ("RightFoot", "AnkleRight"),
)  # fmt: skip
# Florence names the same NiTE joints spine / wrist / ankle: its bone lengths match KARD's torso,
# hand and foot (elbow-"wrist" 0.29 m, knee-"ankle" 0.41 m), so they map the same way.
FLORENCE15_COPY: tuple[tuple[str, str], ...] = (
    ("Head", "Head"), ("Neck", "SpineShoulder"), ("Spine", "SpineMid"),
    ("LeftShoulder", "ShoulderLeft"), ("LeftElbow", "ElbowLeft"), ("LeftWrist", "HandLeft"),
    ("RightShoulder", "ShoulderRight"), ("RightElbow", "ElbowRight"), ("RightWrist", "HandRight"),
    ("LeftHip", "HipLeft"), ("LeftKnee", "KneeLeft"), ("LeftAnkle", "AnkleLeft"),
    ("RightHip", "HipRight"), ("RightKnee", "KneeRight"), ("RightAnkle", "AnkleRight"),
)  # fmt: skip

KARD15_TO_NTU = JointMap("kard15->ntu25", KARD15, KARD15_COPY, OPENNI15_DERIVE)
FLORENCE15_TO_NTU = JointMap("florence15->ntu25", FLORENCE15, FLORENCE15_COPY, OPENNI15_DERIVE)
# SBU's neck is exactly the shoulders' midpoint and its torso exactly midway between neck and hip
# centre (all 282 files, < 1 mm), elbow-hand 0.28 m and knee-foot 0.40 m: KARD's NiTE joints.
SBU15_TO_NTU = JointMap("sbu15->ntu25", SBU15, KARD15_COPY, OPENNI15_DERIVE)

JOINT_MAPS: dict[str, JointMap] = {m.source.name: m for m in (KARD15_TO_NTU, FLORENCE15_TO_NTU, SBU15_TO_NTU)}


def _kinect_v1_derive() -> tuple[Derive, ...]:
    """:func:`crossglg.skeleton.mappings.from_kinect_v1`'s derived joints as rules."""
    rules = [Derive("Neck", "SpineShoulder", "Head", NECK_RATIO)]
    for s in ("Left", "Right"):
        rules += [Derive(f"HandTip{s}", f"Wrist{s}", f"Hand{s}", 1.0 + HANDTIP_EXTENSION),
                  Derive(f"Thumb{s}", f"Wrist{s}", f"Hand{s}", 1.0 + THUMB_EXTENSION)]
    return tuple(rules)


# Per sensor family, the NTU joints its mapping derives (MediaPipe: the spine from the hips and
# shoulders and the neck, as crossglg.skeleton.mappings.from_mediapipe33 builds them; its head,
# hands and feet come from landmarks NTU-25 does not hold, so they are left as they are).
SENSOR_DERIVES: dict[str, tuple[Derive, ...]] = {
    "openni15": OPENNI15_DERIVE,
    "kinect_v1": _kinect_v1_derive(),
    "mediapipe33": (
        Derive("SpineBase", "HipLeft", "HipRight", 0.5),
        Derive("SpineShoulder", "ShoulderLeft", "ShoulderRight", 0.5),
        Derive("SpineMid", "SpineBase", "SpineShoulder", 0.5),
        Derive("Neck", "SpineShoulder", "Head", NECK_RATIO),
    ),
}


def rederive(seq: np.ndarray, rules: tuple[Derive, ...]) -> np.ndarray:
    """Rebuild ``rules``' target joints of NTU-25 skeletons ``(..., 25, 3)`` from the other joints,
    in order (a rule may read an earlier rule's output). Returns a float32 copy; a skeleton whose
    joints are all zero (an absent body, padding) is left as it is, and so is any joint whose rebuilt
    value is not finite (a degenerate facing direction): the recording is never made worse than given.
    """
    arr = np.asarray(seq, dtype=np.float32)
    if arr.ndim < 2 or arr.shape[-2:] != (NTU_V, 3):
        raise ValueError(f"rederive: expected an array shaped (..., {NTU_V}, 3), got {arr.shape}")
    out = arr.copy()
    for rule in rules:
        value = _rule_value(out, rule)
        t = NTU25.index(rule.target)
        out[..., t, :] = np.where(np.isfinite(value), value, out[..., t, :])
    absent = ~np.any(arr != 0, axis=(-2, -1))
    out[absent] = arr[absent]
    return out
