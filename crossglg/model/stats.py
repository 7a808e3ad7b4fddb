"""Model size and cost figures: parameter counts and FLOPs per window.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add of
matmuls and convolutions; element-wise ops are not counted) on one window ``(1, C, T, V, M)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors counted once)."""
    seen: set[int] = set()
    total = 0
    for p in module.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


@torch.no_grad()
def count_flops(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one eval-mode forward on a zero-mean random input of ``input_shape``."""
    was_training = module.training
    module.eval()
    try:
        x = torch.randn(*input_shape)
        with FlopCounterMode(display=False) as counter:
            module(x)
        return int(counter.get_total_flops())
    finally:
        module.train(was_training)
