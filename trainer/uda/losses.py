"""Pixel-wise cross-entropy as mmseg computes it (spec: Self-training steps 2 and 7).

Logits at the head's stride (4, or 8 for a DeepLabV2 head on a dilated ResNet) are upsampled
bilinearly (align_corners=False) from their actual shape to the label's size; the loss
is ``F.cross_entropy(..., ignore_index=255, reduction="none")`` multiplied by the optional pixel
weight and averaged over ALL pixels: ignored pixels add 0 to the sum but count in the denominator
(mmseg 0.16's ``CrossEntropyLoss`` has no ``avg_non_ignore``).

A head with auxiliary classifiers (DANet) returns ``LogitsWithAux`` in training; ``decode_cross_entropy``
then adds ``weight_i * CE(aux_i)`` with the same label and pixel weight, as mmseg's ``DAHead.losses``
does. For a plain tensor it is exactly ``pixel_cross_entropy``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainer.models.head_outputs import HeadOutput, LogitsWithAux

IGNORE = 255


def upsample_logits(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear (align_corners=False) resize of (B, K, h, w) logits to ``size``; float32 out."""
    logits = logits.float()
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def pixel_cross_entropy(
    logits: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over all B*H*W pixels of ``weight * CE`` (ignored pixels 0); ``label`` (B, H, W) long."""
    full = upsample_logits(logits, (label.shape[-2], label.shape[-1]))
    loss = F.cross_entropy(full, label, ignore_index=IGNORE, reduction="none")  # (B, H, W)
    if weight is not None:
        loss = loss * weight
    return loss.mean()


def decode_cross_entropy(output: HeadOutput, label: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """``pixel_cross_entropy`` of the main logits plus each auxiliary classifier's, times its weight."""
    if not isinstance(output, LogitsWithAux):
        return pixel_cross_entropy(output, label, weight)
    loss = pixel_cross_entropy(output.logits, label, weight)
    for aux, aux_weight in zip(output.aux_logits, output.aux_weights, strict=True):
        loss = loss + aux_weight * pixel_cross_entropy(aux, label, weight)
    return loss
