"""Fixtures for the model tests: tiny inputs and BatchNorm statistics like a trained model's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch


def _calibrate(model: torch.nn.Module, shape: tuple[int, ...], batches: int = 2) -> torch.nn.Module:
    """Run a few train-mode batches (cumulative BN averages) so eval activations are O(1).

    A fresh model has running mean 0 / var 1 everywhere, and its eval activations grow to ~1e4,
    where float32 rounding alone exceeds 1e-4; trained models do not look like that.
    """
    for mod in model.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.momentum = None
            mod.reset_running_stats()
    model.train()
    gen = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(*shape, generator=gen))
    return model.eval()


@pytest.fixture(scope="session")
def calibrate_bn() -> Callable[..., torch.nn.Module]:
    return _calibrate


@pytest.fixture(autouse=True)
def _seed_threads_denormals():
    """Deterministic seed, one thread (the CI box is shared), subnormals flushed (the reference's
    untrained attention produces many, which makes eager CPU kernels crawl)."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)
    torch.set_num_threads(threads)
