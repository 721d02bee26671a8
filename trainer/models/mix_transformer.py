"""Mix Transformer (MiT-B0..B5), the hierarchical encoder of SegFormer used by DAFormer (spec: Network).

timm has no MiT, so it is written here from timm's layers and in timm's file order: blocks,
model class, checkpoint conversion (``checkpoint_filter_fn``), constructors for each size.

Modules are grouped per stage (``stages.{i}.patch_embed / blocks / norm``) instead of the
reference's flat ``patch_embed1 / block1 / norm1`` attributes; ``checkpoint_filter_fn`` maps the
published SegFormer key layout onto ours, so the ImageNet ``mit_b*.pth`` files load unchanged.
Parameter counts equal the reference exactly (B0 3,319,392 ... B5 81,443,008; no classifier).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import torch
import torch.nn.functional as F
from timm.layers import DropPath, to_2tuple, trunc_normal_
from torch import nn

# ---------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------


class OverlapPatchEmbed(nn.Module):
    """Strided conv whose kernel overlaps its neighbours (7x7 s4 or 3x3 s2), then LayerNorm (eps 1e-5).

    Padding is kernel // 2, so any input size works: the output grid is ceil-like, not a multiple.
    """

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int, stride: int) -> None:
        super().__init__()
        kernel = to_2tuple(patch_size)
        padding = (kernel[0] // 2, kernel[1] // 2)
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel, stride=stride, padding=padding)
        self.norm = nn.LayerNorm(embed_dim)  # reference: default eps 1e-5 here

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        x = self.proj(x)  # (B, C, H, W)
        _, _, height, width = x.shape
        x = x.flatten(2).transpose(1, 2)  # (B, N, C)
        return self.norm(x), height, width


class EfficientSelfAttention(nn.Module):
    """Multi-head attention whose keys/values come from a spatially reduced sequence.

    With ``sr_ratio > 1`` the token grid is shrunk by a conv (kernel = stride = sr_ratio) and a
    LayerNorm (eps 1e-5) before the k/v projection, cutting the cost from N^2 to N^2 / sr^2.
    The product runs through ``F.scaled_dot_product_attention`` (scale head_dim^-0.5, as the
    reference's explicit softmax(q k^T * scale) v), which picks a fused kernel where one exists.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        sr_ratio: int = 1,
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim {dim} must be divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim)  # reference: default eps 1e-5 here

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        batch, tokens, dim = x.shape
        q = self.q(x).reshape(batch, tokens, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, N, d)
        if self.sr_ratio > 1:
            grid = x.transpose(1, 2).reshape(batch, dim, height, width)  # (B, C, H, W)
            x = self.norm(self.sr(grid).flatten(2).transpose(1, 2))  # (B, N / sr^2, C)
        kv = self.kv(x).reshape(batch, -1, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        k, v = kv.unbind(0)  # each (B, h, M, d)
        drop = self.attn_drop if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, scale=self.scale)  # (B, h, N, d)
        out = out.transpose(1, 2).reshape(batch, tokens, dim)
        return self.proj_drop(self.proj(out))


class MixFFN(nn.Module):
    """Linear -> depthwise 3x3 conv (bias) -> GELU -> Linear; the conv leaks position, so MiT needs no
    positional embedding and accepts any image size."""

    def __init__(
        self, dim: int, hidden_dim: int, act_layer: Callable[[], nn.Module] = nn.GELU, drop: float = 0.0
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.dwconv = nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1, groups=hidden_dim, bias=True)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        x = self.fc1(x)  # (B, N, 4C)
        batch, _, hidden = x.shape
        grid = x.transpose(1, 2).reshape(batch, hidden, height, width)  # (B, 4C, H, W)
        x = self.dwconv(grid).flatten(2).transpose(1, 2)  # (B, N, 4C)
        x = self.drop(self.act(x))
        return self.drop(self.fc2(x))


_BLOCK_NORM = partial(nn.LayerNorm, eps=1e-6)  # block and stage-end norms of the reference


