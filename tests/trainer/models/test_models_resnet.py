"""ResNet-V1c and ResNeSt encoders: the reference's parameter counts, strides 4/8/8/8, and sameness.

Sameness: an independent network in mmseg's layout (``mmseg_resnet_reference``) writes an open-mmlab
style file (flat keys plus an ImageNet ``fc.*``); our timm-based encoder loads it through
``load_pretrained_encoder`` and must give equal outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
import torch
from mmseg_resnet_reference import ReferenceResNet
from torch import nn

from trainer.config.schema import EncoderName
from trainer.models import ENCODER_NAMES, build_encoder, load_checkpoint_into, load_pretrained_encoder
from trainer.models.resnest import create_resnest
from trainer.models.resnet import (
    REFERENCE_ARCHITECTURES,
    DilatedResNet,
    architecture_of,
    checkpoint_filter_fn,
    convert_reference_key,
    create_resnet_v1c,
    describe_architecture,
)

torch.set_num_threads(1)

REFERENCE_COUNTS = {  # spec: architectures.md, "Parameter counts" (encoder column)
    "r50v1c": 23_527_264,
    "r101v1c": 42_519_392,
    "s50": 25_434_240,
    "s101": 46_226_016,
    "s200": 68_152_544,
}
CNN_NAMES = list(REFERENCE_COUNTS)


def randomised(module: nn.Module) -> nn.Module:
    """Non-default BN statistics and affine parameters, so that loading them matters; eval mode."""
    generator = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=generator) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=generator) * 0.2 - 0.1)
        elif isinstance(m, nn.Conv2d) and m.bias is not None:
            m.bias.data.copy_(torch.rand(m.out_channels, generator=generator) * 0.2 - 0.1)
    return module.eval()


def write_openmmlab_file(reference: nn.Module, path: Path) -> Path:
    """The reference's weights as an open-mmlab ImageNet file: flat keys plus the classifier."""
    state = {key: value.clone() for key, value in reference.state_dict().items()}
    state["fc.weight"], state["fc.bias"] = torch.randn(1000, 2048), torch.randn(1000)
    torch.save({"state_dict": state}, path)
    return path


def assert_same_features(ours: nn.Module, reference: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        expected, got = reference.eval()(x), ours.eval()(x)
    assert len(got) == len(expected) == 4
    for level, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert a.shape == b.shape, f"stage {level + 1}: {tuple(a.shape)} vs {tuple(b.shape)}"
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), f"stage {level + 1}: max diff {(a - b).abs().max()}"


@pytest.mark.parametrize("name", CNN_NAMES)
def test_parameter_count_equals_reference(name: str) -> None:
    with torch.device("meta"):
        encoder = build_encoder(name)
    assert sum(p.numel() for p in encoder.parameters()) == REFERENCE_COUNTS[name]


@pytest.mark.parametrize("name", CNN_NAMES)
def test_stage_shapes_at_512_are_strides_4_8_8_8(name: str) -> None:
    with torch.device("meta"):
        encoder = build_encoder(name)
        features = encoder(torch.empty(2, 3, 512, 512))
    assert encoder.out_channels == (256, 512, 1024, 2048) and encoder.strides == (4, 8, 8, 8)
    expected = [(2, 256, 128, 128), (2, 512, 64, 64), (2, 1024, 64, 64), (2, 2048, 64, 64)]
    assert [tuple(f.shape) for f in features] == expected


def test_encoder_table_covers_every_config_name() -> None:
    assert set(ENCODER_NAMES) == set(get_args(EncoderName))


@pytest.mark.parametrize("name", CNN_NAMES)
def test_architecture_table_matches_the_built_networks(name: str) -> None:
    with torch.device("meta"):
        encoder = build_encoder(name)
    assert architecture_of(encoder.state_dict()) == REFERENCE_ARCHITECTURES[name]
    assert describe_architecture(REFERENCE_ARCHITECTURES[name]) == name


def test_dilations_contract_in_the_first_block_of_dilated_stages() -> None:
    with torch.device("meta"):
        encoder = build_encoder("r50v1c")
    assert isinstance(encoder, DilatedResNet)
    dilations = [[block.conv2.dilation[0] for block in layer] for layer in (encoder.layer3, encoder.layer4)]
    assert dilations == [[1, 2, 2, 2, 2, 2], [2, 4, 4]]
    assert [encoder.layer2[0].conv2.stride, encoder.layer3[0].conv2.stride] == [(2, 2), (1, 1)]
    assert list(encoder.conv1[0].weight.shape) == [32, 3, 3, 3] and list(encoder.bn1.weight.shape) == [64]


