"""MiT encoder: exact parameter counts, shapes at any size, attention maths, init, norms, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from trainer.models.mix_transformer import (
    ENCODER_NAMES,
    EfficientSelfAttention,
    MixVisionTransformer,
    OverlapPatchEmbed,
    checkpoint_filter_fn,
    convert_reference_key,
    create_mit,
    mit_b0,
)

torch.set_num_threads(1)

REFERENCE_COUNTS = {
    "mit_b0": 3_319_392,
    "mit_b1": 13_151_424,
    "mit_b2": 24_196_288,
    "mit_b3": 44_072_128,
    "mit_b4": 60_842_688,
    "mit_b5": 81_443_008,
}


@pytest.mark.parametrize("name", list(REFERENCE_COUNTS))
def test_parameter_count_equals_reference(name: str) -> None:
    with torch.device("meta"):
        encoder = create_mit(name)
    assert sum(p.numel() for p in encoder.parameters()) == REFERENCE_COUNTS[name]


def test_encoder_names_are_the_six_sizes() -> None:
    assert ENCODER_NAMES == tuple(REFERENCE_COUNTS)


@pytest.mark.parametrize(("height", "width"), [(64, 64), (67, 95), (33, 130)])
def test_four_maps_at_strides_4_8_16_32(height: int, width: int) -> None:
    encoder = mit_b0().eval()
    with torch.no_grad():
        features = encoder(torch.randn(2, 3, height, width))
    size_h, size_w = height, width
    for feature, channels, stride in zip(features, (32, 64, 160, 256), (4, 2, 2, 2), strict=True):
        # each conv has padding k//2: out = floor((n + 2p - k) / s) + 1 = ceil(n / s) for these kernels
        size_h, size_w = math.ceil(size_h / stride), math.ceil(size_w / stride)
        assert feature.shape == (2, channels, size_h, size_w)
    assert features[0].shape[2:] == (math.ceil(height / 4), math.ceil(width / 4))


def test_layernorm_eps_blocks_and_stage_ends_1e6_patch_embed_and_sr_1e5() -> None:
    encoder = mit_b0()
    for stage in encoder.stages:
        assert stage.norm.eps == 1e-6
        assert stage.patch_embed.norm.eps == 1e-5
        for block in stage.blocks:
            assert block.norm1.eps == 1e-6 and block.norm2.eps == 1e-6
            if block.attn.sr_ratio > 1:
                assert block.attn.norm.eps == 1e-5


def test_patch_embeds_and_sr_ratios() -> None:
    encoder = mit_b0()
    kernels = [stage.patch_embed.proj for stage in encoder.stages]
    assert [(c.kernel_size, c.stride, c.padding) for c in kernels] == [
        ((7, 7), (4, 4), (3, 3)),
        ((3, 3), (2, 2), (1, 1)),
        ((3, 3), (2, 2), (1, 1)),
        ((3, 3), (2, 2), (1, 1)),
    ]
    assert [stage.blocks[0].attn.sr_ratio for stage in encoder.stages] == [8, 4, 2, 1]
    assert [stage.blocks[0].attn.num_heads for stage in encoder.stages] == [1, 2, 5, 8]
    assert not hasattr(encoder.stages[3].blocks[0].attn, "sr")
    dwconv = encoder.stages[0].blocks[0].mlp.dwconv
    assert dwconv.groups == 128 and dwconv.kernel_size == (3, 3) and dwconv.bias is not None
    assert encoder.stages[0].blocks[0].attn.q.bias is not None  # qkv bias


def test_drop_path_rises_linearly_over_all_blocks() -> None:
    encoder = create_mit("mit_b2", drop_path_rate=0.1)  # 16 blocks: 0, 0.1/15, ..., 0.1
    rates = []
    for stage in encoder.stages:
        for block in stage.blocks:
            rates.append(block.drop_path.drop_prob if not isinstance(block.drop_path, nn.Identity) else 0.0)
    assert len(rates) == 16
    assert rates == pytest.approx([0.1 * i / 15 for i in range(16)])


def _explicit_attention(
    attn: EfficientSelfAttention, x: torch.Tensor, height: int, width: int
) -> torch.Tensor:
    """The reference's maths, written out: softmax(q k^T * d^-0.5) v over a reduced k/v sequence."""
    batch, tokens, dim = x.shape
    heads, head_dim = attn.num_heads, dim // attn.num_heads
    q = (x @ attn.q.weight.T + attn.q.bias).reshape(batch, tokens, heads, head_dim).permute(0, 2, 1, 3)
    source = x
    if attn.sr_ratio > 1:
        grid = x.permute(0, 2, 1).reshape(batch, dim, height, width)
        reduced = nn.functional.conv2d(grid, attn.sr.weight, attn.sr.bias, stride=attn.sr_ratio)
        source = nn.functional.layer_norm(
            reduced.reshape(batch, dim, -1).permute(0, 2, 1), (dim,), attn.norm.weight, attn.norm.bias, 1e-5
        )
    kv = (source @ attn.kv.weight.T + attn.kv.bias).reshape(batch, -1, 2, heads, head_dim)
    kv = kv.permute(2, 0, 3, 1, 4)
    k, v = kv[0], kv[1]
    weights = torch.softmax((q @ k.transpose(-2, -1)) * head_dim**-0.5, dim=-1)
    out = (weights @ v).permute(0, 2, 1, 3).reshape(batch, tokens, dim)
    return out @ attn.proj.weight.T + attn.proj.bias


