"""Interlaced sparse self-attention (ISA): ``isa_nodbn`` and the ISA fusion of ``daformer_isa``.

architectures.md, Decoders. The map is padded (zeros, split evenly, extra row/column at the end) to
a multiple of the local group size (8x8); global attention runs among the pixels that share a
position inside their group (one "global group" per in-group offset), then local attention inside
each 8x8 group; the padding is cut off again. Each attention block projects key/query through
``key_query_num_convs`` ConvModules to ``isa_channels``, scales by isa_channels^-1/2, takes a plain
1x1 value conv, and ends with a 1x1 ConvModule ``output_project``.

``ISAHead`` (mmseg, ``isa_nodbn``): 3x3 in-conv 2048->512, two-conv key/query, concat with the
in-conv output (1024) and a 1x1 conv back to 512, dropout, ``conv_seg``; no BN: 11,811,347
parameters with 19 classes. ``ISALayer`` as DAFormer's fusion (``daformer_isa``): 1x1 in-conv,
one-conv key/query, BN, no concat. Keys: ``in_conv``, ``global_relation.{key,query}_project``,
``value_project``, ``output_project``, ``local_relation.*``, ``out_conv``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.head_layers import ConvModule, init_classifier
from trainer.models.self_attention import SelfAttentionBlock


class ISAAttention(SelfAttentionBlock):
    """mmseg's ISA ``SelfAttentionBlock``: scaled attention, ConvModule key/query, output projection."""

    def __init__(self, channels: int, isa_channels: int, key_query_num_convs: int, norm: bool) -> None:
        super().__init__(
            channels, isa_channels, key_query_num_convs=key_query_num_convs, conv_module=True,
            matmul_norm=True, norm=norm,
        )  # fmt: skip
        self.output_project = ConvModule(channels, channels, 1, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_project(super().forward(x))


class ISALayer(nn.Module):
    """DAFormer's ISA fusion: 1x1 in-conv, then global and local attention over ``down_factor`` groups."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        isa_channels: int,
        *,
        down_factor: tuple[int, int] = (8, 8),
        key_query_num_convs: int = 1,
        norm: bool = True,
    ) -> None:
        super().__init__()
        self.down_factor = down_factor
        self.in_conv = ConvModule(in_channels, channels, 1, norm=norm)
        self.global_relation = ISAAttention(channels, isa_channels, key_query_num_convs, norm)
        self.local_relation = ISAAttention(channels, isa_channels, key_query_num_convs, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.in_conv(x)  # (B, C, H, W)
        return interlaced_attention(x, self.down_factor, self.global_relation, self.local_relation)


def interlaced_attention(
    x: torch.Tensor, down_factor: tuple[int, int], global_relation: nn.Module, local_relation: nn.Module
) -> torch.Tensor:
    """ISA on (B, C, H, W): pad to whole groups, global attention across groups, local within, unpad."""
    n, c, h, w = x.shape
    loc_h, loc_w = down_factor  # size of a local group
    glb_h, glb_w = math.ceil(h / loc_h), math.ceil(w / loc_w)  # number of groups per axis
    pad_h, pad_w = glb_h * loc_h - h, glb_w * loc_w - w
    if pad_h > 0 or pad_w > 0:
        x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
    # pixel (gy*loc_h + ly, gx*loc_w + lx): global attention mixes all (gy, gx) at a fixed (ly, lx)
    x = x.reshape(n, c, glb_h, loc_h, glb_w, loc_w).permute(0, 3, 5, 1, 2, 4)  # (n, lh, lw, c, gh, gw)
    x = global_relation(x.reshape(-1, c, glb_h, glb_w))
    # local attention mixes all (ly, lx) inside a fixed group (gy, gx)
    x = x.reshape(n, loc_h, loc_w, c, glb_h, glb_w).permute(0, 4, 5, 3, 1, 2)  # (n, gh, gw, c, lh, lw)
    x = local_relation(x.reshape(-1, c, loc_h, loc_w))
    x = x.reshape(n, glb_h, glb_w, c, loc_h, loc_w).permute(0, 3, 1, 4, 2, 5)  # (n, c, gh, lh, gw, lw)
    x = x.reshape(n, c, glb_h * loc_h, glb_w * loc_w)
    return x[:, :, pad_h // 2 : pad_h // 2 + h, pad_w // 2 : pad_w // 2 + w]


class ISAHead(nn.Module):
    """mmseg's ``ISAHead`` on the last feature map; logits at its stride (1/8 for ResNet)."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        channels: int = 512,
        isa_channels: int = 256,
        down_factor: tuple[int, int] = (8, 8),
        dropout_ratio: float = 0.1,
        norm: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.down_factor = down_factor
        self.in_conv = ConvModule(in_channels, channels, 3, norm=norm)
        self.global_relation = ISAAttention(channels, isa_channels, 2, norm)
        self.local_relation = ISAAttention(channels, isa_channels, 2, norm)
        self.out_conv = ConvModule(2 * channels, channels, 1, norm=norm)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        init_classifier(self.conv_seg)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = self.in_conv(features[-1])  # (B, C, h, w)
        attended = interlaced_attention(x, self.down_factor, self.global_relation, self.local_relation)
        x = self.out_conv(torch.cat([attended, x], dim=1))  # (B, 2C, h, w) -> (B, C, h, w)
        return self.conv_seg(self.dropout(x))  # (B, K, h, w)


def isa_nodbn(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> ISAHead:
    """ISA without decoder BN on the last stage (reference: ``channels`` 512, ``isa_channels`` 256)."""
    return ISAHead(in_channels[-1], num_classes, channels=channels, isa_channels=256, norm=False)
