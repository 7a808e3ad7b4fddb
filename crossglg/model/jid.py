"""Joint Importance Discriminator (CrossGLG global-to-local guidance).

Takes the features after the first ``n_pre`` encoder blocks ``(N*M, C, T, V)``, pools them over
time and bodies to ``(N, C, V)``, and predicts ``k_out`` ``(N, V)``: a distribution over joints
(softmax over V) from two linear layers on the flattened ``C * V`` features (the importance of a
joint depends on the whole body, so the MLP sees all joints). ``L_calibrate = MSE(k_out, k_gt)``.

The later blocks multiply their post-graph features by ``1 - mix + mix * V * k_out``
(:func:`joint_weights`): a uniform k_out is the identity (feature scale does not shrink by 1/V), and
with ``mix < 1`` no joint is ever silenced. Measured on the real-data protocol with the bare
``V * k_out`` (mix 1) and a mean-reduced MSE: k_out collapsed onto one joint (max 0.997) although
the text's k_gt rows peak at 0.08-0.44, because MSE averaged over 25 small entries gives the
calibration loss almost no pull against the classifier. Hence the calibration loss sums the squared
error over the joints (:func:`crossglg.model.losses.calibrate_loss`) and the weights are mixed.

Version 2 (``ModelConfig.jid_version``) layer-normalises the pooled features (no affine
parameters, so the fused export's joint-major order of them changes nothing) and uses LeakyReLU.
Measured with version 1 in the benchmark ablation (10 epochs, bench-heldout): in CrossGLG seed 0
all 32 hidden ReLU units were negative for every window (pre-activation max -0.6), so k_out was
softmax(fc2.bias) whatever the input (window spread 0.000 in ``tools/joint_importance.py``); in
+G2L seed 1 one unit was alive, at pre-activations up to ~140. Raw pooled features that large let
one step push a unit below zero for all inputs, after which a ReLU passes no gradient; normalised
inputs keep the steps small and the leaky slope keeps a silenced unit learning.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.1


def jid_mlp(pooled: torch.Tensor, fc1: nn.Linear, fc2: nn.Linear, version: int) -> torch.Tensor:
    """Pooled features ``(N, C*V)`` (any fixed order of the C*V entries) -> ``k_out (N, V)``.

    Shared by the training module and the fused export, so both compute the same function.
    """
    if version == 1:
        return torch.softmax(fc2(F.relu(fc1(pooled))), dim=-1)
    # the layer norm has no affine parameters, so it is blind to the order of the C*V entries
    normed = F.layer_norm(pooled, pooled.shape[-1:])
    return torch.softmax(fc2(F.leaky_relu(fc1(normed), LEAKY_SLOPE)), dim=-1)


class JointImportanceDiscriminator(nn.Module):
    """``(N*M, C, T, V)`` -> ``k_out (N, V)``, rows summing to 1."""

    def __init__(self, in_channels: int, num_joints: int, hidden: int = 32, version: int = 2) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.version = version
        self.fc1 = nn.Linear(in_channels * num_joints, hidden)
        self.fc2 = nn.Linear(hidden, num_joints)

    def forward(self, h: torch.Tensor, bodies: int) -> torch.Tensor:
        nm, c, _, v = h.shape
        pooled = h.mean(2).reshape(nm // bodies, bodies, c * v).mean(1)  # (N, C*V), channel-major
        return jid_mlp(pooled, self.fc1, self.fc2, self.version)


def joint_weights(k_out: torch.Tensor, bodies: int, mix: float = 1.0) -> torch.Tensor:
    """``k_out (N, V)`` -> per-body multiplicative weights ``(N*M, V)`` with mean 1 over joints,
    each at least ``1 - mix``."""
    n, v = k_out.shape
    w = k_out * v if mix == 1.0 else (1.0 - mix) + mix * v * k_out
    return w[:, None, :].expand(n, bodies, v).reshape(n * bodies, v)