@pytest.mark.parametrize(("sr_ratio", "heads"), [(1, 2), (2, 5), (4, 1)])
def test_attention_equals_explicit_softmax(sr_ratio: int, heads: int) -> None:
    torch.manual_seed(0)
    attn = EfficientSelfAttention(dim=40, num_heads=heads, sr_ratio=sr_ratio).eval()
    for param in attn.parameters():  # non-trivial biases too
        nn.init.normal_(param, 0, 0.2)
    height, width = 8, 12
    x = torch.randn(2, height * width, 40)
    with torch.no_grad():
        assert torch.allclose(attn(x, height, width), _explicit_attention(attn, x, height, width), atol=1e-5)


def test_init_follows_reference() -> None:
    torch.manual_seed(0)
    encoder = create_mit("mit_b1")
    fc1 = encoder.stages[2].blocks[0].mlp.fc1  # 320 -> 1280
    # timm's trunc_normal_ cuts at +-2 absolute (a=-2, b=2), as in the reference: in effect a plain normal
    assert abs(fc1.weight.std().item() - 0.02) < 0.001 and fc1.weight.abs().max() > 0.06
    assert torch.all(fc1.bias == 0)
    proj = encoder.stages[0].patch_embed.proj  # fan_out = 7*7*64 -> std sqrt(2/3136) = 0.02525
    assert abs(proj.weight.std().item() - math.sqrt(2 / 3136)) < 0.002
    dwconv = encoder.stages[2].blocks[0].mlp.dwconv  # groups 1280: fan_out = 3*3*1280/1280 = 9 -> std 0.4714
    assert abs(dwconv.weight.std().item() - math.sqrt(2 / 9)) < 0.02
    norm = encoder.stages[1].blocks[0].norm1
    assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)


def test_wrong_channel_count_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="3 channels"):
        mit_b0()(torch.randn(1, 4, 32, 32))


def test_unknown_encoder_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="mit_b0, mit_b1, mit_b2, mit_b3, mit_b4, mit_b5"):
        create_mit("mit_b9")


def test_wrong_stage_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="4 entries"):
        MixVisionTransformer(embed_dims=(8, 16, 24), depths=(1, 1, 1))
    with pytest.raises(ValueError, match="divisible"):
        EfficientSelfAttention(dim=10, num_heads=3)


def test_overlap_patch_embed_odd_sizes() -> None:
    embed = OverlapPatchEmbed(3, 8, patch_size=7, stride=4)
    tokens, height, width = embed(torch.randn(1, 3, 13, 9))
    assert (height, width) == (4, 3) and tokens.shape == (1, 12, 8)


def test_reference_key_conversion_hand_written_examples() -> None:
    cases = {
        "patch_embed1.proj.weight": "stages.0.patch_embed.proj.weight",
        "patch_embed4.norm.bias": "stages.3.patch_embed.norm.bias",
        "block1.0.norm1.weight": "stages.0.blocks.0.norm1.weight",
        "block3.17.attn.kv.weight": "stages.2.blocks.17.attn.kv.weight",
        "block1.1.attn.sr.weight": "stages.0.blocks.1.attn.sr.weight",
        "block2.0.attn.norm.bias": "stages.1.blocks.0.attn.norm.bias",
        "block1.0.mlp.dwconv.dwconv.weight": "stages.0.blocks.0.mlp.dwconv.weight",
        "block4.2.mlp.fc2.bias": "stages.3.blocks.2.mlp.fc2.bias",
        "norm1.weight": "stages.0.norm.weight",
        "norm4.bias": "stages.3.norm.bias",
        "stages.0.norm.bias": "stages.0.norm.bias",
    }
    for reference, ours in cases.items():
        assert convert_reference_key(reference) == ours
    assert convert_reference_key("head.weight") is None
    converted = checkpoint_filter_fn({"head.bias": torch.zeros(1), "norm2.bias": torch.ones(2)})
    assert list(converted) == ["stages.1.norm.bias"]


def test_channels_last_and_bf16_autocast_agree_with_fp32() -> None:
    torch.manual_seed(0)
    encoder = mit_b0().eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        reference = encoder(x)
        last = encoder.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = encoder(x)
    for ref, cl, bf in zip(reference, last, low, strict=True):
        assert torch.allclose(ref, cl, atol=1e-4)
        assert bf.dtype in (torch.bfloat16, torch.float32) and torch.isfinite(bf).all()
        assert (bf.float() - ref).abs().mean() < 0.05 * ref.abs().mean() + 1e-3
