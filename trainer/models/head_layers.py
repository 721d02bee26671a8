"""Building blocks shared by the decoder heads (spec: Network, decoder; architectures.md, Decoders).

Attribute names follow mmcv's ``ConvModule`` (``conv``, ``bn``), ``DepthwiseSeparableConvModule``
(``depthwise_conv``, ``pointwise_conv``) and SegFormer's ``MLP`` (``proj``), so the reference's
``decode_head.*`` checkpoint keys map one to one onto these modules.

Initialisation follows mmcv, not the MiT rule: a ``ConvModule``'s conv gets Kaiming-normal with
mode ``fan_out`` as PyTorch counts it (out_channels * k * k, not divided by groups) and a zero
bias, BN 1/0; embedding Linears and plain convs keep PyTorch's default init (the reference heads
never re-initialise them).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ConvModule(nn.Module):
    """mmcv's ``ConvModule``: conv -> BatchNorm (``norm``) -> ReLU (``act``).

    Without a norm the conv carries a bias ("_nodbn" heads); with one it does not (BN follows).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int = 1,
        groups: int = 1,
        *,
        norm: bool = True,
        act: bool = True,
    ) -> None:
        super().__init__()
        padding = dilation * (kernel_size // 2)
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, groups=groups,
            bias=not norm,
        )  # fmt: skip
        self.bn = nn.BatchNorm2d(out_channels) if norm else nn.Identity()
        self.act = nn.ReLU(inplace=True) if act else nn.Identity()
        nn.init.kaiming_normal_(self.conv.weight, a=0, mode="fan_out", nonlinearity="relu")
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class ConvBNReLU(ConvModule):
    """Conv (no bias: BN follows) -> BatchNorm -> ReLU, mmcv ``ConvModule`` with BN and ReLU."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, groups: int = 1
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation, groups, norm=True, act=True)


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise 3x3 (dilated) ConvModule, then pointwise 1x1 ConvModule (mmcv's separable module).

    Both halves carry the norm and the ReLU (mmcv's defaults for ``dw_*``/``pw_*`` follow the
    module's own ``norm_cfg`` and ``act_cfg``).
    """

    def __init__(self, in_channels: int, out_channels: int, dilation: int = 1, *, norm: bool = True) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(in_channels, in_channels, 3, dilation, groups=in_channels, norm=norm)
        self.pointwise_conv = ConvModule(in_channels, out_channels, 1, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class DepthwiseSeparableConvBNReLU(DepthwiseSeparableConvModule):
    """Depthwise 3x3 (dilated) ConvBNReLU, then pointwise 1x1 ConvBNReLU."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int) -> None:
        super().__init__(in_channels, out_channels, dilation, norm=True)


class LinearEmbed(nn.Module):
    """Per-pixel Linear projection of a (B, C, H, W) map to (B, E, H, W); no norm, no activation."""

    def __init__(self, in_channels: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_channels, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        tokens = self.proj(x.flatten(2).transpose(1, 2))  # (B, HW, E)
        return tokens.transpose(1, 2).reshape(batch, -1, height, width)  # (B, E, H, W)


def init_classifier(conv: nn.Conv2d) -> None:
    """The reference's ``conv_seg`` init: normal(0, 0.01) weight, zero bias."""
    nn.init.normal_(conv.weight, 0.0, 0.01)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def resize(x: torch.Tensor, size: torch.Size | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize with ``align_corners=False`` (mmseg's ``resize`` as every head uses it)."""
    return nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)


def embed_at_first_scale(features: Sequence[torch.Tensor], embed_layers: nn.ModuleDict) -> list[torch.Tensor]:
    """Each stage through its ``embed_layers[str(i)]``, resized to the first stage's size (stride 4):
    the input of the DAFormer head's fusion, and of HRDA's DAFormer-style scale attention."""
    size = features[0].shape[2:]
    embedded = []
    for i, feature in enumerate(features):
        x = embed_layers[str(i)](feature)  # (B, channels, h_i, w_i)
        embedded.append(resize(x, size) if x.shape[2:] != size else x)
    return embedded