def test_openmmlab_keys_convert_to_timm_layout() -> None:
    assert convert_reference_key("stem.0.weight") == "conv1.0.weight"
    assert convert_reference_key("stem.4.running_mean") == "conv1.4.running_mean"
    assert convert_reference_key("stem.7.bias") == "bn1.bias"
    assert convert_reference_key("layer3.0.downsample.1.weight") == "layer3.0.downsample.1.weight"
    assert convert_reference_key("layer1.0.conv2.fc1.bias") == "layer1.0.conv2.fc1.bias"
    assert convert_reference_key("fc.weight") is None
    converted = checkpoint_filter_fn({"fc.bias": torch.zeros(1), "stem.6.weight": torch.ones(1)})
    assert list(converted) == ["conv1.6.weight"]


@pytest.mark.parametrize(
    ("name", "reference_args"),
    [("r50v1c", {"depths": (3, 4, 6, 3)}), ("s50", {"depths": (3, 4, 6, 3), "split": True})],
)
def test_full_size_encoder_equals_the_reference_with_converted_weights(
    name: str, reference_args: dict, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    reference = randomised(ReferenceResNet(**reference_args))
    path = write_openmmlab_file(reference, tmp_path / f"{name}.pth")
    encoder = build_encoder(name)
    report = load_pretrained_encoder(encoder, path)
    assert report.complete
    assert_same_features(encoder, reference, torch.randn(1, 3, 61, 83))


@pytest.mark.parametrize("split", [False, True])
def test_tiny_variants_equal_the_reference(split: bool, tmp_path: Path) -> None:
    """Two blocks per stage and stem width 16 (mmseg stem_channels 32): every block kind, odd sizes."""
    torch.manual_seed(1)
    reference = randomised(ReferenceResNet((2, 2, 2, 2), stem_channels=32, base_channels=8, split=split))
    path = write_openmmlab_file(reference, tmp_path / "tiny.pth")
    create = create_resnest if split else create_resnet_v1c
    encoder = create((2, 2, 2, 2), stem_width=16, channels=(8, 16, 32, 64))
    load_checkpoint_into(encoder, path)
    assert_same_features(encoder, reference, torch.randn(2, 3, 67, 45))
    with torch.no_grad():  # training mode too (batch statistics), where the split attention's BN sees (B, C, 1, 1)
        for a, b in zip(encoder.train()(x := torch.randn(2, 3, 40, 56)), reference.train()(x), strict=True):
            assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)


def _tiny(split: bool = False, depths: tuple[int, ...] = (1, 1, 1, 1)) -> DilatedResNet:
    create = create_resnest if split else create_resnet_v1c
    return create(depths, stem_width=8, channels=(8, 16, 32, 64))


def test_truncated_file_is_refused_naming_file_and_missing_keys(tmp_path: Path) -> None:
    source = ReferenceResNet((1, 1, 1, 1), stem_channels=16, base_channels=8)
    state = {k: v for k, v in source.state_dict().items() if not k.startswith("layer4.0.conv3")}
    torch.save(state, path := tmp_path / "truncated.pth")
    with pytest.raises(ValueError, match=r"truncated\.pth.*missing keys.*layer4\.0\.conv3\.weight"):
        load_pretrained_encoder(_tiny(), path)


def test_missing_batch_counters_are_tolerated(tmp_path: Path) -> None:
    source = ReferenceResNet((1, 1, 1, 1), stem_channels=16, base_channels=8)
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, path := tmp_path / "old.pth")
    assert load_pretrained_encoder(_tiny(), path).complete


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (_tiny, lambda: _tiny(depths=(2, 1, 1, 1)), r"blocks per stage \[1, 1, 1, 1\].*\[2, 1, 1, 1\]"),
        (_tiny, lambda: _tiny(split=True), r"holds a ResNet .* encoder is a ResNeSt"),
        (lambda: build_encoder("mit_b0"), _tiny, "holds no ResNet/ResNeSt encoder weights"),
        (_tiny, lambda: build_encoder("mit_b0"), "holds no MiT encoder weights"),
    ],
)
def test_weights_of_another_network_are_refused_naming_both(
    source: object, target: object, message: str, tmp_path: Path
) -> None:
    torch.save(source().state_dict(), path := tmp_path / "other.pth")  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        load_pretrained_encoder(target(), path)  # type: ignore[operator]


def test_wrong_input_channels_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        _tiny()(torch.zeros(2, 4, 32, 32))
