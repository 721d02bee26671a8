"""Decoder heads: exact parameter counts, the reference's module layout and keys, shapes, init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from trainer.models.builder import build_decoder
from trainer.models.daformer_head import DAFormerHead
from trainer.models.head_layers import ConvBNReLU, DepthwiseSeparableConvBNReLU
from trainer.models.segformer_head import SegFormerHead

torch.set_num_threads(1)

B0_WIDTHS = (32, 64, 160, 256)
B1_WIDTHS = (64, 128, 320, 512)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_daformer_head_count_b1_to_b5_widths() -> None:
    assert _count(DAFormerHead(B1_WIDTHS, num_classes=19)) == 3_712_275


def test_daformer_head_count_b0_widths() -> None:
    assert _count(DAFormerHead(B0_WIDTHS, num_classes=19)) == 3_581_203


def test_daformer_head_count_by_hand() -> None:
    # embed: sum(C_i)*256 + 4*256; 1x1 branch: 1024*256 + BN 512; separable branch: dw 1024*9 + BN 2048
    # + pw 1024*256 + BN 512; bottleneck 1024*256*9 + BN 512; classifier 256*K + K
    widths, classes = (8, 16, 24, 32), 5
    expected = (
        sum(widths) * 256 + 4 * 256
        + 1024 * 256 + 512
        + 3 * (1024 * 9 + 2048 + 1024 * 256 + 512)
        + 1024 * 256 * 9 + 512
        + 256 * classes + classes
    )  # fmt: skip
    assert _count(DAFormerHead(widths, num_classes=classes)) == expected


@pytest.mark.parametrize(
    ("embed", "expected"),
    [
        (256, 256 * 1024 + 1024 + 1024 * 256 + 512 + 256 * 19 + 19 + 128 * 19 + 19),
        (768, 768 * 1024 + 3072 + 3072 * 768 + 1536 + 768 * 19 + 19 + 128 * 19 + 19),
    ],
)  # the last two terms: the reference's inherited, unused conv_seg (128 -> K), which it counts
def test_segformer_head_count(embed: int, expected: int) -> None:
    assert _count(SegFormerHead(B1_WIDTHS, num_classes=19, embed_dim=embed)) == expected


def test_daformer_head_layout_matches_reference_keys() -> None:
    head = DAFormerHead(B0_WIDTHS, num_classes=19)
    keys = set(head.state_dict())
    for key in (
        "embed_layers.0.proj.weight",
        "embed_layers.3.proj.bias",
        "fuse_layer.aspp_modules.0.conv.weight",
        "fuse_layer.aspp_modules.0.bn.running_var",
        "fuse_layer.aspp_modules.0.bn.num_batches_tracked",
        "fuse_layer.aspp_modules.1.depthwise_conv.conv.weight",
        "fuse_layer.aspp_modules.3.depthwise_conv.bn.bias",
        "fuse_layer.aspp_modules.2.pointwise_conv.conv.weight",
        "fuse_layer.aspp_modules.2.pointwise_conv.bn.weight",
        "fuse_layer.bottleneck.conv.weight",
        "fuse_layer.bottleneck.bn.running_mean",
        "conv_seg.weight",
        "conv_seg.bias",
    ):
        assert key in keys, key
    assert not any(key.endswith("conv.bias") for key in keys)  # convs before BN carry no bias
    branches = head.fuse_layer.aspp_modules
    assert isinstance(branches[0], ConvBNReLU) and branches[0].conv.kernel_size == (1, 1)
    for branch, dilation in zip(branches[1:], (6, 12, 18), strict=True):
        assert isinstance(branch, DepthwiseSeparableConvBNReLU)
        dw = branch.depthwise_conv.conv
        assert (
            dw.dilation == (dilation, dilation) and dw.padding == (dilation, dilation) and dw.groups == 1024
        )
    assert head.fuse_layer.bottleneck.conv.kernel_size == (3, 3)
    assert isinstance(head.dropout, nn.Dropout2d) and head.dropout.p == 0.1


def test_segformer_head_layout_matches_reference_keys() -> None:
    keys = set(SegFormerHead(B0_WIDTHS, num_classes=19).state_dict())
    for key in (
        "linear_c.0.proj.weight",
        "linear_c.3.proj.bias",
        "linear_fuse.conv.weight",
        "linear_fuse.bn.running_mean",
        "linear_pred.weight",
        "linear_pred.bias",
    ):
        assert key in keys, key
    assert "linear_fuse.conv.bias" not in keys


def _features(widths: tuple[int, ...], height: int, width: int) -> list[torch.Tensor]:
    shapes = [(height, width)]
    for _ in range(3):
        shapes.append((math.ceil(shapes[-1][0] / 2), math.ceil(shapes[-1][1] / 2)))
    return [torch.randn(2, c, h, w) for c, (h, w) in zip(widths, shapes, strict=True)]


@pytest.mark.parametrize("decoder", ["daformer", "segformer"])
def test_heads_give_stride4_logits(decoder: str) -> None:
    head = build_decoder(decoder, (8, 16, 24, 32), num_classes=7, channels=16).eval()
    with torch.no_grad():
        logits = head(_features((8, 16, 24, 32), 17, 23))
    assert logits.shape == (2, 7, 17, 23)


def test_daformer_embedding_is_a_pixelwise_linear_then_bilinear_resize() -> None:
    """The fusion input holds, for level 2, Linear(x) per pixel, resized bilinearly to stride 4."""
    torch.manual_seed(0)
    head = DAFormerHead((4, 4, 4, 4), num_classes=3, channels=8).eval()
    features = _features((4, 4, 4, 4), 8, 8)
    embed = head.embed_layers["2"].proj
    expected = torch.einsum("bchw,oc->bohw", features[2], embed.weight) + embed.bias[None, :, None, None]
    expected = nn.functional.interpolate(expected, size=(8, 8), mode="bilinear", align_corners=False)
    with torch.no_grad():
        captured: list[torch.Tensor] = []
        hook = head.fuse_layer.register_forward_pre_hook(lambda _m, args: captured.append(args[0]))
        head(features)
        hook.remove()
    assert torch.allclose(captured[0][:, 16:24], expected, atol=1e-5)  # level 2 occupies channels 16..23


def test_head_init_follows_mmcv() -> None:
    torch.manual_seed(0)
    head = DAFormerHead(B1_WIDTHS, num_classes=19)
    bottleneck = head.fuse_layer.bottleneck.conv.weight  # kaiming fan_out: std sqrt(2 / (256*9))
    assert abs(bottleneck.std().item() - math.sqrt(2 / (256 * 9))) < 0.001
    depthwise = head.fuse_layer.aspp_modules[1].depthwise_conv.conv.weight  # torch fan_out 1024*9
    assert abs(depthwise.std().item() - math.sqrt(2 / (1024 * 9))) < 0.002
    assert abs(head.conv_seg.weight.std().item() - 0.01) < 0.001 and torch.all(head.conv_seg.bias == 0)
    bn = head.fuse_layer.bottleneck.bn
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)


def test_unknown_decoder_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="daformer, segformer"):
        build_decoder("uper", B0_WIDTHS, 19, 256)
