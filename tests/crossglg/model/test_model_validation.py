"""Bad model input: a clear ValueError naming what was expected, before any computation."""

from __future__ import annotations

import math

import pytest
import torch

from crossglg.model import CrossGLGModel, ModelConfig, SkeletonBranch


@pytest.fixture(scope="module")
def branch() -> SkeletonBranch:
    torch.manual_seed(0)
    return SkeletonBranch(ModelConfig(num_classes=5, frames=8, max_bodies=2)).eval()


@pytest.mark.parametrize(
    "shape,message",
    [
        ((3, 8, 25, 2), r"expected rank 5 \(N, 3, T, 25, 2\), got rank 4"),
        ((1, 1, 3, 8, 25, 2), r"expected rank 5 .* got rank 6"),
        ((2, 2, 8, 25, 2), r"expected C=3 channels"),
        ((2, 3, 8, 18, 2), r"expected V=25 joints \(ntu25\).*got 18"),
        ((2, 3, 8, 25, 1), r"expected M=2 bodies.*got 1"),
        ((0, 3, 8, 25, 2), r"empty batch"),
    ],
)
def test_wrong_shapes(branch: SkeletonBranch, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        branch(torch.zeros(shape))


@pytest.mark.parametrize("value,name", [(math.nan, "NaN"), (math.inf, "inf"), (-math.inf, "inf")])
def test_non_finite_values(branch: SkeletonBranch, value: float, name: str) -> None:
    x = torch.zeros(2, 3, 8, 25, 2)
    x[1, 2, 5, 7, 0] = value
    with pytest.raises(ValueError, match=f"contains {name}; expected finite values"):
        branch(x)


def test_checks_run_before_any_computation(branch: SkeletonBranch) -> None:
    calls = []
    handle = branch.encoder.register_forward_pre_hook(lambda *a: calls.append(1))
    stem = branch.encoder.stem
    branch.encoder.stem = lambda x: calls.append(1) or stem(x)  # type: ignore[method-assign]
    try:
        with pytest.raises(ValueError):
            branch(torch.full((1, 3, 8, 25, 2), math.nan))
        with pytest.raises(ValueError):
            branch.features(torch.zeros(1, 3, 8, 25))
    finally:
        handle.remove()
        del branch.encoder.stem
    assert calls == []


def test_non_tensor_and_integer_inputs(branch: SkeletonBranch) -> None:
    with pytest.raises(ValueError, match="expected a torch.Tensor"):
        branch([[0.0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="floating-point"):
        branch(torch.zeros(1, 3, 8, 25, 2, dtype=torch.int64))


def test_training_model_validates_too_and_other_layouts_work() -> None:
    model = CrossGLGModel(ModelConfig(num_classes=4, frames=8, layout="kinetics18", g2l=False, l2g=False)).eval()
    with pytest.raises(ValueError, match=r"expected V=18 joints \(kinetics18\)"):
        model(torch.zeros(1, 3, 8, 25, 1))
    assert model(torch.zeros(1, 3, 8, 18, 1)).logits.shape == (1, 4)
    with pytest.raises(ValueError, match="unknown skeleton layout"):
        ModelConfig(layout="coco17")
