"""SegFormer's all-MLP decoder, the baseline of DAFormer's decoder ablation (spec: Network).

Every level is embedded by a Linear to ``embed_dim`` (256 or 768), resized to stride 4 and
concatenated in level order 1..4 (DAFormer's version of the head; NVlabs' original concatenates
4..1), fused by a 1x1 ConvBNReLU, then Dropout2d(0.1) and a 1x1 classifier. Names follow the
reference's ``decode_head`` keys: ``linear_c.{0..3}.proj``, ``linear_fuse.{conv,bn}``, ``linear_pred``.

The reference head also inherits mmseg's ``conv_seg`` (its config's ``channels`` 128 -> classes)
and never calls it. It is kept here, unused, because it is a trainable parameter of the reference
module: architectures.md counts it (3,167,398 with MiT-B3..B5 widths and 768 channels, 5,330,086
with ResNet widths; 2,451 of them are this conv) and released checkpoints hold its keys. It is
created without drawing random numbers (zeros), so every other weight and every later draw of a
seeded run is what it was before the conv was added; it never receives a gradient, so AdamW and
the EMA leave it at zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.head_layers import ConvBNReLU, LinearEmbed

UNUSED_CONV_SEG_CHANNELS = 128
"""Input width of the inherited, unused ``conv_seg``: the reference config's ``channels``."""


class SegFormerHead(nn.Module):
    """Embed -> resize to stride 4 -> concat -> 1x1 fusion -> dropout -> classifier."""

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        embed_dim: int = 256,
        dropout_ratio: float = 0.1,
    ) -> None:
        super().__init__()
        self.in_channels = tuple(in_channels)
        self.num_classes = num_classes
        self.linear_c = nn.ModuleDict({str(i): LinearEmbed(c, embed_dim) for i, c in enumerate(in_channels)})
        self.linear_fuse = ConvBNReLU(len(self.in_channels) * embed_dim, embed_dim, 1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        # a plain conv with PyTorch's default init, as in the reference (its init touches only conv_seg)
        self.linear_pred = nn.Conv2d(embed_dim, num_classes, kernel_size=1)
        self.conv_seg = nn.utils.skip_init(nn.Conv2d, UNUSED_CONV_SEG_CHANNELS, num_classes, kernel_size=1)
        nn.init.zeros_(self.conv_seg.weight)
        nn.init.zeros_(self.conv_seg.bias)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        size = features[0].shape[2:]
        embedded = []
        for i, feature in enumerate(features):
            x = self.linear_c[str(i)](feature)  # (B, embed_dim, h_i, w_i)
            if i != 0:
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            embedded.append(x)
        x = self.linear_fuse(torch.cat(embedded, dim=1))  # (B, embed_dim, H/4, W/4)
        return self.linear_pred(self.dropout(x))  # (B, K, H/4, W/4)


def segformer(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> SegFormerHead:
    """SegFormer's head with embedding width ``channels`` (768 in Tables 1-3, 256 in Table 7's "C_e=256")."""
    return SegFormerHead(in_channels, num_classes, embed_dim=channels)
