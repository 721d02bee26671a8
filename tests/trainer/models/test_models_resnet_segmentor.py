"""A segmentor on a ResNet/ResNeSt encoder: any head, stride-8 logits, the reference's checkpoint layouts.

UDA files are written here in the layout of the reference's released checkpoints for these
architectures: ``model.backbone.*`` / ``ema_model.*`` / ``imnet_model.*`` with mmcv ResNet keys under
``backbone.`` (the independent ``mmseg_resnet_reference`` network) and head keys under ``decode_head.``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmseg_resnet_reference import ReferenceResNet
from test_models_resnet import randomised
from torch import nn

from trainer.models import (
    SegFormerHead,
    Segmentor,
    SegmentorSpec,
    build_segmentor,
    build_segmentor_from_checkpoint,
    load_pretrained_encoder,
    load_segmentor_checkpoint,
    save_segmentor_checkpoint,
)
from trainer.models.resnest import create_resnest
from trainer.uda.losses import pixel_cross_entropy

torch.set_num_threads(1)
X = torch.randn(2, 3, 48, 64, generator=torch.Generator().manual_seed(0))


class LastStageHead(nn.Module):
    """A test head with DeepLabV2's interface: a 1x1 classifier on the last (stride-8) stage only."""

    def __init__(self, in_channels: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels[-1], num_classes, 1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.conv(features[-1])


def tiny_split_encoder() -> nn.Module:
    return create_resnest((1, 1, 1, 1), stem_width=8, channels=(8, 16, 32, 64))


def tiny_segmentor(head: str = "segformer") -> Segmentor:
    encoder = tiny_split_encoder()
    widths: tuple[int, ...] = encoder.out_channels  # type: ignore[assignment]
    decoder = SegFormerHead(widths, 19, 32) if head == "segformer" else LastStageHead(widths, 19)
    return Segmentor(encoder, decoder, SegmentorSpec("s50", head, 19, 32))


def test_build_segmentor_with_a_cnn_encoder_gives_stride_4_logits_from_segformer() -> None:
    with torch.device("meta"):
        model = build_segmentor("r101v1c", "segformer", decoder_channels=768)
        logits = model(torch.empty(1, 3, 512, 512))
    assert tuple(logits.shape) == (1, 19, 128, 128)
    assert model.decoder.in_channels == (256, 512, 1024, 2048)  # type: ignore[union-attr]


def test_stride_8_logits_are_resized_from_their_actual_shape() -> None:
    model = tiny_segmentor(head="last_stage").eval()
    with torch.no_grad():
        logits = model(X)
        assert tuple(logits.shape) == (2, 19, 6, 8)  # stride 8
        assert tuple(model.inference(X).shape) == (2, 19, 48, 64)
        assert tuple(model.inference(X, "slide", crop=(32, 32), stride=(16, 16)).shape) == (2, 19, 48, 64)
    label = torch.randint(0, 19, (2, 48, 64))
    label[:, :4] = 255
    full = F.interpolate(logits, size=(48, 64), mode="bilinear", align_corners=False)
    expected = F.cross_entropy(full, label, ignore_index=255, reduction="sum") / label.numel()
    assert pixel_cross_entropy(logits, label).item() == pytest.approx(expected.item(), rel=1e-5)


def test_segmentor_refuses_a_module_without_the_encoder_contract() -> None:
    with pytest.raises(TypeError, match="Conv2d is not a segmentation encoder: it lacks out_channels, strides"):
        Segmentor(nn.Conv2d(3, 8, 1), nn.Identity(), SegmentorSpec("r50v1c", "segformer", 19, 32))


def _reference_state(encoder: ReferenceResNet, decoder: nn.Module) -> dict[str, torch.Tensor]:
    state = {"backbone." + k: v.clone() for k, v in encoder.state_dict().items()}
    state.update({"decode_head." + k: v.clone() for k, v in decoder.state_dict().items()})
    state["decode_head.conv_seg.weight"] = torch.randn(19, 128, 1, 1)  # unused, in the reference SegFormer head
    state["decode_head.conv_seg.bias"] = torch.randn(19)
    return state


def test_reference_uda_checkpoint_loads_each_network(tmp_path: Path) -> None:
    networks: dict[str, tuple[ReferenceResNet, nn.Module]] = {}
    state: dict[str, torch.Tensor] = {}
    for seed, prefix in enumerate(("model", "ema_model", "imnet_model")):
        torch.manual_seed(seed)
        encoder = ReferenceResNet((1, 1, 1, 1), stem_channels=16, base_channels=8, split=True)
        decoder = SegFormerHead((32, 64, 128, 256), 19, 32)
        randomised(encoder), randomised(decoder)
        networks[prefix] = (encoder, decoder)
        state.update({f"{prefix}.{k}": v for k, v in _reference_state(encoder, decoder).items()})
    torch.save({"meta": {"iter": 40000}, "state_dict": state, "optimizer": {}}, path := tmp_path / "uda.pth")

    for prefix in ("model", "ema_model"):
        model = tiny_segmentor()
        assert load_segmentor_checkpoint(model, path, prefix=prefix).complete
        encoder, decoder = networks[prefix]
        with torch.no_grad():
            assert torch.allclose(model.eval()(X), decoder(encoder(X)), atol=1e-4)
    imnet = tiny_split_encoder()
    assert load_pretrained_encoder(imnet, path, prefix="imnet_model").complete
    with torch.no_grad():
        got, expected = imnet.eval()(X), networks["imnet_model"][0](X)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(got, expected, strict=True))


def test_own_checkpoint_of_a_cnn_segmentor_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = randomised(build_segmentor("r50v1c", "segformer", decoder_channels=32))
    save_segmentor_checkpoint(source, path := tmp_path / "model.pt")
    rebuilt = build_segmentor_from_checkpoint(path).eval()
    assert rebuilt.spec == source.spec
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), source(x))
    with pytest.raises(ValueError, match="encoder='r50v1c', the model has encoder='r101v1c'"):
        load_segmentor_checkpoint(build_segmentor("r101v1c", "segformer", decoder_channels=32), path)
