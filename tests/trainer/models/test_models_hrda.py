"""HRDA's segmentor against the spec's checks: shapes, attention head size, box, fusion, slide counts."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from trainer.models import DAFormerHead, MixVisionTransformer, ScaleAttentionHead, Segmentor, SegmentorSpec
from trainer.models.hrda import draw_detail_box, fuse_scales, scale_box, wrap_hrda
from trainer.models.segmentor import _window_origins

B5_WIDTHS = (64, 128, 320, 512)


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_scale_attention_head_parameter_count() -> None:
    # 4 x (C_i*256 + 256) = 263,168; fusion 1024*256 + BN 512 = 262,656; classifier 256*19 + 19 = 4,883
    assert _params(ScaleAttentionHead(B5_WIDTHS, 19)) == 530_707
    assert _params(ScaleAttentionHead(B5_WIDTHS, 1)) == 530_707 - 18 * 257
    assert _params(DAFormerHead(B5_WIDTHS, 19)) == 3_712_275  # the main head is unchanged


def _tiny_hrda(classes: int = 5, **settings: object):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    encoder = MixVisionTransformer(embed_dims=(8, 16, 24, 32), num_heads=(1, 1, 1, 1), depths=(1, 1, 1, 1))
    head = DAFormerHead(encoder.embed_dims, classes, 16)
    base = Segmentor(encoder, head, SegmentorSpec("t", "daformer", classes, 16))
    return wrap_hrda(base, attention_channels=16, **settings)  # type: ignore[arg-type]


def test_training_forward_shapes_on_a_1024_batch() -> None:
    model = _tiny_hrda(19).eval()
    seen: list[tuple[int, ...]] = []
    model.encoder.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    attention: list[torch.Tensor] = []
    assert model.scale_attention is not None
    model.scale_attention.register_forward_hook(lambda _m, _a, out: attention.append(torch.sigmoid(out)))
    with torch.no_grad():
        out = model.forward_train(torch.randn(2, 3, 1024, 1024), (8, 520, 504, 1016))
    assert seen == [(2, 3, 512, 512), (2, 3, 512, 512)]  # context, then detail: two separate passes
    assert out.context.shape == out.detail.shape == attention[0].shape == (2, 19, 128, 128)
    assert out.fused.shape == (2, 19, 256, 256)
    assert out.context_features[-1].shape[-2:] == (16, 16)  # FD's grid: 1024 / 16 = 64 label factor
    assert 0.0 <= attention[0].min() and attention[0].max() <= 1.0


def test_detail_boxes_are_multiples_of_8_up_to_504() -> None:
    gen = torch.Generator().manual_seed(0)
    boxes = [draw_detail_box((1024, 1024), (512, 512), 8, gen) for _ in range(2000)]
    offsets = {b[0] for b in boxes} | {b[2] for b in boxes}
    assert offsets == set(range(0, 505, 8))  # 0, 8, ..., 504: all 64 values, never 512
    assert all(b[1] - b[0] == 512 and b[3] - b[2] == 512 for b in boxes)
    assert draw_detail_box((512, 512), (512, 512), 8, gen) == (0, 512, 0, 512)


def test_fusion_inside_and_outside_the_box() -> None:
    torch.manual_seed(1)
    context, detail = torch.randn(2, 3, 128, 128), torch.randn(2, 3, 128, 128)
    attention = torch.rand(2, 3, 128, 128)
    box = (256, 768, 128, 640)  # attention kept on rows 32:96, cols 16:80 of the 128 map
    fused, weighted = fuse_scales(context, detail, attention, box, 0.5)
    a = attention.clone()
    outside = torch.ones(128, 128, dtype=torch.bool)
    outside[32:96, 16:80] = False
    assert torch.equal(weighted[..., outside], context[..., outside])  # a == 0 exactly outside
    up = F.interpolate(context, scale_factor=2, mode="bilinear", align_corners=False)
    far = torch.ones(256, 256, dtype=torch.bool)
    far[63:193, 31:161] = False  # box / 4 = rows 64:192, cols 32:160, plus one pixel of soft border
    assert torch.equal(fused[..., far], up[..., far])
    a[..., outside] = 0
    a_up = F.interpolate(a, scale_factor=2, mode="bilinear", align_corners=False)
    inserted = torch.zeros(2, 3, 256, 256)
    inserted[:, :, 64:192, 32:160] = detail
    c_up = F.interpolate((1 - a) * context, scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(fused, a_up * inserted + c_up, atol=0, rtol=0)


def test_constant_half_attention_without_a_box_averages_the_scales() -> None:
    context, detail = torch.randn(1, 2, 8, 8), torch.randn(1, 2, 16, 16)
    fused, _ = fuse_scales(context, detail, 0.5, None, 0.5)
    up = F.interpolate(context, scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(fused, 0.5 * detail + 0.5 * up, atol=1e-6)
    assert scale_box((8, 520, 504, 1016), 8) == (1, 65, 63, 127)


def _counts(boxes: list[tuple[int, int, int, int]], size: int) -> torch.Tensor:
    counts = torch.zeros(size // 4, size // 4)
    for y1, y2, x1, x2 in (scale_box(b, 4) for b in boxes):
        counts[y1:y2, x1:x2] += 1
    return counts


def test_teacher_slide_windows_on_a_1024_crop() -> None:
    overlapping = _tiny_hrda(hr_crop_size=(512, 512)).slide_windows((1024, 1024))
    assert len(overlapping) == 9
    counts = _counts(overlapping, 1024)
    assert counts.min() == 1 and counts.max() == 4 and set(counts.unique().tolist()) == {1.0, 2.0, 4.0}
    plain = _tiny_hrda(hr_crop_size=(512, 512), hr_slide_overlapping=False).slide_windows((1024, 1024))
    assert len(plain) == 4 and _counts(plain, 1024).eq(1).all()


def test_test_time_slide_on_a_2048_by_1024_image() -> None:
    origins = _window_origins((1024, 2048), (1024, 1024), (512, 512))
    assert origins == [(0, 0), (0, 512), (0, 1024)]
    counts = torch.zeros(2048)
    for _, left in origins:
        counts[left : left + 1024] += 1
    assert counts[512:1536].eq(2).all() and counts[:512].eq(1).all() and counts[1536:].eq(1).all()


def test_inference_is_finite_at_the_input_size_and_fixed_attention_has_no_head() -> None:
    model = _tiny_hrda(hr_crop_size=(32, 32)).eval()
    with torch.no_grad():
        whole = model.inference(torch.randn(1, 3, 64, 96))
        slide = model.inference(torch.randn(1, 3, 64, 96), "slide", (64, 64), (32, 32))
    assert whole.shape == slide.shape == (1, 5, 64, 96) and torch.isfinite(slide).all()
    fixed = _tiny_hrda(fixed_attention=0.5)
    assert fixed.scale_attention is None and len(fixed.heads()) == 1
    single = _tiny_hrda(attention_classwise=False)
    assert single.scale_attention is not None and single.scale_attention.conv_seg.out_channels == 1
    assert math.isclose(fixed.context_scale, 0.5)
    base = Segmentor(fixed.encoder, fixed.decoder, fixed.spec)
    with pytest.raises(ValueError, match="exactly one"):
        type(fixed)(base, None)
