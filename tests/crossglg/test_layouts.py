"""Layouts as data: NTU-25 and Kinetics-18 are consistent trees with sensible groups."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from shared_helpers import run_python

from crossglg.skeleton.layouts import KINETICS18, LAYOUTS, NTU25, Layout, get_layout

ROOT = Path(__file__).resolve().parents[2]


def _side(name: str) -> str | None:
    lower = name.lower()
    if "left" in lower or (name[0] == "L" and name[1].isupper()):
        return "L"
    if "right" in lower or (name[0] == "R" and name[1].isupper()):
        return "R"
    return None


@pytest.mark.parametrize("layout", [NTU25, KINETICS18], ids=lambda lay: lay.name)
def test_layout_is_a_rooted_tree(layout: Layout) -> None:
    v = layout.num_joints
    assert len(set(layout.joints)) == v
    assert layout.parents[layout.center] == -1
    assert sum(p == -1 for p in layout.parents) == 1
    assert len(layout.edges) == v - 1
    # every edge is (child, parent) with parent one step closer to the root
    for child, parent in layout.edges:
        assert layout.parents[child] == parent


@pytest.mark.parametrize("layout", [NTU25, KINETICS18], ids=lambda lay: lay.name)
def test_parts_partition_the_joints(layout: Layout) -> None:
    joints = [j for part in layout.parts.values() for j in part]
    assert sorted(joints) == list(range(layout.num_joints))


@pytest.mark.parametrize("layout", [NTU25, KINETICS18], ids=lambda lay: lay.name)
def test_left_right_pairs_name_the_right_sides(layout: Layout) -> None:
    sided = {j for j, name in enumerate(layout.joints) if _side(name)}
    paired = {j for pair in layout.left_right for j in pair}
    assert paired == sided, "every sided joint has exactly one mirror partner"
    for left, right in layout.left_right:
        assert _side(layout.joints[left]) == "L" and _side(layout.joints[right]) == "R"
    for left, right in (layout.hip_pair, layout.shoulder_pair):
        assert _side(layout.joints[left]) == "L" and _side(layout.joints[right]) == "R"
    # mirror parts too: left_arm <-> right_arm
    perm = layout.mirror_permutation()
    for name, idx in layout.parts.items():
        if name.startswith("left_"):
            assert sorted(perm[list(idx)]) == sorted(layout.parts["right_" + name[5:]])


@pytest.mark.parametrize("layout", [NTU25, KINETICS18], ids=lambda lay: lay.name)
def test_mirror_permutation_is_an_involution_that_respects_bones(layout: Layout) -> None:
    perm = layout.mirror_permutation()
    assert sorted(perm) == list(range(layout.num_joints))
    np.testing.assert_array_equal(perm[perm], np.arange(layout.num_joints))
    assert (perm != np.arange(layout.num_joints)).sum() == 2 * len(layout.left_right)
    edges = set(layout.edges)
    assert {(int(perm[c]), int(perm[p])) for c, p in edges} == edges


def test_ntu25_matches_the_documented_joint_order() -> None:
    # data/README.md: 1 SpineBase, 2 SpineMid, 3 Neck, 4 Head, ..., 21 SpineShoulder, ..., 25 ThumbRight
    assert NTU25.num_joints == 25
    assert NTU25.joints[0] == "SpineBase" and NTU25.joints[20] == "SpineShoulder"
    assert NTU25.joints[4] == "ShoulderLeft" and NTU25.joints[8] == "ShoulderRight"
    assert NTU25.joints[24] == "ThumbRight"
    assert NTU25.joints[NTU25.center] == "SpineMid"
    name = dict(enumerate(NTU25.joints))
    parent = {name[c]: name[p] for c, p in NTU25.edges}
    assert parent["Head"] == "Neck" and parent["Neck"] == "SpineShoulder"
    assert parent["WristRight"] == "ElbowRight" and parent["KneeLeft"] == "HipLeft"
    assert parent["HandTipLeft"] == "HandLeft" and parent["ThumbRight"] == "HandRight"
    assert NTU25.joints[NTU25.spine_pair[0]] == "SpineBase"
    assert NTU25.joints[NTU25.spine_pair[1]] == "SpineShoulder"


def test_adjacency_gives_joint_minus_parent() -> None:
    a = NTU25.adjacency()
    assert a.shape == (25, 25) and a.dtype == np.float32
    assert a.sum() == 24 and (a.sum(axis=1) <= 1).all()
    x = np.random.default_rng(0).normal(size=(25, 3)).astype(np.float32)
    rel = (np.eye(25, dtype=np.float32) - a) @ x
    for c, p in NTU25.edges:
        np.testing.assert_allclose(rel[c], x[c] - x[p], atol=1e-6)
    np.testing.assert_allclose(rel[NTU25.center], x[NTU25.center])


def test_index_and_registry() -> None:
    assert NTU25.index("Head") == 3
    with pytest.raises(ValueError, match="unknown joint"):
        NTU25.index("Tail")
    assert get_layout("ntu25") is NTU25 and get_layout("kinetics18") is KINETICS18
    assert set(LAYOUTS) >= {"ntu25", "kinetics18"}
    with pytest.raises(ValueError, match="known"):
        get_layout("coco17")
    assert KINETICS18.channels == "xy+score" and NTU25.channels == "xyz"


def test_layout_is_frozen_and_validated() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        NTU25.center = 0  # type: ignore[misc]
    with pytest.raises(ValueError, match="parents"):
        Layout(name="bad", joints=("a", "b"), parents=(-1,), center=0)
    with pytest.raises(ValueError, match="parent -1"):
        Layout(name="bad", joints=("a", "b"), parents=(1, -1), center=0)
    with pytest.raises(ValueError, match="invalid parent"):
        Layout(name="bad", joints=("a", "b"), parents=(-1, 5), center=0)
    with pytest.raises(ValueError, match="cycle"):
        Layout(name="bad", joints=("a", "b", "c"), parents=(-1, 2, 1), center=0)


_IMPORT_CORE = r"""
import importlib, pkgutil, sys
import crossglg
names = ["crossglg"]
for info in pkgutil.walk_packages(crossglg.__path__, "crossglg."):
    if info.name.startswith(("crossglg.model", "crossglg.text")):
        continue
    importlib.import_module(info.name)
    names.append(info.name)
assert "torch" not in sys.modules and "transformers" not in sys.modules
print("\n".join(names))
"""


def test_core_imports_without_torch() -> None:
    """The numpy core (everything but crossglg.model and crossglg.text) must not need torch, nor the
    packages layered on top of it."""
    proc = run_python(_IMPORT_CORE, block=("torch", "transformers", "train", "edge", "calib"))
    assert proc.returncode == 0, proc.stderr
    imported = proc.stdout.split()
    assert {"crossglg.preprocess", "crossglg.skeleton.layouts", "crossglg.skeleton.mappings",
            "crossglg.datasets.scan"} <= set(imported)
