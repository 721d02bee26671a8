"""Teacher pseudo-labels and their weight (spec: Self-training step 4).

Label = argmax of the teacher's softmax, confidence = its max. The weight is ONE scalar per
iteration: the fraction of pixels of the whole target batch whose confidence >= the threshold,
broadcast to every pixel; with the "PL crop" the top ``crop_top`` and bottom ``crop_bottom`` rows
of every crop get weight 0. Everything stays on the device (no ``.item()``, no host sync).
"""

from __future__ import annotations

import torch


def pseudo_labels(logits: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels (B, H, W) long and the batch weight (0-dim float tensor) from logits (B, K, H, W)."""
    probs = torch.softmax(logits.detach().float(), dim=1)
    confidence, label = probs.max(dim=1)  # (B, H, W) each
    weight = (confidence >= threshold).float().mean()
    return label, weight


def pixel_weight(
    weight: torch.Tensor, shape: tuple[int, int, int], crop_top: int, crop_bottom: int
) -> torch.Tensor:
    """The scalar ``weight`` broadcast to (B, H, W), zero on the top/bottom rows of the PL crop."""
    batch, height, width = shape
    out = weight.to(torch.float32).expand(batch, height, width).clone()
    if crop_top > 0:
        out[:, :crop_top, :] = 0.0
    if crop_bottom > 0:
        out[:, max(height - crop_bottom, 0) :, :] = 0.0
    return out
