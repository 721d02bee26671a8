"""DAFormer's context-aware fusion decoder (spec: Network, "Decoder (DAFormer head)").

Each encoder level is embedded by a Linear to ``channels`` (256), resized to stride 4 and
concatenated; an ASPP without image pooling (a 1x1 ConvBNReLU branch and depthwise-separable 3x3
branches at dilations 6, 12, 18) fuses the context, a 3x3 ConvBNReLU bottleneck reduces it, and
Dropout2d(0.1) + a 1x1 conv classify. Module names equal the reference's ``decode_head`` keys.
With 19 classes: 3,712,275 parameters for B1..B5 widths, 3,581,203 for B0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.head_layers import ConvBNReLU, DepthwiseSeparableConvBNReLU, LinearEmbed, init_classifier


class ASPPFusion(nn.Module):
    """ASPP without the image-pooling branch, followed by the 3x3 bottleneck.

    Branch 0 (dilation 1) is a plain 1x1 ConvBNReLU; every dilated branch is depthwise-separable,
    which is what the reference's ``DepthwiseSeparableASPPModule`` builds.
    """

    def __init__(self, in_channels: int, channels: int, dilations: Sequence[int] = (1, 6, 12, 18)) -> None:
        super().__init__()
        branches: list[nn.Module] = [
            ConvBNReLU(in_channels, channels, 1)
            if dilation == 1
            else DepthwiseSeparableConvBNReLU(in_channels, channels, dilation)
            for dilation in dilations
        ]
        self.aspp_modules = nn.ModuleList(branches)
        self.bottleneck = ConvBNReLU(len(dilations) * channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [branch(x) for branch in self.aspp_modules]  # each (B, channels, H, W)
        return self.bottleneck(torch.cat(branches, dim=1))


class DAFormerHead(nn.Module):
    """Embed -> resize to stride 4 -> concat -> ASPP fusion -> dropout -> classifier."""

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        channels: int = 256,
        dilations: Sequence[int] = (1, 6, 12, 18),
        dropout_ratio: float = 0.1,
    ) -> None:
        super().__init__()
        self.in_channels = tuple(in_channels)
        self.num_classes = num_classes
        # keys '0'..'3' as in the reference's ModuleDict, so checkpoints map one to one
        embeds = {str(i): LinearEmbed(c, channels) for i, c in enumerate(in_channels)}
        self.embed_layers = nn.ModuleDict(embeds)
        self.fuse_layer = ASPPFusion(len(self.in_channels) * channels, channels, dilations)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        init_classifier(self.conv_seg)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        size = features[0].shape[2:]  # stride 4
        embedded = []
        for i, feature in enumerate(features):
            x = self.embed_layers[str(i)](feature)  # (B, channels, h_i, w_i)
            if x.shape[2:] != size:
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            embedded.append(x)
        x = self.fuse_layer(torch.cat(embedded, dim=1))  # (B, channels, H/4, W/4)
        return self.conv_seg(self.dropout(x))  # (B, K, H/4, W/4)
