"""DeepLabV3+'s decoder (mmseg ``DepthwiseSeparableASPPHead``): ``dlv3p_nodbn`` and ``sfa_dlv3p_nodbn``.

architectures.md, Decoders (Tables 1 and 2). On the last stage, 512 channels: an image-pooling
branch (global average pool, 1x1 conv, bilinear back to size), a 1x1 branch and three depthwise-
separable 3x3 branches at dilations 12, 24, 36 (ReLU after the depthwise and after the pointwise
conv); their concatenation (5 x 512) goes through a 3x3 conv to 512, is resized to stage 1 and
concatenated with a 1x1 projection of stage 1 to 48 channels; two separable 3x3 convs, dropout,
``conv_seg``. Logits at 1/4. "_nodbn": no BN, convs with bias: 17,686,563 parameters on ResNet
widths (2048, c1 256), 13,699,107 for ``sfa_`` on MiT-B5 (512 after the adapter neck, c1 64).
Keys: ``image_pool.1.conv``, ``aspp_modules.{0..3}``, ``bottleneck``, ``c1_bottleneck``,
``sep_bottleneck.{0,1}``, ``conv_seg``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainer.models.head_layers import ConvModule, DepthwiseSeparableConvModule, init_classifier, resize
from trainer.models.segformer_adapter import adapt_last_stage


class DepthwiseSeparableASPPHead(nn.Module):
    """ASPP with image pooling on the last map, then a stage-1 skip; logits at stage 1's stride."""

    def __init__(
        self,
        in_channels: int,
        c1_in_channels: int,
        num_classes: int,
        channels: int = 512,
        c1_channels: int = 48,
        dilations: Sequence[int] = (1, 12, 24, 36),
        dropout_ratio: float = 0.1,
        norm: bool = False,
        neck_scale: int | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.neck_scale = neck_scale
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), ConvModule(in_channels, channels, 1, norm=norm))
        branches: list[nn.Module] = [
            ConvModule(in_channels, channels, 1, norm=norm)
            if d == 1
            else DepthwiseSeparableConvModule(in_channels, channels, d, norm=norm)
            for d in dilations
        ]
        self.aspp_modules = nn.ModuleList(branches)
        self.bottleneck = ConvModule((len(dilations) + 1) * channels, channels, 3, norm=norm)
        self.c1_bottleneck = ConvModule(c1_in_channels, c1_channels, 1, norm=norm)
        self.sep_bottleneck = nn.Sequential(
            DepthwiseSeparableConvModule(channels + c1_channels, channels, norm=norm),
            DepthwiseSeparableConvModule(channels, channels, norm=norm),
        )
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        init_classifier(self.conv_seg)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        if self.neck_scale is not None:
            features = adapt_last_stage(features, self.neck_scale)
        x = features[-1]  # (B, C_in, h, w)
        outs = [resize(self.image_pool(x), x.shape[2:])]  # (B, C, h, w) from (B, C, 1, 1)
        outs.extend(branch(x) for branch in self.aspp_modules)
        x = self.bottleneck(torch.cat(outs, dim=1))  # (B, 5C, h, w) -> (B, C, h, w)
        c1 = self.c1_bottleneck(features[0])  # (B, 48, H/4, W/4)
        x = torch.cat([resize(x, c1.shape[2:]), c1], dim=1)
        x = self.sep_bottleneck(x)  # (B, C, H/4, W/4)
        return self.conv_seg(self.dropout(x))  # (B, K, H/4, W/4)


def dlv3p_nodbn(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> DepthwiseSeparableASPPHead:
    """DeepLabV3+ without decoder BN on stages 4 and 1 (reference: ``channels`` 512)."""
    return DepthwiseSeparableASPPHead(in_channels[-1], in_channels[0], num_classes, channels=channels, norm=False)


def sfa_dlv3p_nodbn(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> DepthwiseSeparableASPPHead:
    """DeepLabV3+ (no decoder BN) behind the SegFormer adapter: the last MiT stage upsampled x4 to 1/8."""
    return DepthwiseSeparableASPPHead(
        in_channels[-1], in_channels[0], num_classes, channels=channels, norm=False, neck_scale=4
    )
