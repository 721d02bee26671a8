"""MIC's block mask generator (spec: mic.md, "Mask generator").

Per image, a grid of round(H/b) x round(W/b) cells; each cell is KEPT when its uniform draw
exceeds the mask ratio r (so it is dropped with probability r, and the dropped share is r only in
expectation). The grid is upsampled to H x W by nearest interpolation and multiplies all three
channels, so a masked pixel becomes 0 in normalised space, i.e. the ImageNet mean colour.
Draws come from the caller's CPU generator, one (gh, gw) grid per image, so a run replays exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def block_mask(
    shape: tuple[int, int, int], block_size: int, ratio: float, generator: torch.Generator
) -> torch.Tensor:
    """A (B, 1, H, W) float mask of 0/1 blocks for ``shape`` = (B, H, W); 1 = kept."""
    if block_size <= 0 or not 0.0 <= ratio <= 1.0:
        raise ValueError(f"block_size must be positive and ratio in [0, 1], got {block_size} and {ratio}")
    batch, height, width = shape
    grid = (max(round(height / block_size), 1), max(round(width / block_size), 1))
    draws = torch.rand((batch, 1, *grid), generator=generator)  # (B, 1, gh, gw)
    keep = (draws > ratio).float()
    return F.interpolate(keep, size=(height, width), mode="nearest")


def mask_images(
    images: torch.Tensor, block_size: int, ratio: float, generator: torch.Generator
) -> torch.Tensor:
    """Normalised images (B, 3, H, W) with dropped blocks set to exactly 0; a new mask per image."""
    batch, _, height, width = images.shape
    mask = block_mask((batch, height, width), block_size, ratio, generator).to(images.device)
    return images * mask.to(images.dtype)
