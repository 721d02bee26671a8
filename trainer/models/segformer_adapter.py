"""DAFormer's ``SegFormerAdapter`` neck: a parameter-free upsampling of the last encoder stage.

architectures.md, sfa_dlv3p_nodbn and daformer_sepaspp_bottleneck: the reference puts the last MiT
stage (1/32) back as the last feature, bilinearly upsampled by ``scale`` (4 -> 1/8 for the DeepLabV3+
head, 8 -> 1/4 for "context only at F4"), with ``scale_factor`` (not a target size) as mmseg does.
The heads that need it apply it first in their ``forward``; it holds no weights, so checkpoint
keys are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def adapt_last_stage(features: Sequence[torch.Tensor], scale: int) -> list[torch.Tensor]:
    """The feature list with its last map upsampled by ``scale``: (B, C, h, w) -> (B, C, h*s, w*s)."""
    last = F.interpolate(features[-1], scale_factor=scale, mode="bilinear", align_corners=False)
    return [*features[:-1], last]


def last_stage_after_neck(decoder: nn.Module, features: Sequence[torch.Tensor]) -> torch.Tensor:
    """The last feature map as the reference's ``extract_feat`` returns it, i.e. after the neck.

    FD reads this map: in the reference both the student's and the frozen ImageNet model's features
    pass through the neck before the distance, so for ``daformer_sepaspp_bottleneck`` (Table 7, with
    FD) it is taken at 1/4 after the x8 upsampling. A head declares its neck by ``neck_scale``.
    """
    scale = getattr(decoder, "neck_scale", None)
    return features[-1] if scale is None else adapt_last_stage(features, scale)[-1]
