"""UPerNet's decoder (mmseg ``UPerHead``): ``upernet`` (C=512) and ``upernet_ch256`` (C=256), Table 7.

architectures.md, Decoders. Pyramid pooling on stage 4 (adaptive average pools 1, 2, 3, 6, each a
1x1 ConvModule, bilinearly upsampled and concatenated with the input, 3x3 ConvModule to C); 1x1
lateral ConvModules on stages 1-3; top-down: each level += the upsampled level above; a 3x3
ConvModule per level 1-3; all four upsampled to stage 1 and concatenated (4C), a 3x3 ConvModule to C,
dropout, ``conv_seg``. BN everywhere. With MiT-B5 widths and 19 classes: 29,644,307 parameters
(C=512), 8,334,099 (C=256). Keys: ``psp_modules.{i}.1``, ``bottleneck``, ``lateral_convs.{i}``,
``fpn_convs.{i}``, ``fpn_bottleneck``, ``conv_seg``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainer.models.head_layers import ConvModule, init_classifier, resize


class PPM(nn.ModuleList):
    """Pooling pyramid: for each scale s, AdaptiveAvgPool2d(s) -> 1x1 ConvModule -> resize to the input."""

    def __init__(self, pool_scales: Sequence[int], in_channels: int, channels: int) -> None:
        super().__init__(
            nn.Sequential(nn.AdaptiveAvgPool2d(scale), ConvModule(in_channels, channels, 1)) for scale in pool_scales
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [resize(pool(x), x.shape[2:]) for pool in self]


class UPerHead(nn.Module):
    """PPM on stage 4 + FPN over stages 1-3, fused at stage 1; logits at stage 1's stride."""

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        channels: int = 512,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        dropout_ratio: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        *lower, top = in_channels
        self.psp_modules = PPM(pool_scales, top, channels)
        self.bottleneck = ConvModule(top + len(pool_scales) * channels, channels, 3)
        self.lateral_convs = nn.ModuleList(ConvModule(c, channels, 1) for c in lower)
        self.fpn_convs = nn.ModuleList(ConvModule(channels, channels, 3) for _ in lower)
        self.fpn_bottleneck = ConvModule(len(in_channels) * channels, channels, 3)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        init_classifier(self.conv_seg)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        top = features[-1]
        psp = self.bottleneck(torch.cat([top, *self.psp_modules(top)], dim=1))  # (B, C, h4, w4)
        laterals = [conv(f) for conv, f in zip(self.lateral_convs, features, strict=False)] + [psp]
        for i in range(len(laterals) - 1, 0, -1):  # top-down, out of place (laterals feed the next level)
            laterals[i - 1] = laterals[i - 1] + resize(laterals[i], laterals[i - 1].shape[2:])
        outs = [conv(lateral) for conv, lateral in zip(self.fpn_convs, laterals, strict=False)] + [laterals[-1]]
        size = outs[0].shape[2:]
        outs = [outs[0]] + [resize(out, size) for out in outs[1:]]
        x = self.fpn_bottleneck(torch.cat(outs, dim=1))  # (B, 4C, H/4, W/4) -> (B, C, H/4, W/4)
        return self.conv_seg(self.dropout(x))  # (B, K, H/4, W/4)


def upernet(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> UPerHead:
    """UPerNet with BN; ``channels`` 512 is the reference's ``upernet``, 256 its ``upernet_ch256``."""
    return UPerHead(in_channels, num_classes, channels=channels)
