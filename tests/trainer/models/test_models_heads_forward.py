"""Forward behaviour of the Tables 1/2/7 heads: output strides, ISA's padding, DANet's identity start,
DeepLabV2's sum, the adapter neck, and the auxiliary logits and their loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from trainer.models.builder import DECODERS, build_decoder
from trainer.models.danet_head import CAM, PAM, DAHead
from trainer.models.dlv2_head import DLV2Head
from trainer.models.head_outputs import LogitsWithAux, main_logits
from trainer.models.isa_head import ISAAttention, interlaced_attention
from trainer.models.segformer_adapter import adapt_last_stage, last_stage_after_neck
from trainer.uda.losses import decode_cross_entropy, pixel_cross_entropy

torch.set_num_threads(1)

WIDTHS = (8, 16, 24, 32)


def mit_like(height: int, width: int, batch: int = 2) -> list[torch.Tensor]:
    """Stage maps at strides 4, 8, 16, 32 (MiT: each stage halves with ceil)."""
    shapes = [(math.ceil(height / 4), math.ceil(width / 4))]
    for _ in range(3):
        shapes.append((math.ceil(shapes[-1][0] / 2), math.ceil(shapes[-1][1] / 2)))
    return [torch.randn(batch, c, h, w) for c, (h, w) in zip(WIDTHS, shapes, strict=True)]


def resnet_like(height: int, width: int, batch: int = 2) -> list[torch.Tensor]:
    """Stage maps at strides 4, 8, 8, 8 (dilated ResNet-V1c, output stride 8)."""
    h4, w4 = height // 4, width // 4
    sizes = [(h4, w4)] + [(h4 // 2, w4 // 2)] * 3
    return [torch.randn(batch, c, h, w) for c, (h, w) in zip(WIDTHS, sizes, strict=True)]


LAST_STAGE_ONLY = {"dlv2red", "da_nodbn", "isa_nodbn"}  # logits at the last map's stride


@pytest.mark.parametrize("decoder", list(DECODERS))
@pytest.mark.parametrize("features", [mit_like, resnet_like])
def test_logit_strides(decoder: str, features: object) -> None:
    head = build_decoder(decoder, WIDTHS, num_classes=5, channels=16).eval()
    maps = features(64, 96)  # type: ignore[operator]
    with torch.no_grad():
        logits = head(maps)
    stride_map = maps[-1] if decoder in LAST_STAGE_ONLY else maps[0]
    assert isinstance(logits, torch.Tensor)
    assert logits.shape == (2, 5, *stride_map.shape[2:])
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("decoder", list(DECODERS))
def test_odd_input_sizes(decoder: str) -> None:
    """17x23 images: MiT maps 5x6, 3x3, 2x2, 1x1 (ISA pads them to whole 8x8 groups)."""
    head = build_decoder(decoder, WIDTHS, num_classes=3, channels=8).eval()
    maps = mit_like(17, 23, batch=1)
    with torch.no_grad():
        logits = head(maps)
    assert logits.shape[2:] == (maps[-1] if decoder in LAST_STAGE_ONLY else maps[0]).shape[2:]


def naive_isa(x: torch.Tensor, group: int, global_relation: ISAAttention, local_relation: ISAAttention) -> torch.Tensor:
    """ISA written out with loops: pad evenly, attend among pixels sharing an in-group offset, then within groups."""
    _, _, h, w = x.shape
    pad_h, pad_w = (-h) % group, (-w) % group
    top, left = pad_h // 2, pad_w // 2
    padded = F.pad(x, (left, pad_w - left, top, pad_h - top))
    out = padded.clone()
    for ly in range(group):
        for lx in range(group):  # one global group: every group's pixel at offset (ly, lx)
            out[:, :, ly::group, lx::group] = global_relation(padded[:, :, ly::group, lx::group])
    mid = out.clone()
    for gy in range(0, padded.shape[2], group):
        for gx in range(0, padded.shape[3], group):  # one local group: an 8x8 block
            out[:, :, gy : gy + group, gx : gx + group] = local_relation(mid[:, :, gy : gy + group, gx : gx + group])
    return out[:, :, top : top + h, left : left + w]


@pytest.mark.parametrize(("height", "width"), [(16, 16), (11, 13), (3, 19)])
def test_interlaced_attention_equals_the_loop_version(height: int, width: int) -> None:
    torch.manual_seed(0)
    glob, loc = ISAAttention(6, 4, 2, norm=False).eval(), ISAAttention(6, 4, 2, norm=False).eval()
    x = torch.randn(2, 6, height, width)
    with torch.no_grad():
        fast = interlaced_attention(x, (8, 8), glob, loc)
        slow = naive_isa(x, 8, glob, loc)
    assert fast.shape == x.shape
    assert torch.allclose(fast, slow, atol=1e-5)


def test_danet_attention_starts_as_identity() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 8, 5, 7)
    pam, cam = PAM(8, 4), CAM()
    assert pam.gamma.scale.item() == 0.0 and cam.gamma.scale.item() == 0.0
    assert torch.equal(pam(x), x) and torch.equal(cam(x), x)


def test_cam_hand_computed() -> None:
    """C=2, two positions: x = [[1, 0], [0, 1]] -> energy = I; max - energy = [[0, 1], [1, 0]];
    softmax rows = [[1, e], [e, 1]] / (1 + e); out = that matrix @ x; gamma 1 adds x."""
    cam = CAM()
    with torch.no_grad():
        cam.gamma.scale.fill_(1.0)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).reshape(1, 2, 1, 2)
    e = math.e
    attention = torch.tensor([[1.0, e], [e, 1.0]]) / (1 + e)
    expected = (attention @ x.reshape(2, 2)).reshape(1, 2, 1, 2) + x
    assert torch.allclose(cam(x), expected, atol=1e-6)


def test_pam_with_constant_keys_averages_the_values() -> None:
    """Zero key/query weights make every attention row uniform: PAM adds gamma * mean of the values."""
    pam = PAM(3, 2)
    with torch.no_grad():
        for proj in (pam.key_project, pam.query_project):
            proj.weight.zero_()
        pam.gamma.scale.fill_(2.0)
    x = torch.randn(1, 3, 2, 3)
    value = pam.value_project(x)
    expected = x + 2.0 * value.mean(dim=(2, 3), keepdim=True)
    assert torch.allclose(pam(x), expected, atol=1e-6)


def test_danet_returns_aux_logits_in_training_only() -> None:
    torch.manual_seed(0)
    head = DAHead(32, num_classes=5, channels=16, pam_channels=4, dropout_ratio=0.0)
    maps = resnet_like(32, 32)
    train_out = head.train()(maps)
    assert isinstance(train_out, LogitsWithAux)
    assert train_out.aux_weights == (1.0, 1.0)
    assert [a.shape for a in train_out.aux_logits] == [train_out.logits.shape] * 2
    with torch.no_grad():
        eval_out = head.eval()(maps)
    assert isinstance(eval_out, torch.Tensor)
    assert torch.allclose(main_logits(train_out), eval_out, atol=1e-6)  # no BN, no dropout: same maths
    with torch.no_grad():  # gamma 0: the pam classifier sees pam_out_conv(pam_in_conv(x))
        pam_feat = head.pam_out_conv(head.pam_in_conv(maps[-1]))
        assert torch.allclose(train_out.aux_logits[0], head.pam_conv_seg(pam_feat), atol=1e-6)


def test_decode_cross_entropy_adds_weighted_aux_losses() -> None:
    """Zero logits over K=4 classes: CE = log 4 per labelled pixel; main + 1.0 * aux1 + 0.5 * aux2."""
    label = torch.tensor([[[0, 1], [2, 255]]])  # one ignored pixel of four: mean = 3/4 * log 4
    zeros = torch.zeros(1, 4, 2, 2)
    output = LogitsWithAux(zeros, (zeros, zeros), (1.0, 0.5))
    expected = 2.5 * 0.75 * math.log(4)
    assert decode_cross_entropy(output, label).item() == pytest.approx(expected)
    assert torch.equal(decode_cross_entropy(zeros, label), pixel_cross_entropy(zeros, label))
    weight = torch.full((1, 2, 2), 0.5)
    assert decode_cross_entropy(output, label, weight).item() == pytest.approx(expected / 2)


def test_dlv2red_is_the_sum_of_two_dilated_convs() -> None:
    torch.manual_seed(0)
    head = DLV2Head(6, num_classes=3, dilations=(6, 12))
    x = torch.randn(1, 6, 20, 20)
    expected = sum(
        F.conv2d(x, branch.conv.weight, branch.conv.bias, padding=d, dilation=d)
        for branch, d in zip(head.aspp_modules, (6, 12), strict=True)
    )
    assert torch.allclose(head([x]), expected, atol=1e-6)
    assert abs(head.aspp_modules[0].conv.weight.std().item() - 0.01) < 0.002  # normal(0, 0.01) init


def test_adapter_neck_upsamples_the_last_stage_only() -> None:
    maps = mit_like(64, 64)
    adapted = adapt_last_stage(maps, 4)
    assert adapted[:3] == maps[:3]
    assert adapted[-1].shape[2:] == (8, 8)
    expected = F.interpolate(maps[-1], size=(8, 8), mode="bilinear", align_corners=False)
    assert torch.allclose(adapted[-1], expected)


def test_fd_reads_the_neck_output_of_context_at_f4_only() -> None:
    maps = mit_like(64, 64)
    bottleneck = build_decoder("daformer_sepaspp_bottleneck", WIDTHS, 5, 16)
    assert last_stage_after_neck(bottleneck, maps).shape[2:] == (16, 16)  # stride 32 x 8 = stride 4
    for decoder in ("daformer", "sfa_dlv3p_nodbn", "segformer"):
        head = build_decoder(decoder, WIDTHS, 5, 16)
        expected = maps[-1] if decoder != "sfa_dlv3p_nodbn" else adapt_last_stage(maps, 4)[-1]
        assert torch.equal(last_stage_after_neck(head, maps), expected)
