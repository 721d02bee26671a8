"""The mean teacher (spec: Self-training step 1).

Iteration 0 copies the student's parameters into the teacher; iteration i >= 1, before any forward
pass, blends them with ``a(i) = min(1 - 1/(i+1), alpha)``. As in the reference (``_update_ema``
loops over ``parameters()``), only parameters are averaged: buffers are not.

Teacher mode, as in the reference: the teacher module stays in training mode with only its
Dropout and DropPath layers switched off, so its BatchNorms normalise with the statistics of the
target batch. Its running statistics are therefore never used for pseudo-labels; they drift with
the teacher's own forward passes (as the reference's do) and are saved with it for exact resume.
Eval-mode BN would be wrong here: unaveraged running stats would stay at their initial values.
"""

from __future__ import annotations

import torch
from timm.layers import DropPath
from torch import nn


def ema_factor(iteration: int, alpha: float) -> float:
    """``a(i) = min(1 - 1/(i+1), alpha)``: 0 at i=0 (a plain copy), 0.5 at i=1, then up to alpha."""
    if iteration < 0:
        raise ValueError(f"iteration must be >= 0, got {iteration}")
    return min(1.0 - 1.0 / (iteration + 1), alpha)


@torch.no_grad()
def copy_parameters(teacher: nn.Module, student: nn.Module) -> None:
    """Iteration 0: teacher parameters := student parameters (buffers untouched)."""
    for t, s in zip(teacher.parameters(), student.parameters(), strict=True):
        t.copy_(s)


@torch.no_grad()
def update_teacher(teacher: nn.Module, student: nn.Module, iteration: int, alpha: float) -> None:
    """``teacher = a * teacher + (1 - a) * student`` over parameters, ``a = ema_factor(iteration, alpha)``."""
    if iteration == 0:
        copy_parameters(teacher, student)
        return
    a = ema_factor(iteration, alpha)
    t_params: list[torch.Tensor] = list(teacher.parameters())
    s_params: list[torch.Tensor] = [p.detach() for p in student.parameters()]
    # a*t + (1-a)*s, in the reference's operation order (two products, one sum)
    torch._foreach_mul_(t_params, a)
    torch._foreach_add_(t_params, s_params, alpha=1.0 - a)


def set_teacher_mode(teacher: nn.Module) -> None:
    """Training mode except Dropout and DropPath (the reference's pseudo-label forward)."""
    teacher.train()
    for module in teacher.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd | DropPath):
            module.train(False)
