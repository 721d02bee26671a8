"""mmseg's general self-attention block, shared by DANet's position attention and ISA.

q, k from 1x1 projections of x, v from a plain 1x1 conv of x (to the input width); context =
softmax(q^T k [* C^-1/2]) v, per position. ``conv_module`` chooses mmcv ConvModules (conv, BN if
``norm``, ReLU) or plain biased convs for the key/query projections, as mmseg's ``key_query_norm``
does. Module names equal mmseg's: ``key_project``, ``query_project``, ``value_project`` (a
projection of several convs is an ``nn.Sequential`` with keys ``0``, ``1``, ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.head_layers import ConvModule


def projection(in_channels: int, channels: int, num_convs: int, conv_module: bool, norm: bool) -> nn.Module:
    """``num_convs`` 1x1 convs in_channels -> channels -> channels; one conv is returned bare."""
    widths = [in_channels] + [channels] * num_convs
    convs: list[nn.Module] = [
        ConvModule(c_in, c_out, 1, norm=norm) if conv_module else nn.Conv2d(c_in, c_out, 1)
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
    ]
    return convs[0] if len(convs) == 1 else nn.Sequential(*convs)


class SelfAttentionBlock(nn.Module):
    """Non-local attention over all positions of x (B, C, H, W) -> context (B, C, H, W)."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        *,
        key_query_num_convs: int,
        conv_module: bool,
        matmul_norm: bool,
        norm: bool,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.matmul_norm = matmul_norm
        # construction order (key, query, value) as in mmseg, so seeded inits draw alike
        self.key_project = projection(in_channels, channels, key_query_num_convs, conv_module, norm)
        self.query_project = projection(in_channels, channels, key_query_num_convs, conv_module, norm)
        self.value_project = nn.Conv2d(in_channels, in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        query = self.query_project(x).flatten(2).transpose(1, 2)  # (B, HW, c)
        key = self.key_project(x).flatten(2)  # (B, c, HW)
        value = self.value_project(x).flatten(2).transpose(1, 2)  # (B, HW, C)
        sim = torch.matmul(query, key)  # (B, HW, HW)
        if self.matmul_norm:
            sim = sim * self.channels**-0.5
        context = torch.matmul(F.softmax(sim, dim=-1), value)  # (B, HW, C)
        return context.transpose(1, 2).reshape(batch, -1, height, width)
