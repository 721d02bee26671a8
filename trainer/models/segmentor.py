"""Encoder + decoder segmentor with whole and sliding-window inference (spec: Network).

``forward`` gives logits at the decoder's output stride (4 for the DAFormer, SegFormer and
DeepLabV3+ heads; 8 for heads on the last stage of a dilated ResNet, e.g. DeepLabV2); the losses
and ``inference`` resize them from their actual shape, never from an assumed stride. ``inference``
gives logits at the input's size, either from one pass over the whole image or by averaging
overlapping crops the way mmseg's ``slide_inference`` does (a count matrix divides the summed logits).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.encoder import check_encoder


@dataclass(frozen=True)
class SegmentorSpec:
    """What a segmentor is, stored next to its weights so a checkpoint can be rebuilt and checked."""

    encoder: str
    decoder: str
    num_classes: int
    decoder_channels: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Segmentor(nn.Module):
    """An ``encoder`` (any ``trainer.models.encoder.Encoder``: MiT, ResNet-V1c, ResNeSt) and a decoder
    head mapping its stage maps to logits (B, K, H/s, W/s), s the head's output stride (4 or 8)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, spec: SegmentorSpec) -> None:
        check_encoder(encoder)
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.spec = spec

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, K, ~H/s, ~W/s) for images (B, 3, H, W); s = 4 (MiT heads) or 8 (e.g. DeepLabV2)."""
        return self.decoder(self.encoder(x))

    def forward_train(
        self, x: torch.Tensor, return_features: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """Logits at the head's stride and, when asked (feature distance), the encoder's stage maps."""
        features = self.encoder(x)
        logits = self.decoder(features)
        return logits, (features if return_features else None)

    def inference(
        self,
        x: torch.Tensor,
        mode: Literal["whole", "slide"] = "whole",
        crop: tuple[int, int] = (512, 512),
        stride: tuple[int, int] = (341, 341),
    ) -> torch.Tensor:
        """Logits (B, K, H, W) at the input's size. ``crop`` and ``stride`` are (height, width)."""
        if mode == "whole":
            return self._logits_at_input_size(x)
        if mode == "slide":
            return self._slide(x, crop, stride)
        raise ValueError(f"inference mode must be 'whole' or 'slide', got {mode!r}")

    def _logits_at_input_size(self, x: torch.Tensor) -> torch.Tensor:
        logits = self(x)
        return F.interpolate(logits, size=x.shape[2:], mode="bilinear", align_corners=False)

    def _slide(self, x: torch.Tensor, crop: tuple[int, int], stride: tuple[int, int]) -> torch.Tensor:
        if min(crop) <= 0 or min(stride) <= 0:
            raise ValueError(f"slide inference needs positive crop and stride, got {crop} and {stride}")
        batch, _, height, width = x.shape
        logits = x.new_zeros((batch, self.num_classes, height, width), dtype=torch.float32)
        counts = x.new_zeros((1, 1, height, width), dtype=torch.float32)
        for top, left in _window_origins((height, width), crop, stride):
            bottom, right = min(top + crop[0], height), min(left + crop[1], width)
            window = x[:, :, top:bottom, left:right]
            logits[:, :, top:bottom, left:right] += self._logits_at_input_size(window).float()
            counts[:, :, top:bottom, left:right] += 1
        return logits / counts


def _window_origins(
    size: tuple[int, int], crop: tuple[int, int], stride: tuple[int, int]
) -> list[tuple[int, int]]:
    """Top-left corners of mmseg's sliding grid: the last window is pushed back inside the image."""
    origins = []
    rows = max(size[0] - crop[0] + stride[0] - 1, 0) // stride[0] + 1
    cols = max(size[1] - crop[1] + stride[1] - 1, 0) // stride[1] + 1
    for row in range(rows):
        for col in range(cols):
            top = max(min(row * stride[0] + crop[0], size[0]) - crop[0], 0)
            left = max(min(col * stride[1] + crop[1], size[1]) - crop[1], 0)
            origins.append((top, left))
    return origins
