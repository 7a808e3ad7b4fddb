"""Skeleton layouts as plain data.

A :class:`Layout` names the joints, their parents (a tree rooted at ``center``) and body-part
groups. The model and the preprocessing take a layout instead of hard-coding NTU-25, so the
Kinetics (OpenPose-18) protocol runs through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Layout:
    """A skeleton layout.

    Attributes:
        name: registry key, e.g. ``"ntu25"``.
        joints: joint names, index = joint id (0-based).
        parents: parent index per joint; the root has parent ``-1``.
        center: root joint index (the tree's root; InfoGCN uses SpineMid for NTU-25).
        parts: body-part name -> joint indices.
        left_right: pairs ``(left, right)`` of mirror joints.
        channels: meaning of the C axis (``xyz`` or ``xy+score``).
        hip_pair / shoulder_pair: ``(left, right)`` indices used for view alignment.
        spine_pair: ``(lower, upper)`` indices whose line is made vertical by view alignment.
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    center: int
    parts: dict[str, tuple[int, ...]] = field(default_factory=dict)
    left_right: tuple[tuple[int, int], ...] = ()
    channels: str = "xyz"
    hip_pair: tuple[int, int] = (0, 0)
    shoulder_pair: tuple[int, int] = (0, 0)
    spine_pair: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        n = len(self.joints)
        if len(self.parents) != n:
            raise ValueError(f"layout {self.name}: {len(self.parents)} parents for {n} joints")
        if self.parents[self.center] != -1:
            raise ValueError(f"layout {self.name}: centre joint {self.center} must have parent -1")
        for j, p in enumerate(self.parents):
            if j != self.center and not 0 <= p < n:
                raise ValueError(f"layout {self.name}: joint {j} has invalid parent {p}")
        # every joint must reach the root (no cycles)
        for j in range(n):
            seen, k = set(), j
            while k != -1:
                if k in seen:
                    raise ValueError(f"layout {self.name}: cycle through joint {k}")
                seen.add(k)
                k = self.parents[k]

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """Bones as ``(child, parent)`` pairs (InfoGCN's inward edges), root excluded."""
        return tuple((j, p) for j, p in enumerate(self.parents) if p >= 0)

    def index(self, name: str) -> int:
        try:
            return self.joints.index(name)
        except ValueError:
            raise ValueError(f"layout {self.name}: unknown joint {name!r}; expected one of {self.joints}") from None

    def adjacency(self) -> np.ndarray:
        """Binary outward adjacency ``(V, V)`` float32: ``A[child, parent] = 1``.

        ``(I - A) @ x`` gives each joint minus its parent (the root keeps its coordinate), which
        is InfoGCN's ``I - A_outward`` input transform with k = 1.
        """
        a = np.zeros((self.num_joints, self.num_joints), dtype=np.float32)
        for c, p in self.edges:
            a[c, p] = 1.0
        return a

    def mirror_permutation(self) -> np.ndarray:
        """Index permutation swapping left and right joints ``(V,)``."""
        perm = np.arange(self.num_joints)
        for left, right in self.left_right:
            perm[left], perm[right] = right, left
        return perm


_NTU_NAMES = (
    "SpineBase", "SpineMid", "Neck", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
    "SpineShoulder", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight",
)  # fmt: skip

# Rooted at SpineMid (index 1). Hand tips and thumbs hang off the hand (anatomical), unlike the
# InfoGCN reference which chains HandTip -> Thumb -> Hand.
_NTU_PARENTS = (
    1, -1, 20, 2,
    20, 4, 5, 6,
    20, 8, 9, 10,
    0, 12, 13, 14,
    0, 16, 17, 18,
    1, 7, 7, 11, 11,
)  # fmt: skip

NTU25 = Layout(
    name="ntu25",
    joints=_NTU_NAMES,
    parents=_NTU_PARENTS,
    center=1,
    parts={
        "head": (2, 3),
        "torso": (0, 1, 20),
        "left_arm": (4, 5),
        "left_hand": (6, 7, 21, 22),
        "right_arm": (8, 9),
        "right_hand": (10, 11, 23, 24),
        "left_leg": (12, 13),
        "left_foot": (14, 15),
        "right_leg": (16, 17),
        "right_foot": (18, 19),
    },
    left_right=((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19), (21, 23), (22, 24)),
    channels="xyz",
    hip_pair=(12, 16),
    shoulder_pair=(4, 8),
    spine_pair=(0, 20),
)

# ST-GCN's Kinetics-skeleton (OpenPose COCO-18): x, y and confidence as channels.
KINETICS18 = Layout(
    name="kinetics18",
    joints=(
        "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    ),
    parents=(1, -1, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 0, 0, 14, 15),
    center=1,
    parts={
        "head": (0, 14, 15, 16, 17),
        "torso": (1,),
        "right_arm": (2, 3),
        "right_hand": (4,),
        "left_arm": (5, 6),
        "left_hand": (7,),
        "right_leg": (8, 9),
        "right_foot": (10,),
        "left_leg": (11, 12),
        "left_foot": (13,),
    },
    left_right=((5, 2), (6, 3), (7, 4), (11, 8), (12, 9), (13, 10), (15, 14), (17, 16)),
    channels="xy+score",
    hip_pair=(11, 8),
    shoulder_pair=(5, 2),
    spine_pair=(1, 1),
)  # fmt: skip

# Source layouts of 15-joint OpenNI/NiTE datasets, in file order. Readers map them to NTU-25 with
# crossglg.skeleton.joint_maps; they are not model layouts, so LAYOUTS does not list them.
# KARD: head, neck, right arm, left arm, torso, right leg, left leg (the data README's order).
KARD15 = Layout(
    name="kard15",
    joints=(
        "Head", "Neck", "RightShoulder", "RightElbow", "RightHand", "LeftShoulder", "LeftElbow", "LeftHand",
        "Torso", "RightHip", "RightKnee", "RightFoot", "LeftHip", "LeftKnee", "LeftFoot",
    ),
    parents=(1, 8, 1, 2, 3, 1, 5, 6, -1, 8, 9, 10, 8, 12, 13),
    center=8,
    left_right=((5, 2), (6, 3), (7, 4), (12, 9), (13, 10), (14, 11)),
    hip_pair=(12, 9),
    shoulder_pair=(5, 2),
    spine_pair=(8, 1),
)  # fmt: skip

# Florence 3D: head, neck, spine, left arm, right arm, left leg, right leg (order verified on the
# data: see docs/datasets.md).
FLORENCE15 = Layout(
    name="florence15",
    joints=(
        "Head", "Neck", "Spine", "LeftShoulder", "LeftElbow", "LeftWrist", "RightShoulder", "RightElbow",
        "RightWrist", "LeftHip", "LeftKnee", "LeftAnkle", "RightHip", "RightKnee", "RightAnkle",
    ),
    parents=(1, 2, -1, 1, 3, 4, 1, 6, 7, 2, 9, 10, 2, 12, 13),
    center=2,
    left_right=((3, 6), (4, 7), (5, 8), (9, 12), (10, 13), (11, 14)),
    hip_pair=(9, 12),
    shoulder_pair=(3, 6),
    spine_pair=(2, 1),
)  # fmt: skip

# SBU Kinect Interaction (per person): the Florence order and tree with KARD's NiTE joint names
# (head, neck, torso, left arm, right arm, left leg, right leg; the data README's order, checked on
# the data: see docs/datasets.md), so KARD's copy table applies unchanged.
SBU15 = replace(
    FLORENCE15,
    name="sbu15",
    joints=(
        "Head", "Neck", "Torso", "LeftShoulder", "LeftElbow", "LeftHand", "RightShoulder", "RightElbow",
        "RightHand", "LeftHip", "LeftKnee", "LeftFoot", "RightHip", "RightKnee", "RightFoot",
    ),
)  # fmt: skip

LAYOUTS: dict[str, Layout] = {NTU25.name: NTU25, KINETICS18.name: KINETICS18}


def get_layout(name: str) -> Layout:
    """Look a layout up by name; raises ``ValueError`` listing the known names."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown skeleton layout {name!r}; known: {sorted(LAYOUTS)}") from None
