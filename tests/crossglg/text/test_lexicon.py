"""Body-part lexicon -> k_gt: normalised, left/right aware, stillness and targets down-weighted."""

from __future__ import annotations

import numpy as np
import pytest

from crossglg.skeleton.layouts import NTU25
from crossglg.text.lexicon import FLOOR_MASS, joint_weights, k_gt, k_gt_matrix, name_side

J = {n: i for i, n in enumerate(NTU25.joints)}
LEFT = [J[n] for n in NTU25.joints if n.endswith("Left")]
RIGHT = [J[n] for n in NTU25.joints if n.endswith("Right")]


def side_mass(k: np.ndarray) -> tuple[float, float]:
    return float(k[LEFT].sum()), float(k[RIGHT].sum())


def test_k_gt_is_a_distribution_with_a_floor():
    k = k_gt("The right hand waves.", "right hand wave")
    assert k.shape == (25,) and k.dtype == np.float32
    assert k.sum() == pytest.approx(1.0, abs=1e-5)
    assert k.min() >= FLOOR_MASS / 25 - 1e-7
    assert k.min() > 0
    uniform = k_gt("Nothing about the body here.")
    np.testing.assert_allclose(uniform, np.full(25, 1 / 25), atol=1e-6)


@pytest.mark.parametrize("side", ["left", "right"])
def test_explicit_side_puts_weight_on_that_side(side):
    k = k_gt(f"The {side} arm lifts and the {side} hand opens.")
    left, right = side_mass(k)
    assert (left > 5 * right) if side == "left" else (right > 5 * left)
    assert np.argmax(k) in (LEFT if side == "left" else RIGHT)


def test_mirror_texts_give_mirrored_k_gt():
    a = k_gt("The left knee bends and the left foot kicks forward.", "kick with the left foot")
    b = k_gt("The right knee bends and the right foot kicks forward.", "kick with the right foot")
    np.testing.assert_allclose(a[NTU25.mirror_permutation()], b, atol=1e-6)


def test_unqualified_word_follows_class_name_else_both_sides():
    text = "The hand rises and the elbow bends."
    left, right = side_mass(k_gt(text, "right hand knock on door"))
    assert right > 5 * left
    left, right = side_mass(k_gt(text, "drink water"))
    assert left == pytest.approx(right, rel=1e-5)
    # "both hands" and "two arms" are symmetric
    left, right = side_mass(k_gt("Both hands clap in front; two arms swing.", "clapping"))
    assert left == pytest.approx(right, rel=1e-5)
    # "left and right" is both
    left, right = side_mass(k_gt("The left and right hands meet.", "meet"))
    assert left == pytest.approx(right, rel=1e-5)


def test_unqualified_word_follows_side_named_earlier_in_text():
    k = k_gt("The right arm swings up. Then the hand opens and the wrist turns.", "some action")
    left, right = side_mass(k)
    assert right > 5 * left


def test_direction_words_are_not_sides():
    assert name_side("right arm swipe to the left") == "R"
    assert name_side("elbow flexion left") == "L"
    assert name_side("bend the leg left or right") is None
    assert name_side("turn left") is None
    k = k_gt("The arm sweeps across to the left.", "right arm swipe to the left")
    left, right = side_mass(k)
    assert right > 5 * left


def test_other_hand_is_the_opposite_side_but_other_fingers_are_not():
    w = joint_weights("The right hand holds the cup and the other hand supports the base.")
    assert w[J["HandLeft"]] > 0 and w[J["HandRight"]] > 0
    w = joint_weights("The right hand makes a V with two fingers, the other fingers curled.")
    assert w[J["HandTipLeft"]] == 0 and w[J["HandTipRight"]] > 0


def test_still_parts_and_targets_weigh_less_than_moving_parts():
    moving = joint_weights("The legs bend.")[J["KneeLeft"]]
    still = joint_weights("The legs stay still.")[J["KneeLeft"]]
    assert 0 < still < moving / 2
    k = k_gt("Both hands rise to the mouth.", "drink")
    assert k[J["HandRight"]] > k[J["Head"]]
    # "back" as a direction is not the body part
    assert joint_weights("The head tilts back.")[J["SpineMid"]] == 0
    assert joint_weights("The back bends forward.")[J["SpineMid"]] > 0


def test_plurals_phrases_and_joint_names():
    w = joint_weights("Both knees and feet, the lower back and the left forearm; also HandTipRight.")
    for j in ("KneeLeft", "KneeRight", "FootLeft", "FootRight", "SpineBase", "WristLeft", "HandTipRight"):
        assert w[J[j]] > 0, j
    assert w[J["WristRight"]] == 0


def test_k_gt_matrix_shape():
    class C:
        def __init__(self, g: str, n: str) -> None:
            self.global_text, self.name = g, n

    m = k_gt_matrix([C("The right hand waves.", "wave"), C("The left foot taps.", "tap")])
    assert m.shape == (2, 25) and m.dtype == np.float32
    np.testing.assert_allclose(m.sum(1), 1.0, atol=1e-5)
    assert k_gt_matrix([]).shape == (0, 25)
