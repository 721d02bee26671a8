"""An independent ResNet-V1c / ResNeSt in mmseg 0.16's key layout (DAFormer's), for sameness tests.

Written from the spec (architectures.md: deep stem, pytorch-style bottleneck, strides (1, 2, 1, 1),
dilations (1, 1, 2, 4) with contract dilation, V1d average-pool shortcut whose pool has kernel =
stride, split attention with radix softmax and ``avg_down_stride``) without timm, so that loading
its state dict into our timm-based encoders through the open-mmlab conversion and comparing the
outputs proves the two networks compute the same function.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STRIDES = (1, 2, 1, 1)
DILATIONS = (1, 1, 2, 4)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels)


class SplitAttention(nn.Module):
    """3x3 conv to radix x C (groups = radix), then attention over the radix splits from their sum."""

    def __init__(self, channels: int, dilation: int, radix: int = 2, reduction: int = 4) -> None:
        super().__init__()
        inner = max(channels * radix // reduction, 32)
        self.radix = radix
        self.conv = nn.Conv2d(
            channels, channels * radix, 3, padding=dilation, dilation=dilation, groups=radix, bias=False
        )
        self.bn0 = _bn(channels * radix)
        self.fc1 = nn.Conv2d(channels, inner, 1)
        self.bn1 = _bn(inner)
        self.fc2 = nn.Conv2d(inner, channels * radix, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn0(self.conv(x)))  # (B, r*C, H, W)
        batch, _, height, width = x.shape
        splits = x.view(batch, self.radix, -1, height, width)  # (B, r, C, H, W)
        pooled = splits.sum(dim=1).mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        logits = self.fc2(F.relu(self.bn1(self.fc1(pooled))))  # (B, r*C, 1, 1)
        weights = logits.view(batch, self.radix, -1).softmax(dim=1)  # softmax across the radix splits
        return (splits * weights.view(batch, self.radix, -1, 1, 1)).sum(dim=1)


class Bottleneck(nn.Module):
    """1x1, 3x3 (strided, dilated; or split attention then a 3x3 average pool that strides), 1x1."""

    def __init__(
        self, inplanes: int, planes: int, stride: int, dilation: int, downsample: nn.Module | None, split: bool
    ) -> None:
        super().__init__()
        self.split = split
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = _bn(planes)
        if split:
            self.conv2: nn.Module = SplitAttention(planes, dilation)
            self.avd_layer = nn.AvgPool2d(3, stride, padding=1) if stride > 1 else None
        else:
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False)
            self.bn2 = _bn(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = _bn(planes * 4)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        if self.split:
            out = self.conv2(out)
            if self.avd_layer is not None:
                out = self.avd_layer(out)
        else:
            out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


def _shortcut(inplanes: int, outplanes: int, stride: int, avg_down: bool) -> nn.Sequential:
    if avg_down:  # V1d: the pool (kernel = stride, an identity at stride 1) does the striding
        pool = nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False)
        return nn.Sequential(pool, nn.Conv2d(inplanes, outplanes, 1, bias=False), _bn(outplanes))
    return nn.Sequential(nn.Conv2d(inplanes, outplanes, 1, stride, bias=False), _bn(outplanes))


class ReferenceResNet(nn.Module):
    """mmseg-layout ResNetV1c (``split=False``) or ResNeSt (``split=True``, V1d shortcut)."""

    def __init__(
        self, depths: tuple[int, ...], stem_channels: int = 64, base_channels: int = 64, split: bool = False
    ) -> None:
        super().__init__()
        half = stem_channels // 2
        self.stem = nn.Sequential(
            nn.Conv2d(3, half, 3, 2, 1, bias=False), _bn(half), nn.ReLU(),
            nn.Conv2d(half, half, 3, 1, 1, bias=False), _bn(half), nn.ReLU(),
            nn.Conv2d(half, stem_channels, 3, 1, 1, bias=False), _bn(stem_channels), nn.ReLU(),
        )  # fmt: skip
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = stem_channels
        for i, (blocks, stride, dilation) in enumerate(zip(depths, STRIDES, DILATIONS, strict=True)):
            planes = base_channels * 2**i
            downsample = None
            if stride != 1 or inplanes != planes * 4:
                downsample = _shortcut(inplanes, planes * 4, stride, avg_down=split)
            first_dilation = dilation // 2 if dilation > 1 else dilation  # contract dilation
            layer = [Bottleneck(inplanes, planes, stride, first_dilation, downsample, split)]
            layer += [Bottleneck(planes * 4, planes, 1, dilation, None, split) for _ in range(blocks - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
            inplanes = planes * 4

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.stem(x))
        features = []
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
            features.append(x)
        return features
