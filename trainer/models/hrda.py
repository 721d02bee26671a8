"""HRDA's multi-resolution segmentor, wrapping a plain ``Segmentor`` (spec: hrda.md).

Training: the crop is seen twice by the SAME encoder and decoder, as a context input (the whole
crop resized by the context scale, 0.5) and as a detail input (one box of ``hr_crop_size`` cut
from the full-resolution crop at offsets that are multiples of 8); a scale-attention head on the
context features weighs the two predictions. Inference and pseudo-labels: no box, the detail
prediction comes from sliding windows over the whole full-resolution input (stride crop/2 when
overlapping), averaged by window count at the head's output stride.

The head's output stride ``os`` is 4 for the DAFormer head and 8 for DeepLabV2 (``dlv2red`` on the
dilated ResNets), as in the reference's ``HRDAHead``; the detail logits go into the fused map at
box / os, the attention is masked at box / (os / context scale). The reference keeps
``crop_coord_divisible=8`` for both heads (experiments.py), so box / os is exact for both, while for
DeepLabV2 box / 16 truncates for odd multiples of 8 (the attention window then starts one context
cell before the detail logits); that quirk is kept. The attention head follows the main head's type
(``build_scale_attention``).

Scales are (context, detail) with detail = 1, so the detail box lives in input pixels. Keys:
``encoder.*`` and ``decoder.*`` are the wrapped segmentor's modules, ``scale_attention.*`` the
attention head; the reference names them ``backbone.*``, ``decode_head.head.*`` and
``decode_head.scale_attention.*`` (``load_hrda_checkpoint`` converts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from trainer.models.dlv2_head import DLV2Head
from trainer.models.encoder import stage_channels
from trainer.models.scale_attention_head import build_scale_attention
from trainer.models.segmentor import Segmentor, SegmentorSpec, _window_origins

Box = tuple[int, int, int, int]
"""(y1, y2, x1, x2) in pixels of the full-resolution input."""

OUTPUT_STRIDE = 4
"""Stride of the DAFormer head's logits; other heads' strides are read from the shapes (DeepLabV2: 8)."""


def head_output_stride(base: Segmentor) -> int:
    """Stride of ``base``'s logits: DeepLabV2 reads the last stage (8 on the dilated ResNets, 32 on
    MiT), the multi-level heads the first (4)."""
    strides = getattr(base.encoder, "strides", (OUTPUT_STRIDE,))
    return int(strides[-1] if isinstance(base.decoder, DLV2Head) else strides[0])


@dataclass(frozen=True)
class HRDAOutput:
    """One training forward: fused (stride os of the input), context and detail logits, box, features.

    ``context`` is the attention-weighted context prediction ``(1 - a) * ctx``, as the reference's
    head returns it (it is what an optional context loss sees). ``detail_features`` are the encoder
    outputs of the detail crop (FD on both scales, ``model.hrda.fd_scales='all'``).
    """

    fused: torch.Tensor  # (B, K, H/os, W/os); os = 4 (DAFormer head) or 8 (DeepLabV2)
    context: torch.Tensor  # (B, K, s*H/os, s*W/os)
    detail: torch.Tensor  # (B, K, h/os, w/os) of the detail box
    box: Box
    context_features: list[torch.Tensor]
    detail_features: list[torch.Tensor] = field(default_factory=list)


def resize_by(x: torch.Tensor, factor: float) -> torch.Tensor:
    """mmseg's ``resize(scale_factor=...)``: bilinear, align_corners False; identity for 1."""
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


