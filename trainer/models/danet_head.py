"""DANet's dual-attention decoder, ``da_nodbn`` (architectures.md, Decoders; Table 1).

On the last encoder stage, two branches of 3x3 conv -> attention -> 3x3 conv: position attention
(PAM: 1x1 query/key to ``pam_channels``, value to the full width, softmax over positions) and
channel attention (CAM: a C x C affinity softmaxed as max-minus-energy), each scaled by a learned
gamma that starts at 0 (so each branch starts as the identity) and added to its input. The branch
sum is classified by ``conv_seg``; each branch also by its own classifier (``pam_conv_seg``,
``cam_conv_seg``), whose cross-entropies mmseg's ``DAHead.losses`` adds with the decode loss's
weight 1.0. Training mode therefore returns ``LogitsWithAux``; eval mode the summed branch only.
Dropout2d(0.1) is drawn separately before each classifier (pam, cam, then sum), as in the reference.
"_nodbn": no BN, every conv carries a bias. 2048 in, 512 wide, 19 classes: 23,952,571 parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.head_layers import ConvModule, init_classifier
from trainer.models.head_outputs import HeadOutput, LogitsWithAux
from trainer.models.self_attention import SelfAttentionBlock

AUX_LOSS_WEIGHTS: tuple[float, float] = (1.0, 1.0)
"""Weights of the pam and cam losses: the reference applies its ``loss_decode`` (weight 1.0) to all three."""


class Scale(nn.Module):
    """mmcv's ``Scale``: a learned scalar (0-dim parameter ``scale``) times the input."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(value, dtype=torch.float))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class PAM(SelfAttentionBlock):
    """Position attention: x + gamma * attention(x), plain biased 1x1 projections, no scaling."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__(in_channels, channels, key_query_num_convs=1, conv_module=False, matmul_norm=False, norm=False)
        self.gamma = Scale(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gamma(super().forward(x)) + x


class CAM(nn.Module):
    """Channel attention: x + gamma * softmax(max(E) - E) x, with E = x x^T over positions (C x C)."""

    def __init__(self) -> None:
        super().__init__()
        self.gamma = Scale(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        flat = x.reshape(batch, channels, -1)  # (B, C, HW)
        energy = torch.bmm(flat, flat.transpose(1, 2))  # (B, C, C)
        energy = energy.max(dim=-1, keepdim=True).values - energy
        out = torch.bmm(F.softmax(energy, dim=-1), flat).reshape(batch, channels, height, width)
        return self.gamma(out) + x


class DAHead(nn.Module):
    """Two attention branches on the last feature map, summed; logits at its stride (1/8 for ResNet)."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        channels: int = 512,
        pam_channels: int = 64,
        dropout_ratio: float = 0.1,
        norm: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        # construction order as in mmseg's DAHead (base conv_seg first, then pam, then cam)
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.pam_in_conv = ConvModule(in_channels, channels, 3, norm=norm)
        self.pam = PAM(channels, pam_channels)
        self.pam_out_conv = ConvModule(channels, channels, 3, norm=norm)
        self.pam_conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        self.cam_in_conv = ConvModule(in_channels, channels, 3, norm=norm)
        self.cam = CAM()
        self.cam_out_conv = ConvModule(channels, channels, 3, norm=norm)
        self.cam_conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        init_classifier(self.conv_seg)  # only conv_seg: the aux classifiers keep PyTorch's init

    def forward(self, features: Sequence[torch.Tensor]) -> HeadOutput:
        x = features[-1]  # (B, C_in, h, w)
        pam_feat = self.pam_out_conv(self.pam(self.pam_in_conv(x)))  # (B, C, h, w)
        cam_feat = self.cam_out_conv(self.cam(self.cam_in_conv(x)))  # (B, C, h, w)
        if not self.training:
            return self.conv_seg(self.dropout(pam_feat + cam_feat))  # (B, K, h, w)
        pam_out = self.pam_conv_seg(self.dropout(pam_feat))  # dropout drawn in the reference's order
        cam_out = self.cam_conv_seg(self.dropout(cam_feat))
        logits = self.conv_seg(self.dropout(pam_feat + cam_feat))
        return LogitsWithAux(logits, (pam_out, cam_out), AUX_LOSS_WEIGHTS)


def da_nodbn(*, in_channels: tuple[int, ...], num_classes: int, channels: int) -> DAHead:
    """DANet without decoder BN on the last stage (reference: ``channels`` 512, ``pam_channels`` 64)."""
    return DAHead(in_channels[-1], num_classes, channels=channels, pam_channels=64, norm=False)
