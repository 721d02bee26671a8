"""Optimiser and learning-rate schedule of DAFormer (spec: Optimisation)."""

from trainer.optim.optimizer import build_optimizer, param_groups
from trainer.optim.schedule import PolyWarmupSchedule, lr_at, poly_lr, warmup_factor

__all__ = ["PolyWarmupSchedule", "build_optimizer", "lr_at", "param_groups", "poly_lr", "warmup_factor"]
