"""What a decoder head returns, and how the losses read it (docs/CONTRACTS.md, trainer.models).

Every head returns its main logits as one tensor (B, K, h, w). A head with auxiliary classifiers
(DANet's ``pam_conv_seg`` and ``cam_conv_seg``) returns, in training mode only, ``LogitsWithAux``:
the main logits plus the auxiliary logits and the weight of each one's loss, so the UDA step adds
``weight * CE(aux)`` to the main cross-entropy the way mmseg's ``DAHead.losses`` does. Evaluation
(eval mode) always sees a plain tensor; the teacher (train mode, dropout off) reads ``main_logits``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class LogitsWithAux(NamedTuple):
    """Main logits and the auxiliary classifiers' logits (same shape), with their loss weights."""

    logits: torch.Tensor
    aux_logits: tuple[torch.Tensor, ...]
    aux_weights: tuple[float, ...]


HeadOutput = torch.Tensor | LogitsWithAux
"""A decoder's forward output: a tensor, or ``LogitsWithAux`` for a training-mode head with aux classifiers."""


def main_logits(output: HeadOutput) -> torch.Tensor:
    """The logits the segmentor predicts with (the tensor itself, or ``LogitsWithAux.logits``)."""
    return output.logits if isinstance(output, LogitsWithAux) else output
