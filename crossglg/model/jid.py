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
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class JointImportanceDiscriminator(nn.Module):
    """``(N*M, C, T, V)`` -> ``k_out (N, V)``, rows summing to 1."""

    def __init__(self, in_channels: int, num_joints: int, hidden: int = 32) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.fc1 = nn.Linear(in_channels * num_joints, hidden)
        self.fc2 = nn.Linear(hidden, num_joints)

    def forward(self, h: torch.Tensor, bodies: int) -> torch.Tensor:
        nm, c, _, v = h.shape
        pooled = h.mean(2).reshape(nm // bodies, bodies, c * v).mean(1)  # (N, C*V), channel-major
        return torch.softmax(self.fc2(F.relu(self.fc1(pooled))), dim=-1)


def joint_weights(k_out: torch.Tensor, bodies: int, mix: float = 1.0) -> torch.Tensor:
    """``k_out (N, V)`` -> per-body multiplicative weights ``(N*M, V)`` with mean 1 over joints,
    each at least ``1 - mix``."""
    n, v = k_out.shape
    w = k_out * v if mix == 1.0 else (1.0 - mix) + mix * v * k_out
    return w[:, None, :].expand(n, bodies, v).reshape(n * bodies, v)
