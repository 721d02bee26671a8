"""MiT with SegFormer's ImageNet classification head, and its export in the ``mit_b*.pth`` layout.

SegFormer's ImageNet models classify from the mean over the tokens of the last stage (after its
LayerNorm, ``norm4``) with one Linear layer ``head``. The released ``mit_b*.pth`` files hold the
encoder under flat keys (``patch_embed1.proj.weight``, ``block1.0.attn.q.weight``, ``norm4.bias``)
plus ``head.weight``/``head.bias``; ``to_reference_state`` writes that layout so that a checkpoint
from ``python -m trainer.pretrain`` goes through the same loader (``load_pretrained_encoder``) as
the real files.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from trainer.models.mix_transformer import MixVisionTransformer

_OURS = re.compile(r"^stages\.([0-3])\.(patch_embed|norm|blocks)\.(.*)$")


class MiTClassifier(nn.Module):
    """``encoder`` + mean over the last stage's tokens + Linear ``head`` (SegFormer's ImageNet model)."""

    def __init__(self, encoder: MixVisionTransformer, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.embed_dims[-1], num_classes)
        nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = self.encoder(x)[-1]  # (B, C, h, w), after the stage's LayerNorm
        return self.head(last.mean(dim=(2, 3)))  # (B, num_classes)


def reference_key(key: str) -> str:
    """Our MiT key in SegFormer's flat layout: the inverse of ``mix_transformer.convert_reference_key``.

    ``stages.1.patch_embed.proj.weight`` -> ``patch_embed2.proj.weight``; ``stages.3.norm.bias`` ->
    ``norm4.bias``; ``stages.0.blocks.0.mlp.dwconv.weight`` -> ``block1.0.mlp.dwconv.dwconv.weight``.
    """
    match = _OURS.match(key)
    if match is None:
        raise ValueError(f"{key!r} is not a MiT encoder key (stages.N.patch_embed|norm|blocks...)")
    stage, kind, rest = match.groups()
    level = int(stage) + 1
    if kind == "blocks":
        return f"block{level}.{rest.replace('mlp.dwconv.', 'mlp.dwconv.dwconv.')}"
    return f"{kind}{level}.{rest}"


def to_reference_state(model: MiTClassifier) -> dict[str, torch.Tensor]:
    """The classifier's weights as SegFormer's ``mit_b*.pth`` holds them (flat encoder keys + ``head.*``)."""
    state = {reference_key(k): v.detach().cpu().clone() for k, v in model.encoder.state_dict().items()}
    state["head.weight"] = model.head.weight.detach().cpu().clone()
    state["head.bias"] = model.head.bias.detach().cpu().clone()
    return state
