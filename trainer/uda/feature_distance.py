"""Thing-Class ImageNet Feature Distance (spec: FD).

The source label is downscaled to the feature grid of the last encoder stage: one-hot with
"ignore" as an extra class, average-pooled with kernel = stride = the scale factor, the majority
class kept with its share; a cell is ignored (255) when its majority is "ignore" or its share is
below ``scale_min_ratio``. L_FD = mean over masked cells of the L2 norm over channels of
(student feature - frozen ImageNet feature), 0 when no cell is masked.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

IGNORE = 255


def downscale_label_ratio(
    label: torch.Tensor, scale_factor: int, min_ratio: float, num_classes: int, ignore_index: int = IGNORE
) -> torch.Tensor:
    """Majority-vote downscaling of (B, H, W) train ids to (B, H//s, W//s), 255 where unsure."""
    if scale_factor < 1:
        raise ValueError(f"scale_factor must be >= 1, got {scale_factor}")
    extra = num_classes  # "ignore" becomes one more class so that it can win the vote
    ids = torch.where(label == ignore_index, torch.full_like(label, extra), label)
    one_hot = F.one_hot(ids, num_classes + 1).permute(0, 3, 1, 2).float()  # (B, K+1, H, W)
    shares = F.avg_pool2d(one_hot, kernel_size=scale_factor, stride=scale_factor)
    ratio, majority = shares.max(dim=1)  # (B, h, w)
    unsure = (majority == extra) | (ratio < min_ratio)
    return torch.where(unsure, torch.full_like(majority, ignore_index), majority)


def fd_mask(small_label: torch.Tensor, classes: Sequence[int] | None) -> torch.Tensor | None:
    """Cells whose class is one of ``classes``; None (no mask) when ``classes`` is None ("all")."""
    if classes is None:
        return None
    wanted = torch.tensor(list(classes), device=small_label.device, dtype=small_label.dtype)
    return torch.isin(small_label, wanted)


def masked_feature_distance(
    student: torch.Tensor, frozen: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Mean over masked cells of ||student - frozen||_2 over channels; 0 when the mask is empty.

    ``student``/``frozen``: (B, C, h, w); ``mask``: (B, h, w) bool or None (every cell counts).
    """
    distance = torch.linalg.vector_norm(student.float() - frozen.float(), ord=2, dim=1)  # (B, h, w)
    if mask is None:
        return distance.mean()
    mask_f = mask.to(distance.dtype)
    # sum/count rather than distance[mask].mean(): same value, no data-dependent shape (no sync),
    # and 0 rather than NaN for an empty mask.
    return (distance * mask_f).sum() / mask_f.sum().clamp_min(1.0)


def feature_distance_loss(
    student_feat: torch.Tensor,
    frozen_feat: torch.Tensor,
    label: torch.Tensor,
    num_classes: int,
    classes: Sequence[int] | None,
    scale_min_ratio: float,
) -> torch.Tensor:
    """L_FD of the last stage for source labels (B, H, W); ``classes=None`` is "FD all classes".

    The scale factor is label width // feature width, as in the reference: 32 for MiT's last stage,
    8 for the dilated ResNets'. With ``classes=None`` there is no mask at all, the reference's "all
    classes" variant.
    """
    if classes is None:
        return masked_feature_distance(student_feat, frozen_feat, None)
    scale = label.shape[-1] // student_feat.shape[-1]
    small = downscale_label_ratio(label, scale, scale_min_ratio, num_classes)
    if small.shape[-2:] != student_feat.shape[-2:]:
        raise ValueError(
            f"FD: label {tuple(label.shape[-2:])} downscaled by {scale} gives {tuple(small.shape[-2:])}, "
            f"not the feature grid {tuple(student_feat.shape[-2:])}; use a crop size divisible by the "
            "encoder's last stride (32 for MiT, 8 for ResNet-V1c/ResNeSt)"
        )
    return masked_feature_distance(student_feat, frozen_feat, fd_mask(small, classes))


def fd_mask_stats(
    label: torch.Tensor, feature_hw: tuple[int, int], num_classes: int, classes: Sequence[int], scale_min_ratio: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Diagnostic of the thing mask FD would use: (share of masked cells, 1.0 if the batch has none).

    Same downscaling and mask as ``feature_distance_loss`` (recomputed here, so that the loss path stays
    exactly as it is); an empty mask makes L_FD exactly 0, the reason this is logged (``fd_mask_empty``).
    """
    scale = label.shape[-1] // feature_hw[1]
    small = downscale_label_ratio(label, scale, scale_min_ratio, num_classes)
    mask = fd_mask(small, classes)
    assert mask is not None  # classes is a sequence
    share = mask.float().mean()
    return share, (share == 0).float()
