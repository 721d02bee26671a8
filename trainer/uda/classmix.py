"""ClassMix (spec: Self-training step 5).

Per source image: the classes present in its label (255 excluded), ceil(n/2) of them chosen at
random, mask = the source pixels of those classes. The mixed image, label and pixel weight take
the source where the mask is 1 and the target (pseudo-label, pseudo weight) elsewhere.

Reference quirks, deliberately not reproduced (the spec asks for the per-image rule): the
reference's ``get_class_masks`` draws the classes from ``torch.unique`` of the WHOLE batch's
labels, and that set includes the ignore label 255; the authors found it makes no difference.
"""

from __future__ import annotations

import torch


def class_mask(label: torch.Tensor, generator: torch.Generator, ignore_index: int = 255) -> torch.Tensor:
    """(H, W) float mask of ceil(n/2) classes drawn without replacement from the n in ``label``.

    The draw uses ``generator`` (a CPU generator owned by the caller) so a run replays exactly.
    """
    classes = torch.unique(label)
    classes = classes[classes != ignore_index]
    n = int(classes.numel())
    if n == 0:
        return torch.zeros(label.shape, dtype=torch.float32, device=label.device)
    order = torch.randperm(n, generator=generator)[: (n + 1) // 2]
    chosen = classes[order.to(classes.device)]
    return torch.isin(label, chosen).float()


def class_masks(labels: torch.Tensor, generator: torch.Generator, ignore_index: int = 255) -> torch.Tensor:
    """One mask per source image: (B, H, W) float."""
    return torch.stack([class_mask(label, generator, ignore_index) for label in labels])


def mix(mask: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mask * source + (1 - mask) * target``; ``mask`` (B, H, W) broadcasts over channels."""
    if source.dim() == 4:
        mask = mask.unsqueeze(1)
    if source.dtype in (torch.long, torch.int64, torch.int32, torch.uint8):
        return torch.where(mask.bool(), source, target)
    return mask * source + (1.0 - mask) * target