def draw_detail_box(
    size: tuple[int, int], crop: tuple[int, int], divisible: int, generator: torch.Generator
) -> Box:
    """A ``crop`` box inside ``size`` = (H, W) at offsets ``divisible * randint(0, (H - h + 1) // divisible)``.

    For 1024 and 512 with 8: offsets in {0, 8, ..., 504} (504, not 512: the reference's quirk).
    A crop as large as the input is the whole input, without a draw.
    """
    height, width = size
    if (height, width) == tuple(crop):
        return 0, height, 0, width
    offsets = []
    for side, length in ((height, crop[0]), (width, crop[1])):
        slots = max((max(side - length, 0) + 1) // divisible, 1)
        offsets.append(int(torch.randint(0, slots, (), generator=generator)) * divisible)
    y, x = offsets
    return y, y + crop[0], x, x + crop[1]


def scale_box(box: Box, divisor: float) -> Box:
    """Box coordinates divided by ``divisor`` and truncated (the reference's ``scale_box``)."""
    y1, y2, x1, x2 = box
    return int(y1 / divisor), int(y2 / divisor), int(x1 / divisor), int(x2 / divisor)


def fuse_scales(
    context: torch.Tensor,
    detail: torch.Tensor,
    attention: torch.Tensor | float,
    box: Box | None,
    context_scale: float,
    output_stride: int = OUTPUT_STRIDE,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(fused, (1 - a) * context), in the reference's order (spec: step 6).

    With a box, ``a`` is zeroed outside box / (4 / context_scale) on the context grid, then
    c' = (1 - a) * context, c' and a are upsampled by 1 / context_scale, the detail logits are
    placed at box / 4 into zeros, and fused = a_up * detail_inserted + c'_up. Outside the box (one
    pixel of soft border aside) the fused output is exactly the upsampled context logits.
    """
    if box is not None:
        mask = context.new_zeros((context.shape[0], 1, *context.shape[2:]))  # (B, 1, h, w)
        y1, y2, x1, x2 = scale_box(box, output_stride / context_scale)
        mask[:, :, y1:y2, x1:x2] = 1
        attention = attention * mask
    weighted_context = (1 - attention) * context
    up_context = resize_by(weighted_context, 1 / context_scale)
    if isinstance(attention, torch.Tensor):
        attention = resize_by(attention, 1 / context_scale)
    if box is not None:
        inserted = torch.zeros_like(up_context)
        y1, y2, x1, x2 = scale_box(box, output_stride)
        inserted[:, :, y1:y2, x1:x2] = detail
    else:
        inserted = detail
    return attention * inserted + up_context, weighted_context


class HRDASegmentor(nn.Module):
    """Context + detail passes of one plain segmentor's encoder and decoder, fused by scale attention."""

    def __init__(
        self,
        base: Segmentor,
        scale_attention: nn.Module | None,
        context_scale: float = 0.5,
        hr_crop_size: tuple[int, int] = (512, 512),
        crop_coord_divisible: int = 8,
        fixed_attention: float | None = None,
        hr_slide_inference: bool = True,
        hr_slide_overlapping: bool = True,
        blur_hr_crop: bool = False,
    ) -> None:
        super().__init__()
        if (scale_attention is None) == (fixed_attention is None):
            raise ValueError("HRDA needs exactly one of a scale-attention head and a fixed attention value")
        self.encoder = base.encoder
        self.decoder = base.decoder
        self.scale_attention = scale_attention
        self.spec: SegmentorSpec = base.spec
        self.context_scale = context_scale
        self.hr_crop_size: tuple[int, int] = (int(hr_crop_size[0]), int(hr_crop_size[1]))
        self.crop_coord_divisible = crop_coord_divisible
        self.fixed_attention = fixed_attention
        self.hr_slide_inference = hr_slide_inference
        self.hr_slide_overlapping = hr_slide_overlapping
        self.blur_hr_crop = blur_hr_crop

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    def heads(self) -> nn.ModuleList:
        """Every ``head`` module of the reference (decoder and scale attention): lr x10 in the optimizer."""
        return nn.ModuleList([m for m in (self.decoder, self.scale_attention) if m is not None])

    # ---- training ------------------------------------------------------------------------------
    def draw_box(self, size: tuple[int, int], generator: torch.Generator) -> Box:
        return draw_detail_box(size, self.hr_crop_size, self.crop_coord_divisible, generator)

    def forward_train(self, x: torch.Tensor, box: Box) -> HRDAOutput:
        """Context pass on the resized crop, detail pass on ``box`` of the full-resolution crop."""
        context_img = resize_by(x, self.context_scale)  # (B, 3, sH, sW)
        detail_img = self.detail_image(x)[:, :, box[0] : box[1], box[2] : box[3]]  # (B, 3, h, w)
        context_features = self.encoder(context_img)
        detail_features = self.encoder(detail_img)
        context = self.decoder(context_features)
        detail = self.decoder(detail_features)
        stride = detail_img.shape[-1] // detail.shape[-1]
        fused, weighted_context = fuse_scales(
            context, detail, self._attention(context_features), box, self.context_scale, stride
        )
        return HRDAOutput(fused, weighted_context, detail, box, context_features, detail_features)

    # ---- inference -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fused logits (B, K, H/os, W/os) without a box: the reference's ``encode_decode`` before its resize."""
        context_features = self.encoder(resize_by(x, self.context_scale))
        detail_img = self.detail_image(x)
        if self.hr_slide_inference:
            detail = self._slide_detail(detail_img)
        else:
            detail = self.decoder(self.encoder(detail_img))
        context = self.decoder(context_features)
        fused, _ = fuse_scales(context, detail, self._attention(context_features), None, self.context_scale)
        return fused

    def inference(
        self,
        x: torch.Tensor,
        mode: Literal["whole", "slide"] = "whole",
        crop: tuple[int, int] = (1024, 1024),
        stride: tuple[int, int] = (512, 512),
    ) -> torch.Tensor:
        """Logits at the input's size; ``slide`` averages ``crop`` windows (HRDA's test: 1024, stride 512)."""
        if mode == "whole":
            return self._logits_at_input_size(x)
        if mode != "slide":
            raise ValueError(f"inference mode must be 'whole' or 'slide', got {mode!r}")
        batch, _, height, width = x.shape
        logits = x.new_zeros((batch, self.num_classes, height, width), dtype=torch.float32)
        counts = x.new_zeros((1, 1, height, width), dtype=torch.float32)
        for top, left in _window_origins((height, width), crop, stride):
            bottom, right = min(top + crop[0], height), min(left + crop[1], width)
            logits[:, :, top:bottom, left:right] += self._logits_at_input_size(x[:, :, top:bottom, left:right]).float()
            counts[:, :, top:bottom, left:right] += 1
        return logits / counts

    def slide_windows(self, size: tuple[int, int]) -> list[Box]:
        """The detail windows over a full-resolution input of ``size``: stride crop/2 when overlapping."""
        crop = self.hr_crop_size
        stride = (crop[0] // 2, crop[1] // 2) if self.hr_slide_overlapping else crop
        boxes = []
        for top, left in _window_origins(size, crop, stride):
            boxes.append((top, min(top + crop[0], size[0]), left, min(left + crop[1], size[1])))
        return boxes

    # ---- helpers -------------------------------------------------------------------------------
    def _logits_at_input_size(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self(x), size=x.shape[2:], mode="bilinear", align_corners=False)

    def detail_image(self, x: torch.Tensor) -> torch.Tensor:
        """The full-resolution input, or (``blur_hr_crop``) the context image upsampled back."""
        if self.blur_hr_crop:
            return resize_by(resize_by(x, 0.5), 2.0)
        return x

    def _attention(self, context_features: list[torch.Tensor]) -> torch.Tensor | float:
        if self.scale_attention is None:
            assert self.fixed_attention is not None
            return self.fixed_attention
        return torch.sigmoid(self.scale_attention(context_features))

    def _slide_detail(self, img: torch.Tensor) -> torch.Tensor:
        """Detail logits at stride os: all windows in one batch, summed on a canvas and divided by counts."""
        batch = img.shape[0]
        boxes = self.slide_windows((img.shape[2], img.shape[3]))
        windows = torch.cat([img[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in boxes], dim=0)
        window_logits = self.decoder(self.encoder(windows))  # (n * B, K, h/os, w/os)
        stride = windows.shape[-1] // window_logits.shape[-1]
        cells = [scale_box(box, stride) for box in boxes]
        height, width = max(c[1] for c in cells), max(c[3] for c in cells)
        canvas = window_logits.new_zeros((batch, window_logits.shape[1], height, width))
        counts = window_logits.new_zeros((1, 1, height, width))
        for i, (y1, y2, x1, x2) in enumerate(cells):
            canvas[:, :, y1:y2, x1:x2] += window_logits[i * batch : (i + 1) * batch]
            counts[:, :, y1:y2, x1:x2] += 1
        return canvas / counts


def wrap_hrda(
    base: Segmentor,
    context_scale: float = 0.5,
    hr_crop_size: tuple[int, int] = (512, 512),
    attention_classwise: bool = True,
    attention_channels: int = 256,
    fixed_attention: float | None = None,
    **settings: bool | int,
) -> HRDASegmentor:
    """An ``HRDASegmentor`` around ``base`` with a new scale-attention head (none for a fixed value).

    The head's type follows the main head's (``build_scale_attention``); ``attention_channels`` is
    the DAFormer-style head's width and unused on DeepLabV2. The detail box must land on whole
    logit cells: ``crop_coord_divisible`` and ``hr_crop_size`` multiples of the output stride.
    """
    stride = head_output_stride(base)
    divisible = int(settings.get("crop_coord_divisible", 8))
    if divisible % stride or any(side % stride for side in hr_crop_size):
        raise ValueError(
            f"model.hrda.crop_coord_divisible ({divisible}) and hr_crop_size {tuple(hr_crop_size)} must be "
            f"multiples of the head's output stride {stride} ({type(base.decoder).__name__} on "
            f"{type(base.encoder).__name__}) so that the detail box falls on whole logit cells"
        )
    attention = None
    if fixed_attention is None:
        in_channels: Sequence[int] = getattr(base.decoder, "in_channels", None) or stage_channels(base.encoder)
        out = base.num_classes if attention_classwise else 1
        attention = build_scale_attention(base.decoder, in_channels, out, channels=attention_channels)
    return HRDASegmentor(
        base, attention, context_scale, hr_crop_size, fixed_attention=fixed_attention, **settings  # type: ignore[arg-type]
    )