class MiTBlock(nn.Module):
    """Pre-norm transformer block: x + DropPath(Attn(LN(x))); x + DropPath(MixFFN(LN(x)))."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        sr_ratio: int,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: Callable[[], nn.Module] = nn.GELU,
        norm_layer: Callable[[int], nn.Module] = _BLOCK_NORM,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = EfficientSelfAttention(dim, num_heads, qkv_bias, attn_drop, drop, sr_ratio)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = MixFFN(dim, int(dim * mlp_ratio), act_layer, drop)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), height, width))
        return x + self.drop_path(self.mlp(self.norm2(x), height, width))


class MiTStage(nn.Module):
    """One resolution level: overlapping patch embedding, ``depth`` blocks, a closing LayerNorm."""

    def __init__(self, patch_embed: OverlapPatchEmbed, blocks: Sequence[MiTBlock], norm: nn.Module) -> None:
        super().__init__()
        self.patch_embed = patch_embed
        self.blocks = nn.ModuleList(blocks)
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        tokens, height, width = self.patch_embed(x)  # (B, N, C)
        for block in self.blocks:
            tokens = block(tokens, height, width)
        tokens = self.norm(tokens)
        return tokens.reshape(batch, height, width, -1).permute(0, 3, 1, 2)  # (B, C, H, W)


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


class MixVisionTransformer(nn.Module):
    """MiT encoder: four stages at strides 4, 8, 16, 32; ``forward`` returns their (B, C, H, W) maps.

    Drop path rises linearly from 0 to ``drop_path_rate`` over all blocks of all stages.
    """

    def __init__(
        self,
        in_chans: int = 3,
        embed_dims: Sequence[int] = (64, 128, 320, 512),
        num_heads: Sequence[int] = (1, 2, 5, 8),
        mlp_ratios: Sequence[float] = (4, 4, 4, 4),
        depths: Sequence[int] = (3, 4, 6, 3),
        sr_ratios: Sequence[int] = (8, 4, 2, 1),
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        act_layer: Callable[[], nn.Module] = nn.GELU,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        lengths = {len(embed_dims), len(num_heads), len(mlp_ratios), len(depths), len(sr_ratios)}
        if lengths != {4}:
            raise ValueError("embed_dims, num_heads, mlp_ratios, depths and sr_ratios need 4 entries each")
        self.in_chans = in_chans
        self.embed_dims = tuple(embed_dims)
        self.depths = tuple(depths)
        self.out_channels = self.embed_dims  # the Encoder contract (trainer.models.encoder)
        self.strides = (4, 8, 16, 32)
        norm_layer = partial(nn.LayerNorm, eps=norm_eps)
        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()  # linear decay rule
        stages = []
        first = 0
        for i, (dim, depth) in enumerate(zip(embed_dims, depths, strict=True)):
            if i == 0:
                patch_embed = OverlapPatchEmbed(in_chans, dim, patch_size=7, stride=4)
            else:
                patch_embed = OverlapPatchEmbed(embed_dims[i - 1], dim, patch_size=3, stride=2)
            blocks = [
                MiTBlock(
                    dim, num_heads[i], mlp_ratios[i], sr_ratios[i], qkv_bias, drop_rate, attn_drop_rate,
                    rates[first + j], act_layer, norm_layer,
                )  # fmt: skip
                for j in range(depth)
            ]
            stages.append(MiTStage(patch_embed, blocks, norm_layer(dim)))
            first += depth
        self.stages = nn.ModuleList(stages)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(
                f"MiT expected an image batch (B, {self.in_chans}, H, W) with {self.in_chans} channels, "
                f"got shape {tuple(x.shape)}"
            )
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features  # strides 4, 8, 16, 32


def _init_weights(module: nn.Module) -> None:
    """The reference's init: trunc-normal(0.02) Linear, fan-out normal conv (fan-out per group), LN 1/0."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)


# ---------------------------------------------------------------------------------------------
# Checkpoint conversion
# ---------------------------------------------------------------------------------------------

_REFERENCE_KEY = re.compile(r"^(patch_embed|block|norm)([1-4])\.(.*)$")


