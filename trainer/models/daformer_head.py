"""DAFormer's context-aware fusion decoder and its Table 7 variants (spec: Network, "Decoder
(DAFormer head)"; architectures.md, Decoders).

Each encoder level is embedded by a Linear to ``channels`` (256), resized to stride 4 and
concatenated; an ASPP without image pooling (a 1x1 ConvBNReLU branch and depthwise-separable 3x3
branches at dilations 6, 12, 18) fuses the context, a 3x3 ConvBNReLU bottleneck reduces it, and
Dropout2d(0.1) + a 1x1 conv classify. Module names equal the reference's ``decode_head`` keys.
With 19 classes: 3,712,275 parameters for B1..B5 widths, 3,581,203 for B0.

Table 7 swaps the fusion (``fuse_layer``): ``conv1`` a 1x1 ConvBNReLU ("SegFormer with C_e=256",
530,707), ``aspp`` plain dilated 3x3 branches ("w/o DSC", 9,969,939), ``isa`` an ISA layer
(1,058,579); or moves the context to F4 only (``daformer_sepaspp_bottleneck``, 3,163,155): the
SegFormer adapter upsamples stage 4 by 8, its embedding is a biased 1x1 conv followed by the
separable ASPP (keys ``embed_layers.3.0``, ``embed_layers.3.1.*``), and the fusion is ``conv1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from trainer.models.head_layers import (
    ConvBNReLU,
    DepthwiseSeparableConvBNReLU,
    LinearEmbed,
    embed_at_first_scale,
    init_classifier,
)
from trainer.models.isa_head import ISALayer
from trainer.models.segformer_adapter import adapt_last_stage

Fusion = Literal["sepaspp", "aspp", "conv1", "isa"]


class ASPPFusion(nn.Module):
    """ASPP without the image-pooling branch, followed by the 3x3 bottleneck.

    Branch 0 (dilation 1) is a plain 1x1 ConvBNReLU; every dilated branch is depthwise-separable
    (the reference's ``DepthwiseSeparableASPPModule``) or, with ``separable=False``, a plain dilated
    3x3 ConvBNReLU (its ``ASPPModule``).
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        dilations: Sequence[int] = (1, 6, 12, 18),
        separable: bool = True,
    ) -> None:
        super().__init__()
        branches: list[nn.Module] = [
            ConvBNReLU(in_channels, channels, 1)
            if dilation == 1
            else DepthwiseSeparableConvBNReLU(in_channels, channels, dilation)
            if separable
            else ConvBNReLU(in_channels, channels, 3, dilation=dilation)
            for dilation in dilations
        ]
        self.aspp_modules = nn.ModuleList(branches)
        self.bottleneck = ConvBNReLU(len(dilations) * channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [branch(x) for branch in self.aspp_modules]  # each (B, channels, H, W)
        return self.bottleneck(torch.cat(branches, dim=1))


class DAFormerHead(nn.Module):
    """Embed -> resize to stride 4 -> concat -> fusion -> dropout -> classifier."""

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        channels: int = 256,
        dilations: Sequence[int] = (1, 6, 12, 18),
        dropout_ratio: float = 0.1,
        fusion: Fusion = "sepaspp",
        context_at_f4: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = tuple(in_channels)
        self.num_classes = num_classes
        self.neck_scale = 8 if context_at_f4 else None
        # keys '0'..'3' as in the reference's ModuleDict, so checkpoints map one to one
        linear_levels = self.in_channels[:-1] if context_at_f4 else self.in_channels
        embeds: dict[str, nn.Module] = {str(i): LinearEmbed(c, channels) for i, c in enumerate(linear_levels)}
        if context_at_f4:  # F4: a biased 1x1 conv, then the context module (no Linear embedding)
            embeds[str(len(linear_levels))] = nn.Sequential(
                nn.Conv2d(self.in_channels[-1], channels, kernel_size=1),
                ASPPFusion(channels, channels, dilations, separable=True),
            )
        self.embed_layers = nn.ModuleDict(embeds)
        self.fuse_layer = _fusion(fusion, len(self.in_channels) * channels, channels, dilations)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        init_classifier(self.conv_seg)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        if self.neck_scale is not None:
            features = adapt_last_stage(features, self.neck_scale)
        embedded = embed_at_first_scale(features, self.embed_layers)  # each (B, channels, H/4, W/4)
        x = self.fuse_layer(torch.cat(embedded, dim=1))  # (B, channels, H/4, W/4)
        return self.conv_seg(self.dropout(x))  # (B, K, H/4, W/4)


def _fusion(kind: Fusion, in_channels: int, channels: int, dilations: Sequence[int]) -> nn.Module:
    """The ``fuse_layer`` of each Table 7 row (the ISA width equals ``channels``: 256 in the reference)."""
    if kind == "sepaspp":
        return ASPPFusion(in_channels, channels, dilations)
    if kind == "aspp":
        return ASPPFusion(in_channels, channels, dilations, separable=False)
    if kind == "conv1":
        return ConvBNReLU(in_channels, channels, 1)
    if kind == "isa":
        return ISALayer(in_channels, channels, channels, key_query_num_convs=1, norm=True)
    raise ValueError(f"unknown DAFormer fusion {kind!r}; expected sepaspp, aspp, conv1 or isa")


def daformer(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> DAFormerHead:
    """DAFormer (the reference's ``daformer_sepaspp``): separable ASPP fusion."""
    return DAFormerHead(in_channels, num_classes, channels=channels)


def daformer_conv1(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> DAFormerHead:
    """Table 7 "SegFormer with C_e=256": a 1x1 ConvBNReLU fusion."""
    return DAFormerHead(in_channels, num_classes, channels=channels, fusion="conv1")


def daformer_aspp(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> DAFormerHead:
    """Table 7 "DAFormer w/o DSC": ASPP fusion with plain dilated 3x3 convs."""
    return DAFormerHead(in_channels, num_classes, channels=channels, fusion="aspp")


def daformer_isa(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> DAFormerHead:
    """Table 7 "ISA fusion": 1x1 ConvBNReLU then interlaced sparse attention on the concatenation."""
    return DAFormerHead(in_channels, num_classes, channels=channels, fusion="isa")


def daformer_sepaspp_bottleneck(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> DAFormerHead:
    """Table 7 "context only at F4": separable ASPP on the (x8 upsampled) stage 4 only, 1x1 fusion."""
    return DAFormerHead(in_channels, num_classes, channels=channels, fusion="conv1", context_at_f4=True)
