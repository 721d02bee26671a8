"""Learning rate at an iteration: polynomial decay with linear warmup (spec: Optimisation).

mmcv's ``PolyLrUpdaterHook`` semantics, which the reference uses: the lr of iteration ``t``
(0-based, set before the step) is ``poly(t) = (base - min_lr) * (1 - t/T)^power + min_lr``; while
``t < warmup_iters`` the warmup factor ``1 - (1 - t/warmup_iters) * (1 - warmup_ratio)`` multiplies
it ("on top of the decay"). Each parameter group decays from its own base lr (head: 10x).

``min_lr`` is ABSOLUTE and the same for every group, as in mmcv (it is not scaled by the head's
lr multiplier). With the reference's ``poly10`` schedule (min_lr 1e-4, no warmup; the no-warmup
rows of Table 4) the encoder's lr therefore RISES from 6e-5 towards 1e-4 while the head's falls
from 6e-4 to 1e-4: a quirk, kept because it produced the published numbers.
"""

from __future__ import annotations

from torch.optim import Optimizer

from trainer.config import OptimConfig


def poly_lr(step: int, base_lr: float, total_iters: int, power: float = 1.0, min_lr: float = 0.0) -> float:
    """``(base_lr - min_lr) * (1 - step/total_iters)^power + min_lr``."""
    if total_iters <= 0:
        raise ValueError(f"total_iters must be positive, got {total_iters}")
    if not 0 <= step <= total_iters:
        raise ValueError(f"step must lie in [0, {total_iters}], got {step}")
    return (base_lr - min_lr) * (1.0 - step / total_iters) ** power + min_lr


def warmup_factor(step: int, warmup_iters: int, warmup_ratio: float) -> float:
    """Linear warmup factor: ``warmup_ratio`` at step 0 rising to 1 at ``warmup_iters`` (1 after)."""
    if warmup_iters <= 0 or step >= warmup_iters:
        return 1.0
    return 1.0 - (1.0 - step / warmup_iters) * (1.0 - warmup_ratio)


def lr_at(step: int, base_lr: float, total_iters: int, cfg: OptimConfig) -> float:
    """The lr of iteration ``step`` for a group whose base lr is ``base_lr`` under ``cfg``."""
    lr = poly_lr(step, base_lr, total_iters, cfg.poly_power, cfg.min_lr)
    if cfg.warmup:
        lr *= warmup_factor(step, cfg.warmup_iters, cfg.warmup_ratio)
    return lr


class PolyWarmupSchedule:
    """Sets every group's lr for an iteration from its ``initial_lr`` (stored once, at construction).

    Stateless apart from the base lrs (kept in the optimizer's groups, hence in its state_dict), so
    resuming only needs the iteration number.
    """

    def __init__(self, optimizer: Optimizer, cfg: OptimConfig, total_iters: int) -> None:
        self.optimizer, self.cfg, self.total_iters = optimizer, cfg, total_iters
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])

    def set_step(self, step: int) -> float:
        """Set the lrs of iteration ``step``; returns the lr of the first (encoder) group."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(step, group["initial_lr"], self.total_iters, self.cfg)
        return float(self.optimizer.param_groups[0]["lr"])