def convert_reference_key(key: str) -> str | None:
    """Map one SegFormer/mmseg MiT key onto this module's layout; None for the unused classifier.

    ``patch_embed2.proj.weight`` -> ``stages.1.patch_embed.proj.weight``;
    ``block1.0.mlp.dwconv.dwconv.weight`` -> ``stages.0.blocks.0.mlp.dwconv.weight``;
    ``norm4.bias`` -> ``stages.3.norm.bias``. Keys already in our layout pass through.
    """
    if key.startswith("head."):
        return None
    match = _REFERENCE_KEY.match(key)
    if match is None:
        return key
    kind, level, rest = match.groups()
    stage = int(level) - 1
    if kind == "patch_embed":
        return f"stages.{stage}.patch_embed.{rest}"
    if kind == "norm":
        return f"stages.{stage}.norm.{rest}"
    return f"stages.{stage}.blocks.{rest.replace('mlp.dwconv.dwconv.', 'mlp.dwconv.')}"


def checkpoint_filter_fn(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert a SegFormer ImageNet ``mit_b*.pth`` state dict (flat keys, ``head.*`` classifier)."""
    converted: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new_key = convert_reference_key(key)
        if new_key is not None:
            converted[new_key] = value
    return converted


# ---------------------------------------------------------------------------------------------
# Constructors
# ---------------------------------------------------------------------------------------------

_MIT_SIZES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    # name: (embed_dims, depths); heads (1,2,5,8), mlp ratio 4, sr (8,4,2,1) for all sizes
    "mit_b0": ((32, 64, 160, 256), (2, 2, 2, 2)),
    "mit_b1": ((64, 128, 320, 512), (2, 2, 2, 2)),
    "mit_b2": ((64, 128, 320, 512), (3, 4, 6, 3)),
    "mit_b3": ((64, 128, 320, 512), (3, 4, 18, 3)),
    "mit_b4": ((64, 128, 320, 512), (3, 8, 27, 3)),
    "mit_b5": ((64, 128, 320, 512), (3, 6, 40, 3)),
}
ENCODER_NAMES: tuple[str, ...] = tuple(_MIT_SIZES)


def encoder_dims(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(embed_dims, depths) of a named MiT size; ValueError listing the valid names otherwise."""
    if name not in _MIT_SIZES:
        raise ValueError(f"unknown encoder {name!r}; expected one of {', '.join(ENCODER_NAMES)}")
    return _MIT_SIZES[name]


def create_mit(name: str, drop_path_rate: float = 0.1, in_chans: int = 3) -> MixVisionTransformer:
    """Build a standard SegFormer MiT size by name (``mit_b0`` .. ``mit_b5``), randomly initialised."""
    embed_dims, depths = encoder_dims(name)
    return MixVisionTransformer(
        in_chans=in_chans, embed_dims=embed_dims, num_heads=(1, 2, 5, 8), mlp_ratios=(4, 4, 4, 4),
        depths=depths, sr_ratios=(8, 4, 2, 1), qkv_bias=True, drop_path_rate=drop_path_rate,
    )  # fmt: skip


def mit_b0(drop_path_rate: float = 0.1) -> MixVisionTransformer:
    """MiT-B0: dims (32, 64, 160, 256), depths (2, 2, 2, 2); 3,319,392 parameters."""
    return create_mit("mit_b0", drop_path_rate)


def mit_b1(drop_path_rate: float = 0.1) -> MixVisionTransformer:
    """MiT-B1: dims (64, 128, 320, 512), depths (2, 2, 2, 2); 13,151,424 parameters."""
    return create_mit("mit_b1", drop_path_rate)


def mit_b2(drop_path_rate: float = 0.1) -> MixVisionTransformer:
    """MiT-B2: depths (3, 4, 6, 3); 24,196,288 parameters."""
    return create_mit("mit_b2", drop_path_rate)


def mit_b3(drop_path_rate: float = 0.1) -> MixVisionTransformer:
    """MiT-B3: depths (3, 4, 18, 3); 44,072,128 parameters."""
    return create_mit("mit_b3", drop_path_rate)


def mit_b4(drop_path_rate: float = 0.1) -> MixVisionTransformer:
    """MiT-B4: depths (3, 8, 27, 3); 60,842,688 parameters."""
    return create_mit("mit_b4", drop_path_rate)


def mit_b5(drop_path_rate: float = 0.1) -> MixVisionTransformer:
    """MiT-B5, DAFormer's encoder: depths (3, 6, 40, 3); 81,443,008 parameters."""
    return create_mit("mit_b5", drop_path_rate)
