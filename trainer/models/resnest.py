"""ResNeSt s50 / s101 / s200 dilated to output stride 8, encoders of DAFormer's Table 3 (spec: architectures.md).

The reference builds ``ResNeSt`` (a V1d: deep stem and an average pool in the shortcut) from the
ResNet-V1c config, so strides (1, 2, 1, 1), dilations (1, 1, 2, 4) and contract dilation apply.
timm's ``ResNestBottleneck`` with ``radix=2, avd=True, avd_first=False`` on its ``ResNet`` is that
network: the split-attention 3x3 conv (``conv2.conv/bn0/fc1/bn1/fc2``, inner width
max(width * radix / 4, 32), radix softmax) runs at stride 1 in a strided block and a 3x3 average
pool does the striding after it (mmseg's ``avg_down_stride``); the shortcut of a strided stage is
AvgPool2d(2, 2, ceil_mode, count_include_pad=False), 1x1 conv, BN (keys ``downsample.1/.2``).
timm's ``stem_width`` 32 / 64 is mmseg's ``stem_channels`` 64 / 128 (convs 3->32->32->64, 3->64->64->128).

One difference is corrected here: in a dilated stage (stride 1, dilation > 1) timm's shortcut
pools 2x2 with "same" padding at stride 1, while mmseg's pool there has kernel = stride = 1, an
identity. ``_identity_pool_in_dilated_shortcuts`` swaps it for ``nn.Identity`` (no parameters, keys
unchanged). Parameter counts equal the reference's (s50 25,434,240; s101 46,226,016; s200
68,152,544), and the forward test against an mmseg-layout network catches that pool.
Weights convert with ``trainer.models.resnet.checkpoint_filter_fn`` (same layout).
"""

from __future__ import annotations

from collections.abc import Sequence

from timm.layers import AvgPool2dSame
from timm.models.resnest import ResNestBottleneck
from torch import nn

from trainer.models.resnet import DilatedResNet

# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


def _identity_pool_in_dilated_shortcuts(model: DilatedResNet) -> DilatedResNet:
    """mmseg: AvgPool2d(kernel=stride=1) in a stride-1 shortcut; timm: 2x2 "same" pool when dilated."""
    for block in model.modules():
        downsample = getattr(block, "downsample", None)
        if isinstance(downsample, nn.Sequential) and isinstance(downsample[0], AvgPool2dSame):
            downsample[0] = nn.Identity()
    return model


def create_resnest(
    layers: Sequence[int] = (3, 4, 6, 3),
    stem_width: int = 32,
    channels: Sequence[int] = (64, 128, 256, 512),
    radix: int = 2,
    in_chans: int = 3,
) -> DilatedResNet:
    """A ResNeSt of any depth/width (tests build tiny ones); stage outputs are 4 x ``channels``."""
    model = DilatedResNet(
        ResNestBottleneck, layers, stem_width, channels, avg_down=True,
        block_args={"radix": radix, "avd": True, "avd_first": False}, in_chans=in_chans,
    )  # fmt: skip
    return _identity_pool_in_dilated_shortcuts(model)


# ---------------------------------------------------------------------------------------------
# Constructors
# ---------------------------------------------------------------------------------------------


def s50() -> DilatedResNet:
    """ResNeSt-50 (mmseg stem_channels 64), blocks (3, 4, 6, 3); 25,434,240 parameters."""
    return create_resnest((3, 4, 6, 3), stem_width=32)


def s101() -> DilatedResNet:
    """ResNeSt-101 (mmseg stem_channels 128), blocks (3, 4, 23, 3); 46,226,016 parameters."""
    return create_resnest((3, 4, 23, 3), stem_width=64)


def s200() -> DilatedResNet:
    """ResNeSt-200 (mmseg stem_channels 128), blocks (3, 24, 36, 3); 68,152,544 parameters."""
    return create_resnest((3, 24, 36, 3), stem_width=64)
