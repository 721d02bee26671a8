"""The decoder zoo (architectures.md): the builder's table, parameter counts, reference checkpoint keys.

Counts are checked on the meta device at the reference's widths. The key layouts below are written
from the spec's module structure with mmcv/mmseg naming (``ConvModule`` -> ``conv`` [+ ``bn``],
separable -> ``depthwise_conv``/``pointwise_conv``, plain convs bare), independently of our modules,
and a checkpoint in that layout (mmseg UDA: ``model.backbone.*`` / ``model.decode_head.*``) loads
into a fresh segmentor to the same outputs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
import torch

from trainer.config.schema import DecoderName
from trainer.models import (
    MixVisionTransformer,
    Segmentor,
    SegmentorSpec,
    build_segmentor,
    load_segmentor_checkpoint,
)
from trainer.models.builder import DECODERS, build_decoder

torch.set_num_threads(1)

MIT_B5 = (64, 128, 320, 512)
RESNET = (256, 512, 1024, 2048)

# (decoder, encoder widths, decoder_channels, decoder parameters from architectures.md's table)
SPEC_COUNTS = [
    ("dlv2red", RESNET, 512, 700_454),
    ("da_nodbn", RESNET, 512, 23_952_571),
    ("isa_nodbn", RESNET, 512, 11_811_347),
    ("dlv3p_nodbn", RESNET, 512, 17_686_563),
    ("segformer", RESNET, 768, 5_330_086),
    ("segformer", MIT_B5, 768, 3_167_398),
    ("sfa_dlv3p_nodbn", MIT_B5, 512, 13_699_107),
    ("daformer_conv1", MIT_B5, 256, 530_707),
    ("upernet", MIT_B5, 512, 29_644_307),
    ("upernet", MIT_B5, 256, 8_334_099),  # upernet_ch256
    ("daformer_isa", MIT_B5, 256, 1_058_579),
    ("daformer_sepaspp_bottleneck", MIT_B5, 256, 3_163_155),
    ("daformer_aspp", MIT_B5, 256, 9_969_939),
    ("daformer", MIT_B5, 256, 3_712_275),
]


def test_builder_table_covers_exactly_the_config_names() -> None:
    assert tuple(DECODERS) == get_args(DecoderName)


@pytest.mark.parametrize(("decoder", "widths", "channels", "expected"), SPEC_COUNTS)
def test_decoder_parameters_equal_the_spec(decoder: str, widths: tuple[int, ...], channels: int, expected: int) -> None:
    with torch.device("meta"):
        head = build_decoder(decoder, widths, num_classes=19, channels=channels)
    assert sum(p.numel() for p in head.parameters()) == expected


# (encoder, decoder, decoder_channels, total parameters) of architectures.md's MiT pairs; the ResNet
# and ResNeSt pairs join when those encoders exist (their decoder counts are checked above)
SPEC_MIT_PAIRS = [
    ("mit_b3", "segformer", 768, 47_239_526),
    ("mit_b4", "segformer", 768, 64_010_086),
    ("mit_b5", "segformer", 768, 84_610_406),
    ("mit_b5", "sfa_dlv3p_nodbn", 512, 95_142_115),
    ("mit_b5", "daformer_conv1", 256, 81_973_715),
    ("mit_b5", "upernet", 512, 111_087_315),
    ("mit_b5", "upernet", 256, 89_777_107),
    ("mit_b5", "daformer_isa", 256, 82_501_587),
    ("mit_b5", "daformer_sepaspp_bottleneck", 256, 84_606_163),
    ("mit_b5", "daformer_aspp", 256, 91_412_947),
    ("mit_b5", "daformer", 256, 85_155_283),
]
SPEC_CNN_PAIRS = [
    ("r50v1c", "dlv2red", 256, 24_227_718),
    ("r101v1c", "dlv2red", 256, 43_219_846),
    ("s50", "dlv2red", 256, 26_134_694),
    ("s101", "dlv2red", 256, 46_926_470),
    ("s200", "dlv2red", 256, 68_852_998),
    ("r101v1c", "da_nodbn", 512, 66_471_963),
    ("r101v1c", "isa_nodbn", 512, 54_330_739),
    ("r101v1c", "dlv3p_nodbn", 512, 60_205_955),
    ("r101v1c", "segformer", 768, 47_849_478),
]
"""The encoder/decoder totals of architectures.md for the ResNet-V1c and ResNeSt rows."""


@pytest.mark.slow  # about 2 s per pair: a meta-device MiT-B5 still builds 52 blocks
@pytest.mark.parametrize(("encoder", "decoder", "channels", "expected"), SPEC_MIT_PAIRS)
def test_mit_pair_totals_equal_the_spec(encoder: str, decoder: str, channels: int, expected: int) -> None:
    with torch.device("meta"):
        model = build_segmentor(encoder, decoder, num_classes=19, decoder_channels=channels)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize(("encoder", "decoder", "channels", "expected"), SPEC_CNN_PAIRS)
def test_cnn_pair_totals_equal_the_spec(encoder: str, decoder: str, channels: int, expected: int) -> None:
    with torch.device("meta"):
        model = build_segmentor(encoder, decoder, num_classes=19, decoder_channels=channels)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == expected


# ---- the reference's key layout, written from the spec's module structure -------------------------
def conv(prefix: str) -> list[str]:
    return [f"{prefix}.weight", f"{prefix}.bias"]


def conv_module(prefix: str, norm: bool) -> list[str]:
    if not norm:
        return conv(f"{prefix}.conv")
    bn = [f"{prefix}.bn.{k}" for k in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]
    return [f"{prefix}.conv.weight", *bn]


def separable(prefix: str, norm: bool) -> list[str]:
    return conv_module(f"{prefix}.depthwise_conv", norm) + conv_module(f"{prefix}.pointwise_conv", norm)


def sep_aspp(prefix: str, norm: bool) -> list[str]:
    """``aspp_modules``: a 1x1 ConvModule and three separable branches, then the 3x3 ``bottleneck``."""
    keys = conv_module(f"{prefix}aspp_modules.0", norm)
    for i in (1, 2, 3):
        keys += separable(f"{prefix}aspp_modules.{i}", norm)
    return keys + conv_module(f"{prefix}bottleneck", norm)


def attention(prefix: str, kq_convs: int, conv_modules: bool, norm: bool, output_project: bool) -> list[str]:
    keys: list[str] = []
    for name in ("key_project", "query_project"):
        if kq_convs == 1:
            keys += conv_module(f"{prefix}.{name}", norm) if conv_modules else conv(f"{prefix}.{name}")
        else:
            for i in range(kq_convs):
                keys += conv_module(f"{prefix}.{name}.{i}", norm)
    keys += conv(f"{prefix}.value_project")
    return keys + (conv_module(f"{prefix}.output_project", norm) if output_project else [])


def embeds(levels: range) -> list[str]:
    return [k for i in levels for k in conv(f"embed_layers.{i}.proj")]


def dlv3p() -> list[str]:
    keys = conv_module("image_pool.1", False) + sep_aspp("", False) + conv_module("c1_bottleneck", False)
    return keys + separable("sep_bottleneck.0", False) + separable("sep_bottleneck.1", False) + conv("conv_seg")


REFERENCE_KEYS: dict[str, list[str]] = {
    "dlv2red": conv("aspp_modules.0.conv") + conv("aspp_modules.1.conv"),
    "da_nodbn": conv("conv_seg")
    + [
        k
        for branch in ("pam", "cam")
        for k in conv_module(f"{branch}_in_conv", False)
        + (attention("pam", 1, False, False, False) if branch == "pam" else [])
        + [f"{branch}.gamma.scale"]
        + conv_module(f"{branch}_out_conv", False)
        + conv(f"{branch}_conv_seg")
    ],
    "isa_nodbn": conv_module("in_conv", False)
    + attention("global_relation", 2, True, False, True)
    + attention("local_relation", 2, True, False, True)
    + conv_module("out_conv", False)
    + conv("conv_seg"),
    "dlv3p_nodbn": dlv3p(),
    "sfa_dlv3p_nodbn": dlv3p(),
    "segformer": [k for i in range(4) for k in conv(f"linear_c.{i}.proj")]
    + conv_module("linear_fuse", True)
    + conv("linear_pred")
    + conv("conv_seg"),
    "upernet": [k for i in range(4) for k in conv_module(f"psp_modules.{i}.1", True)]
    + conv_module("bottleneck", True)
    + [k for i in range(3) for k in conv_module(f"lateral_convs.{i}", True) + conv_module(f"fpn_convs.{i}", True)]
    + conv_module("fpn_bottleneck", True)
    + conv("conv_seg"),
    "daformer_conv1": embeds(range(4)) + conv_module("fuse_layer", True) + conv("conv_seg"),
    "daformer_isa": embeds(range(4))
    + conv_module("fuse_layer.in_conv", True)
    + attention("fuse_layer.global_relation", 1, True, True, True)
    + attention("fuse_layer.local_relation", 1, True, True, True)
    + conv("conv_seg"),
    "daformer_sepaspp_bottleneck": embeds(range(3))
    + conv("embed_layers.3.0")
    + sep_aspp("embed_layers.3.1.", True)
    + conv_module("fuse_layer", True)
    + conv("conv_seg"),
    "daformer_aspp": embeds(range(4))
    + [k for i in range(4) for k in conv_module(f"fuse_layer.aspp_modules.{i}", True)]
    + conv_module("fuse_layer.bottleneck", True)
    + conv("conv_seg"),
    "daformer": embeds(range(4)) + sep_aspp("fuse_layer.", True) + conv("conv_seg"),
}

TINY = (8, 16, 24, 32)


def test_every_decoder_has_a_reference_layout() -> None:
    assert set(REFERENCE_KEYS) == set(DECODERS)


@pytest.mark.parametrize("decoder", list(REFERENCE_KEYS))
def test_state_dict_keys_are_the_reference_module_names(decoder: str) -> None:
    head = build_decoder(decoder, TINY, num_classes=5, channels=16)
    assert sorted(head.state_dict()) == sorted(REFERENCE_KEYS[decoder])


def _reference_encoder_keys(encoder: MixVisionTransformer) -> dict[str, torch.Tensor]:
    """Our MiT state in SegFormer's flat layout (``patch_embed1``, ``block1.0``, ``norm1``...)."""
    state = {}
    for key, value in encoder.state_dict().items():
        stage, rest = re.match(r"stages\.(\d)\.(.*)", key).groups()  # type: ignore[union-attr]
        level = int(stage) + 1
        if rest.startswith(("patch_embed.", "norm.")):
            new = rest.replace(".", f"{level}.", 1)
        else:
            new = f"block{level}." + rest.removeprefix("blocks.").replace("mlp.dwconv.", "mlp.dwconv.dwconv.")
        state[new] = value.clone()
    return state


