"""HRDA's head losses (spec: hrda.md, "Losses"), used for the source, mixed and MIC passes.

L = (1 - lambda_d - lambda_c) * CE(fused) + lambda_d * CE(detail) + lambda_c * CE(context):
the fused logits are upsampled to the whole label; the detail logits to the detail box, against the
label AND the pixel weight cropped with the same box; the optional context term (0 in HRDA) sees
the attention-weighted context logits the reference's head returns. Each CE is the mean over all
pixels of its label (ignored pixels count with zero loss), as in ``pixel_cross_entropy``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trainer.models.hrda import Box, HRDAOutput
from trainer.uda.losses import pixel_cross_entropy


@dataclass(frozen=True)
class HRDALoss:
    """The three weighted terms; ``fused`` alone is what MIC's ``mask_lambda`` scales (reference quirk)."""

    fused: torch.Tensor
    detail: torch.Tensor
    context: torch.Tensor

    def total(self, fused_lambda: float = 1.0) -> torch.Tensor:
        return fused_lambda * self.fused + self.detail + self.context


def crop_box(tensor: torch.Tensor, box: Box) -> torch.Tensor:
    """The (..., H, W) tensor cut to ``box`` = (y1, y2, x1, x2)."""
    return tensor[..., box[0] : box[1], box[2] : box[3]]


def hrda_loss(
    out: HRDAOutput,
    label: torch.Tensor,
    weight: torch.Tensor | None,
    hr_loss_weight: float,
    lr_loss_weight: float = 0.0,
) -> HRDALoss:
    """Weighted fused, detail and context CE for labels (B, H, W) and optional weights (B, H, W)."""
    fused = (1.0 - hr_loss_weight - lr_loss_weight) * pixel_cross_entropy(out.fused, label, weight)
    zero = fused.new_zeros(())
    detail = zero
    if hr_loss_weight > 0:
        detail_weight = None if weight is None else crop_box(weight, out.box)
        detail = hr_loss_weight * pixel_cross_entropy(out.detail, crop_box(label, out.box), detail_weight)
    context = zero
    if lr_loss_weight > 0:
        context = lr_loss_weight * pixel_cross_entropy(out.context, label, weight)
    return HRDALoss(fused, detail, context)
