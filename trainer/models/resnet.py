"""ResNet-V1c dilated to output stride 8, the CNN encoder of DAFormer's Tables 1-4 (spec: architectures.md).

Built on timm's ``ResNet``, which is the reference's network once configured so:
- ``stem_type="deep", stem_width=32``: mmseg's V1c deep stem, 3x3 convs 3->32 (stride 2), 32->32,
  32->64, each with BN and ReLU, then a 3x3 stride-2 max-pool; no average pool in the shortcut;
- timm's ``Bottleneck`` strides its 3x3 conv (mmseg's ``style="pytorch"``), expansion 4;
- ``output_stride=8``: stage strides (1, 2, 1, 1), dilations (1, 1, 2, 4), and the first block of a
  dilated stage at half the dilation (timm passes the previous dilation; mmseg's ``contract_dilation``);
- BatchNorm (eps 1e-5, momentum 0.1) everywhere, in training mode with the model (``norm_eval=False``);
  conv init kaiming-normal fan-out and the last BN of each block zeroed, as mmseg's ``init_weights``.
Parameter counts equal the reference's (r50v1c 23,527,264; r101v1c 42,519,392; no classifier), and a
forward test against an independent network in mmseg's layout, loaded through the open-mmlab key
conversion below, gives equal outputs (tests/trainer/models/test_models_resnet.py).

Added here: a ``forward`` returning the four stage maps (strides 4, 8, 8, 8), ``out_channels`` /
``strides`` (the ``Encoder`` contract), and ``checkpoint_filter_fn`` for the open-mmlab layout.
File order as timm's: model, checkpoint conversion, constructors per size.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from timm.models.resnest import ResNestBottleneck
from timm.models.resnet import Bottleneck, ResNet
from torch import nn

# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


class DilatedResNet(ResNet):
    """timm ResNet without classifier whose ``forward`` returns the 4 stage maps at strides 4, 8, 8, 8."""

    def __init__(
        self,
        block: type[Bottleneck] | type[ResNestBottleneck],
        layers: Sequence[int],
        stem_width: int = 32,
        channels: Sequence[int] = (64, 128, 256, 512),
        avg_down: bool = False,
        block_args: dict[str, Any] | None = None,
        in_chans: int = 3,
    ) -> None:
        if len(layers) != 4 or len(channels) != 4:
            raise ValueError(f"layers and channels need 4 entries each, got {tuple(layers)} and {tuple(channels)}")
        block_class = cast(Any, block)  # timm annotates the block class as an instance
        super().__init__(
            block_class, tuple(layers), num_classes=0, in_chans=in_chans, output_stride=8, global_pool="",
            stem_type="deep", stem_width=stem_width, avg_down=avg_down, channels=tuple(channels),
            block_args=block_args,
        )  # fmt: skip
        self.depths = tuple(layers)
        self.stem_width = stem_width
        self.out_channels = tuple(info["num_chs"] for info in self.feature_info[1:])
        self.strides = tuple(info["reduction"] for info in self.feature_info[1:])
        for module in self.modules():  # mmcv's kaiming_init also zeroes conv biases (ResNeSt's fc1/fc2)
            if isinstance(module, nn.Conv2d) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(
                f"ResNet expected an image batch (B, {self.in_chans}, H, W), got shape {tuple(x.shape)}"
            )
        # stem (stride 4), then layer1..4: (B, 256, H/4, W/4), (B, 512, H/8, W/8), 1024 and 2048 at H/8
        features = self.forward_intermediates(x, indices=[1, 2, 3, 4], intermediates_only=True)
        return cast(list[torch.Tensor], features)


# ---------------------------------------------------------------------------------------------
# Checkpoint conversion
# ---------------------------------------------------------------------------------------------

# mmseg's ``stem`` Sequential is conv, BN, ReLU (x3); timm's ``conv1`` holds the first 7 modules and
# the last BN is ``bn1``. Blocks (``layer{i}.{j}.conv1/bn1/...``, ``downsample.N``, ResNeSt's
# ``conv2.conv/bn0/fc1/bn1/fc2``) already carry the same names in both layouts.
_STEM = {"0": "conv1.0", "1": "conv1.1", "3": "conv1.3", "4": "conv1.4", "6": "conv1.6", "7": "bn1"}
_STEM_KEY = re.compile(r"^stem\.(\d+)\.(.+)$")


def convert_reference_key(key: str) -> str | None:
    """One open-mmlab ResNet/ResNeSt key in timm's layout; None for the ImageNet classifier ``fc.*``.

    ``stem.3.weight`` -> ``conv1.3.weight``; ``stem.7.running_var`` -> ``bn1.running_var``;
    ``layer3.0.downsample.1.weight`` is unchanged. Keys already in our layout pass through.
    """
    if key.startswith("fc."):
        return None
    match = _STEM_KEY.match(key)
    if match is None or match.group(1) not in _STEM:
        return key
    index, rest = match.groups()
    return f"{_STEM[index]}.{rest}"


def checkpoint_filter_fn(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert an open-mmlab ``resnet*_v1c`` / ``resnest*_d2`` state dict (flat keys, ``fc.*`` dropped)."""
    converted: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new_key = convert_reference_key(key)
        if new_key is not None:
            converted[new_key] = value
    return converted