def _tiny_segmentor(decoder: str) -> Segmentor:
    encoder = MixVisionTransformer(embed_dims=TINY, num_heads=(1, 2, 3, 4), depths=(1, 1, 1, 1))
    head = build_decoder(decoder, TINY, num_classes=5, channels=16)
    return Segmentor(encoder, head, SegmentorSpec("custom", decoder, 5, 16))


@pytest.mark.parametrize("decoder", list(REFERENCE_KEYS))
def test_reference_uda_checkpoint_round_trips(decoder: str, tmp_path: Path) -> None:
    """A ``model.decode_head.*`` state under the reference names loads to identical outputs."""
    torch.manual_seed(0)
    source = _tiny_segmentor(decoder).eval()
    generator = torch.Generator().manual_seed(1)
    for tensor in source.decoder.state_dict().values():  # non-default values, BN statistics included
        if tensor.is_floating_point():
            tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.2 + 0.9)
    state = {f"model.backbone.{k}": v for k, v in _reference_encoder_keys(source.encoder).items()}
    ours = source.decoder.state_dict()
    for name in REFERENCE_KEYS[decoder]:  # the file holds the names written above
        state[f"model.decode_head.{name}"] = ours[name].clone()
    state.update({f"ema_model.{k.removeprefix('model.')}": v for k, v in state.items()})
    path = tmp_path / "uda.pth"
    torch.save({"state_dict": state, "meta": {"iter": 40000}}, path)

    torch.manual_seed(2)
    target = _tiny_segmentor(decoder).eval()
    assert load_segmentor_checkpoint(target, path, prefix="ema_model").complete
    x = torch.randn(1, 3, 64, 64, generator=generator)
    with torch.no_grad():
        assert torch.allclose(target(x), source(x), atol=1e-5)
