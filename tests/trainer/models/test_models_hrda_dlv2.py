"""HRDA on a DeepLabV2 head (HRDA Table 2 / MIC Table 1 rows): the reference's DLV2 HRDAHead.

Facts (lhoyer/HRDA ``hrda_head.py``, ``experiments.py`` ids 41/81): the scale attention is a second
``DLV2Head`` built from the same config (dilations 6 and 12, K or 1 outputs, normal(0, 0.01) init),
the logits are at output stride 8, the detail box keeps ``crop_coord_divisible=8``, the attention is
masked at box / 16 (truncated) and the detail logits inserted at box / 8.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from test_models_hrda_checkpoint import write_reference_uda_checkpoint

from trainer.config import TrainConfig
from trainer.models import HRDASegmentor, Segmentor, SegmentorSpec, build_segmentor, wrap_hrda
from trainer.models.dlv2_head import DLV2Head
from trainer.models.hrda import fuse_scales, head_output_stride
from trainer.models.hrda_checkpoint import load_hrda_checkpoint
from trainer.models.resnet import Bottleneck, DilatedResNet


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def tiny_dlv2(classes: int = 5, seed: int = 0) -> Segmentor:
    """A real dilated ResNet (one bottleneck per stage, 32 output channels, strides 4, 8, 8, 8) + DLV2."""
    torch.manual_seed(seed)
    encoder = DilatedResNet(Bottleneck, (1, 1, 1, 1), stem_width=8, channels=(8, 8, 8, 8))
    head = DLV2Head(encoder.out_channels[-1], classes)
    return Segmentor(encoder, head, SegmentorSpec("tiny_resnet", "dlv2red", classes, 256))


def test_attention_head_on_r101_dlv2red_is_a_dlv2_twin_with_the_reference_parameter_count() -> None:
    torch.manual_seed(0)
    model = wrap_hrda(build_segmentor("r101v1c", "dlv2red", 19))
    attention = model.scale_attention
    assert isinstance(attention, DLV2Head) and attention.dilations == (6, 12)
    # 2 branches x (3*3*2048*19 weights + 19 biases) = 2 x 350,227 = 700,454, the main head's own count
    assert _params(attention) == 700_454 == _params(model.decoder)
    assert sorted(attention.state_dict()) == [f"aspp_modules.{i}.conv.{p}" for i in (0, 1) for p in ("bias", "weight")]
    weight = attention.aspp_modules[0].conv.weight
    assert abs(weight.std().item() - 0.01) < 5e-4 and not attention.aspp_modules[0].conv.bias.any()
    assert head_output_stride(model) == 8  # type: ignore[arg-type]
    single = wrap_hrda(build_segmentor("r101v1c", "dlv2red", 19), attention_classwise=False).scale_attention
    assert single is not None and _params(single) == 2 * (3 * 3 * 2048 + 1) == 36_866


def test_training_forward_shapes_on_a_1024_batch_at_stride_8() -> None:
    model = wrap_hrda(tiny_dlv2(19)).eval()
    with torch.no_grad():
        out = model.forward_train(torch.randn(2, 3, 1024, 1024), (8, 520, 504, 1016))
    assert out.context.shape == out.detail.shape == (2, 19, 64, 64)  # 512 inputs at stride 8
    assert out.fused.shape == (2, 19, 128, 128)  # stride 8 of the 1024 crop
    assert out.context_features[-1].shape[-2:] == (64, 64)  # FD's grid: label factor 1024 / 64 = 16
    assert out.detail_features[-1].shape[-2:] == (64, 64)


def test_fusion_masks_at_box_over_16_and_inserts_the_detail_at_box_over_8() -> None:
    gen = torch.Generator().manual_seed(0)
    context, detail = torch.randn(1, 3, 64, 64, generator=gen), torch.randn(1, 3, 64, 64, generator=gen)
    attention = torch.rand(1, 3, 64, 64, generator=gen)
    box = (8, 520, 504, 1016)  # multiples of 8 (crop_coord_divisible), not of 16
    fused, weighted = fuse_scales(context, detail, attention, box, 0.5, output_stride=8)
    # by hand: the mask is rows int(8/16)=0 .. int(520/16)=32, cols int(504/16)=31 .. int(1016/16)=63
    masked = torch.zeros_like(attention)
    masked[:, :, 0:32, 31:63] = attention[:, :, 0:32, 31:63]
    inserted = torch.zeros(1, 3, 128, 128)
    inserted[:, :, 1:65, 63:127] = detail  # box / 8: rows 1..65, cols 63..127 of the 128 map

    def up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)

    assert torch.equal(weighted, (1 - masked) * context)
    assert torch.allclose(fused, up(masked) * inserted + up((1 - masked) * context), atol=1e-6)
    # the reference's quirk: the attention window starts one context cell (two fused rows) above the detail
    assert torch.equal(fused[:, :, 0, 70:120], up((1 - masked) * context)[:, :, 0, 70:120])
    assert torch.equal(fused[:, :, 100:, :], up(context)[:, :, 100:, :])  # far from the box: context alone


def test_slide_detail_canvas_is_at_stride_8() -> None:
    model = wrap_hrda(tiny_dlv2(4), hr_crop_size=(64, 64), hr_slide_overlapping=False).eval()
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        canvas = model._slide_detail(x)
        window = model.decoder(model.encoder(x[:, :, 0:64, 64:128]))
        assert canvas.shape == (1, 4, 16, 16) and model(x).shape == (1, 4, 16, 16)
        assert torch.allclose(canvas[:, :, 0:8, 8:16], window, atol=1e-6)  # 4 windows, counts all 1
        overlapping = wrap_hrda(tiny_dlv2(4), hr_crop_size=(64, 64)).eval()
        assert len(overlapping.slide_windows((128, 128))) == 9
        assert overlapping.inference(x, "slide", (128, 128), (64, 64)).shape == (1, 4, 128, 128)


def test_box_alignment_is_checked_against_the_output_stride() -> None:
    with pytest.raises(ValueError, match="output stride 8"):
        wrap_hrda(tiny_dlv2(), crop_coord_divisible=4)
    with pytest.raises(ValueError, match="output stride 8"):
        wrap_hrda(tiny_dlv2(), hr_crop_size=(36, 36), crop_coord_divisible=8)
    hrda = {"enabled": True}
    with pytest.raises(ValueError, match="ResNet-V1c/ResNeSt"):
        TrainConfig.model_validate({"model": {"encoder": "mit_b5", "decoder": "dlv2red", "hrda": hrda}})
    with pytest.raises(ValueError, match="multiple of 8"):
        TrainConfig.model_validate({"model": {"encoder": "r101v1c", "decoder": "dlv2red", "hrda": {
            "enabled": True, "crop_coord_divisible": 4}}})
    cfg = TrainConfig.model_validate({"model": {"encoder": "r101v1c", "decoder": "dlv2red", "hrda": hrda}})
    assert cfg.model.hrda.crop_coord_divisible == 8
    for decoder in ("da_nodbn", "segformer", "daformer_isa"):  # no HRDAHead attention for them in the reference
        with pytest.raises(ValueError, match="model.hrda needs a decoder"):
            TrainConfig.model_validate({"model": {"encoder": "r101v1c", "decoder": decoder, "hrda": hrda}})


def _tiny_hrda_dlv2(seed: int) -> HRDASegmentor:
    model = wrap_hrda(tiny_dlv2(5, seed), hr_crop_size=(32, 32))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.running_mean, -0.5, 0.5)
            torch.nn.init.uniform_(module.running_var, 0.5, 1.5)
    return model.eval()


def test_reference_dlv2_uda_checkpoint_loads(tmp_path: Path) -> None:
    """decode_head.head.aspp_modules.* and decode_head.scale_attention.aspp_modules.* (the reference's
    DLV2 HRDAHead names), open-mmlab ResNet keys under backbone.*; student and teacher."""
    student, teacher = _tiny_hrda_dlv2(1), _tiny_hrda_dlv2(2)
    path = tmp_path / "iter_40000.pth"
    write_reference_uda_checkpoint(path, student, teacher, reference_resnet_keys)
    state = torch.load(path, weights_only=True)["state_dict"]
    assert "model.decode_head.scale_attention.aspp_modules.1.conv.weight" in state
    assert "model.backbone.stem.0.weight" in state
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for prefix, source in (("model", student), ("ema_model", teacher)):
        target = _tiny_hrda_dlv2(3)
        assert load_hrda_checkpoint(target, path, prefix=prefix).complete
        with torch.no_grad():
            assert torch.allclose(target(x), source(x), atol=1e-6)


def reference_resnet_keys(encoder: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Our (timm) ResNet keys in the open-mmlab layout: ``conv1.N`` -> ``stem.N``, ``bn1`` -> ``stem.7``."""
    state = {}
    for key, value in encoder.state_dict().items():
        if key.startswith("conv1."):
            key = "stem." + key.removeprefix("conv1.")
        elif key.startswith("bn1."):
            key = "stem.7." + key.removeprefix("bn1.")
        state[key] = value.clone()
    return state