ResNetArchitecture = tuple[int, tuple[int, ...], bool]
"""(stem width, blocks per stage, split attention): what tells a weight file's network apart."""

_BLOCK_KEY = re.compile(r"^layer([1-4])\.(\d+)\.")


def architecture_of(state: Mapping[str, torch.Tensor]) -> ResNetArchitecture | None:
    """The architecture a state dict in our layout holds; None when it holds no ResNet stem."""
    stem = state.get("conv1.0.weight")
    if stem is None:
        return None
    blocks: list[set[str]] = [set() for _ in range(4)]
    for key in state:
        match = _BLOCK_KEY.match(key)
        if match is not None:
            blocks[int(match.group(1)) - 1].add(match.group(2))
    split = any(".conv2.fc1." in key for key in state)
    return int(stem.shape[0]), tuple(len(b) for b in blocks), split


def describe_architecture(arch: ResNetArchitecture) -> str:
    """The config name of a known architecture, else its stem width, depths and block type."""
    for name, known in REFERENCE_ARCHITECTURES.items():
        if known == arch:
            return name
    stem, depths, split = arch
    kind = "ResNeSt" if split else "ResNet"
    return f"a {kind} with stem width {stem} and blocks per stage {list(depths)}"


# ---------------------------------------------------------------------------------------------
# Constructors
# ---------------------------------------------------------------------------------------------

REFERENCE_ARCHITECTURES: dict[str, ResNetArchitecture] = {
    "r50v1c": (32, (3, 4, 6, 3), False),
    "r101v1c": (32, (3, 4, 23, 3), False),
    "s50": (32, (3, 4, 6, 3), True),
    "s101": (64, (3, 4, 23, 3), True),
    "s200": (64, (3, 24, 36, 3), True),
}
"""timm's ``stem_width`` is the first stem conv's width: half mmseg's ``stem_channels`` (64 / 128)."""


def create_resnet_v1c(
    layers: Sequence[int] = (3, 4, 6, 3),
    stem_width: int = 32,
    channels: Sequence[int] = (64, 128, 256, 512),
    in_chans: int = 3,
) -> DilatedResNet:
    """A ResNet-V1c of any depth/width (tests build tiny ones); stage outputs are 4 x ``channels``."""
    return DilatedResNet(Bottleneck, layers, stem_width, channels, avg_down=False, in_chans=in_chans)


def r50v1c() -> DilatedResNet:
    """ResNet-50-V1c, blocks (3, 4, 6, 3), output stride 8; 23,527,264 parameters."""
    return create_resnet_v1c((3, 4, 6, 3))


def r101v1c() -> DilatedResNet:
    """ResNet-101-V1c, blocks (3, 4, 23, 3), output stride 8; 42,519,392 parameters (Table 1's CNN)."""
    return create_resnet_v1c((3, 4, 23, 3))
