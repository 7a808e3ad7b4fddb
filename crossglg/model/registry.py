"""Encoder registry and the interface every skeleton encoder implements (plug-and-play).

An encoder is an ``nn.Module`` subclassing :class:`SkeletonEncoder`:

* ``stem(x)``: ``(N, C, T, V, M)`` -> ``(N*M, C0, T, V)`` (bodies folded into the batch, n-major);
* ``blocks``: an ``nn.ModuleList``; ``block(h, joint_weight)`` maps ``(N*M, C_i, T_i, V)`` ->
  ``(N*M, C_{i+1}, T_{i+1}, V)``. ``joint_weight`` is ``None`` or ``(N*M, V)``; when given, the block
  multiplies its features by it right after the spatial (graph) interaction, which is where the
  Joint Importance Discriminator's k_out acts;
* ``block_channels``: output channels of each block; ``out_channels`` = the last one.

The CrossGLG guidance only talks to this interface, so it works with any registered encoder.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from crossglg.skeleton.layouts import Layout


class SkeletonEncoder(nn.Module):
    """Base class of encoders (see module docstring for the contract)."""

    blocks: nn.ModuleList
    block_channels: tuple[int, ...]

    def __init__(self, layout: Layout, in_channels: int, max_bodies: int) -> None:
        super().__init__()
        self.layout = layout
        self.num_joints = layout.num_joints
        self.in_channels = in_channels
        self.max_bodies = max_bodies

    @property
    def out_channels(self) -> int:
        return self.block_channels[-1]

    def stem(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Plain encoding without guidance: ``(N, C, T, V, M)`` -> ``(N*M, C_out, T', V)``."""
        h = self.stem(x)
        for blk in self.blocks:
            h = blk(h, None)
        return h


_ENCODERS: dict[str, Callable[..., SkeletonEncoder]] = {}


def register_encoder(name: str) -> Callable[[type[SkeletonEncoder]], type[SkeletonEncoder]]:
    """Class decorator: make an encoder buildable by ``build_encoder(name, ...)``."""

    def deco(cls: type[SkeletonEncoder]) -> type[SkeletonEncoder]:
        if name in _ENCODERS:
            raise ValueError(f"encoder {name!r} is already registered")
        _ENCODERS[name] = cls
        return cls

    return deco


def available_encoders() -> list[str]:
    return sorted(_ENCODERS)


def build_encoder(name: str, *, layout: Layout, in_channels: int = 3, max_bodies: int = 1, **kwargs) -> SkeletonEncoder:
    """Build a registered encoder; raises ``ValueError`` listing the known names."""
    # importing the implementations registers them (kept here so registry users need one import)
    from . import infogcn, stgcn  # noqa: F401

    try:
        cls = _ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; known: {available_encoders()}") from None
    return cls(layout=layout, in_channels=in_channels, max_bodies=max_bodies, **kwargs)
