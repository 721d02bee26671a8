"""Which weight-file keys belong to which encoder, per family, and whether a file's network is ours.

The checkpoint loaders (``trainer.models.checkpoint``) are family-blind; they ask here for
- ``convert_encoder_key``: one key of the reference's encoder layout in ours (None: drop it), i.e.
  the family's ``checkpoint_filter_fn`` applied key by key (MiT: SegFormer's flat ``block1.0...``
  and ``head.*``; ResNet-V1c / ResNeSt: open-mmlab's ``stem.N`` and ``fc.*``);
- ``check_encoder_architecture``: a clear error when a file holds another size or family (a
  ResNet-50 file for a ResNet-101, a MiT-B0 for a B5), naming both, before any key is compared.
An encoder of another family passes its keys through unchanged and is checked by key and shape only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from trainer.models import mix_transformer, resnet
from trainer.models.mix_transformer import _MIT_SIZES, MixVisionTransformer
from trainer.models.resnet import DilatedResNet


def convert_encoder_key(encoder: nn.Module, key: str) -> str | None:
    """``key`` (encoder-relative, reference layout) in ``encoder``'s layout; None for classifier keys."""
    if isinstance(encoder, MixVisionTransformer):
        return mix_transformer.convert_reference_key(key)
    if isinstance(encoder, DilatedResNet):
        return resnet.convert_reference_key(key)
    return key


def check_encoder_architecture(encoder: nn.Module, state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Refuse weights of another encoder size or family, naming both; ``state`` in our encoder layout."""
    if isinstance(encoder, MixVisionTransformer):
        _check_mit(encoder, state, path)
    elif isinstance(encoder, DilatedResNet):
        _check_resnet(encoder, state, path)


def _check_resnet(encoder: DilatedResNet, state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    found = resnet.architecture_of(state)
    if found is None:
        raise ValueError(f"{path} holds no ResNet/ResNeSt encoder weights (no stem.0 / conv1.0 conv)")
    expected = resnet.architecture_of(encoder.state_dict())
    assert expected is not None  # every DilatedResNet has a deep stem
    if found != expected:
        raise ValueError(
            f"{path} holds {resnet.describe_architecture(found)} weights but the model's encoder is "
            f"{resnet.describe_architecture(expected)}"
        )


def _mit_name(dims: tuple[int, ...], depths: tuple[int, ...]) -> str:
    for name, size in _MIT_SIZES.items():
        if size == (dims, depths):
            return name
    return f"a MiT with dims {list(dims)} depths {list(depths)}"


def _check_mit(encoder: MixVisionTransformer, state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    if not any(key.startswith("stages.") for key in state):
        raise ValueError(f"{path} holds no MiT encoder weights (no patch_embed/block/norm keys)")
    dims, depths = [], []
    for i in range(len(encoder.stages)):
        weight = state.get(f"stages.{i}.patch_embed.proj.weight")
        dims.append(int(weight.shape[0]) if weight is not None else -1)
        blocks = {key.split(".")[3] for key in state if key.startswith(f"stages.{i}.blocks.")}
        depths.append(len(blocks))
    found, expected = (tuple(dims), tuple(depths)), (encoder.embed_dims, encoder.depths)
    if found != expected:
        raise ValueError(
            f"{path} holds {_mit_name(*found)} weights but the model's encoder is {_mit_name(*expected)}"
        )
