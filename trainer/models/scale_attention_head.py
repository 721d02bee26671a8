"""HRDA's scale-attention head (spec: hrda.md, "Multi-resolution segmentor", step 4).

A DAFormer-style head with its own weights over the CONTEXT features: each encoder level embedded
by a Linear to 256, resized to stride 4, concatenated (1024), fused by ONE 1x1 ConvBNReLU to 256
(the reference swaps DAFormer's ASPP for a 1x1 'conv' fusion in the attention head), Dropout2d
0.1, and a 1x1 classifier to K channels (class-wise) or 1 (the "single attention" ablation). The
head returns logits; the segmentor applies the sigmoid. Module names equal the reference's
``decode_head.scale_attention.*`` keys. With 19 classes and MiT-B1..B5 widths: 530,707 parameters
(263,168 embeddings + 262,656 fusion + 4,883 classifier).

On a DeepLabV2 head (``dlv2red``) the reference builds the attention as a second head of the SAME
type and config (its ``HRDAHead`` with ``single_scale_head='DLV2Head'``): dilated 3x3 convs on the
last encoder stage straight to K (or 1) channels, summed, normal(0, 0.01) init, no norm, no dropout,
its logits at the head's stride 8; ``attention_embed_dim`` plays no part there. With 2048 input
channels and 19 classes that is 2 x (2048*9*19 + 19) = 700,454 parameters, the main head's count;
36,866 with one channel. ``build_scale_attention`` picks the architecture from the main head.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainer.models.dlv2_head import DLV2Head
from trainer.models.head_layers import ConvBNReLU, LinearEmbed, embed_at_first_scale, init_classifier


class ScaleAttentionHead(nn.Module):
    """Embed -> resize to stride 4 -> concat -> 1x1 ConvBNReLU -> dropout -> 1x1 conv (attention logits)."""

    def __init__(
        self, in_channels: Sequence[int], out_channels: int, channels: int = 256, dropout_ratio: float = 0.1
    ) -> None:
        super().__init__()
        self.in_channels = tuple(in_channels)
        self.embed_layers = nn.ModuleDict({str(i): LinearEmbed(c, channels) for i, c in enumerate(in_channels)})
        self.fuse_layer = ConvBNReLU(len(self.in_channels) * channels, channels, 1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, out_channels, kernel_size=1)
        init_classifier(self.conv_seg)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        embedded = embed_at_first_scale(features, self.embed_layers)  # each (B, channels, H/4, W/4)
        x = self.fuse_layer(torch.cat(embedded, dim=1))  # (B, channels, H/4, W/4)
        return self.conv_seg(self.dropout(x))  # (B, K or 1, H/4, W/4)


def build_scale_attention(
    decoder: nn.Module, in_channels: Sequence[int], out_channels: int, channels: int = 256
) -> nn.Module:
    """The attention head the reference pairs with ``decoder``: a DLV2Head twin for DeepLabV2, else
    the DAFormer-style head over the encoder levels ``in_channels`` (``channels`` wide)."""
    if isinstance(decoder, DLV2Head):
        return DLV2Head(decoder.in_channels, out_channels, dilations=decoder.dilations)
    return ScaleAttentionHead(in_channels, out_channels, channels=channels)
