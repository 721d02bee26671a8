"""What a segmentor needs from its encoder, whatever the family (MiT, ResNet-V1c, ResNeSt).

Spec: architectures.md, "Encoders". An encoder is an ``nn.Module`` whose ``forward`` returns one
(B, C_i, H / s_i, W / s_i) map per stage, and which says what those maps are: ``out_channels``
(C_i, what a decoder head is built for) and ``strides`` (s_i: 4, 8, 16, 32 for MiT; 4, 8, 8, 8 for
the dilated ResNets). Heads and losses read sizes from the tensors themselves; ``strides`` is for
people and checks, not for arithmetic on shapes.
"""

from __future__ import annotations

from typing import Protocol, cast, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class Encoder(Protocol):
    """The structural contract; ``Segmentor`` checks it when it is built."""

    out_channels: tuple[int, ...]
    strides: tuple[int, ...]

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]: ...


def check_encoder(encoder: nn.Module) -> None:
    """TypeError naming what is missing when ``encoder`` does not provide the ``Encoder`` contract."""
    found = {name: getattr(encoder, name, None) for name in ("out_channels", "strides")}
    wrong = [name for name, value in found.items() if not isinstance(value, tuple) or not value]
    if wrong:
        raise TypeError(
            f"{type(encoder).__name__} is not a segmentation encoder: it lacks {', '.join(wrong)} "
            "(tuples of the widths and strides of its stage outputs)"
        )
    channels, strides = cast(tuple[int, ...], found["out_channels"]), cast(tuple[int, ...], found["strides"])
    if len(channels) != len(strides):
        raise TypeError(
            f"{type(encoder).__name__}: out_channels {channels} and strides {strides} must have one entry per stage"
        )


def stage_channels(encoder: nn.Module) -> tuple[int, ...]:
    """``encoder.out_channels`` (the ``in_channels`` a decoder head is built for), contract checked."""
    check_encoder(encoder)
    assert isinstance(encoder, Encoder)  # check_encoder raised otherwise; narrows the type
    return tuple(encoder.out_channels)
