"""Learning-rate schedule: linear warm-up then step decay, scaled to the run's length.

The paper trains 110 epochs with a 5-epoch warm-up and x0.1 steps at epochs 90 and 100. A shorter
run keeps the same shape: warm-up and milestones are scaled by ``epochs / reference_epochs``. The
schedule is evaluated per iteration at a fractional epoch, so a 0.5-epoch warm-up still ramps.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import OptimConfig


@dataclass(frozen=True)
class StepSchedule:
    """lr(epoch) for a fractional epoch in ``[0, epochs)``.

    Attributes:
        base_lr: peak learning rate after warm-up.
        warmup: warm-up length in (fractional) epochs; lr ramps linearly from base_lr/warmup-steps.
        milestones: epochs at which the lr is multiplied by ``gamma``.
        gamma: decay factor per milestone.
    """

    base_lr: float
    warmup: float
    milestones: tuple[float, ...]
    gamma: float

    def lr(self, epoch: float) -> float:
        if self.warmup > 0 and epoch < self.warmup:
            # start above zero so the first step already moves the weights
            return self.base_lr * max(epoch, 1e-3 * self.warmup) / self.warmup
        passed = sum(1 for m in self.milestones if epoch >= m)
        return self.base_lr * (self.gamma**passed)


def make_schedule(cfg: OptimConfig) -> StepSchedule:
    """Scale the paper's warm-up and milestones (given for ``reference_epochs``) to ``cfg.epochs``."""
    scale = cfg.epochs / cfg.reference_epochs
    return StepSchedule(
        base_lr=cfg.lr,
        warmup=cfg.warmup_epochs * scale,
        milestones=tuple(m * scale for m in cfg.milestones),
        gamma=cfg.gamma,
    )


def set_lr(optimizer, lr: float) -> None:  # noqa: ANN001 - torch optimizer, kept untyped to stay torch-free
    """Write ``lr`` into every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
