"""DeepLabV2's decoder as UDA papers use it, ``dlv2red`` (architectures.md, Decoders; Table 1 row 1).

On the last encoder stage only, parallel 3x3 convs map straight to the classes with dilations 6 and
12 (bias, no norm, no activation) and are summed. "red": the base DeepLabV2 config lists 6/12/18/24,
but AdaptSegNet's code (copied by later UDA work) returned inside the loop after two branches. No
dropout and no separate classifier. The convs start from normal(0, 0.01) with zero bias (the
reference's ``init_cfg`` on ``aspp_modules``). Keys: ``aspp_modules.{i}.conv.{weight,bias}``.
With 2048 input channels and 19 classes: 700,454 parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainer.models.head_layers import ConvModule


class DLV2Head(nn.Module):
    """Sum of dilated 3x3 classifiers on the last feature map; logits at its stride (1/8 for ResNet)."""

    def __init__(self, in_channels: int, num_classes: int, dilations: Sequence[int] = (6, 12)) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.dilations = tuple(dilations)
        branches = [ConvModule(in_channels, num_classes, 3, d, norm=False, act=False) for d in dilations]
        self.aspp_modules = nn.ModuleList(branches)
        for branch in branches:
            nn.init.normal_(branch.conv.weight, 0.0, 0.01)  # the bias is already zero (ConvModule)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = features[-1]  # (B, C, h, w)
        out = self.aspp_modules[0](x)
        for branch in self.aspp_modules[1:]:
            out = out + branch(x)
        return out  # (B, K, h, w)


def dlv2red(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> DLV2Head:
    """DeepLabV2 with the dilations 6 and 12 only; ``channels`` is unused (the convs output classes)."""
    del channels
    return DLV2Head(in_channels[-1], num_classes, dilations=(6, 12))
