"""Build a segmentor from explicit arguments, a ``ModelConfig``, or one of our checkpoints.

No registry: which config name builds which network is the ``ENCODERS`` and ``DECODERS`` tables
below (typed by the config's ``EncoderName`` and ``DecoderName``); an unknown name is an error that
lists the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from torch import nn

from trainer.config.schema import DecoderName, EncoderName
from trainer.models.checkpoint import load_pretrained_encoder, load_segmentor_checkpoint, read_segmentor_spec
from trainer.models.daformer_head import (
    daformer,
    daformer_aspp,
    daformer_conv1,
    daformer_isa,
    daformer_sepaspp_bottleneck,
)
from trainer.models.danet_head import da_nodbn
from trainer.models.dlv2_head import dlv2red
from trainer.models.encoder import stage_channels
from trainer.models.isa_head import isa_nodbn
from trainer.models.mix_transformer import mit_b0, mit_b1, mit_b2, mit_b3, mit_b4, mit_b5
from trainer.models.resnest import s50, s101, s200
from trainer.models.resnet import DilatedResNet, r50v1c, r101v1c
from trainer.models.segformer_head import segformer
from trainer.models.segmentor import Segmentor, SegmentorSpec
from trainer.models.sep_aspp_head import dlv3p_nodbn, sfa_dlv3p_nodbn
from trainer.models.uper_head import upernet

if TYPE_CHECKING:
    from trainer.config import ModelConfig

EncoderFactory = Callable[[float], nn.Module]
"""Builds a randomly initialised encoder from ``drop_path_rate``."""


def _no_drop_path(constructor: Callable[[], DilatedResNet]) -> EncoderFactory:
    """The reference's ResNet-V1c / ResNeSt have no stochastic depth: ``drop_path_rate`` is MiT's only."""

    def build(drop_path_rate: float) -> nn.Module:
        return constructor()

    return build


ENCODERS: dict[EncoderName, EncoderFactory] = {
    "mit_b0": mit_b0,
    "mit_b1": mit_b1,
    "mit_b2": mit_b2,
    "mit_b3": mit_b3,
    "mit_b4": mit_b4,
    "mit_b5": mit_b5,
    "r50v1c": _no_drop_path(r50v1c),
    "r101v1c": _no_drop_path(r101v1c),
    "s50": _no_drop_path(s50),
    "s101": _no_drop_path(s101),
    "s200": _no_drop_path(s200),
}
"""Config encoder name -> constructor: MiT-B0..B5 (SegFormer), ResNet-V1c and ResNeSt (output stride 8)."""

ENCODER_NAMES: tuple[str, ...] = tuple(ENCODERS)


class DecoderConstructor(Protocol):
    """Builds a head over the 4 encoder stages' widths; ``channels`` is its width (unused by dlv2red)."""

    def __call__(self, *, in_channels: tuple[int, ...], num_classes: int, channels: int) -> nn.Module: ...


DECODERS: dict[DecoderName, DecoderConstructor] = {
    "daformer": daformer,  # the reference's daformer_sepaspp (Table 7, last row)
    "segformer": segformer,  # Tables 1-3 with 768 channels
    "dlv2red": dlv2red,  # Table 1 (and 3, 4)
    "da_nodbn": da_nodbn,  # Table 1; channels 512
    "isa_nodbn": isa_nodbn,  # Table 1; channels 512
    "dlv3p_nodbn": dlv3p_nodbn,  # Tables 1, 2; channels 512
    "sfa_dlv3p_nodbn": sfa_dlv3p_nodbn,  # Table 2; channels 512
    "upernet": upernet,  # Table 7; channels 512 (upernet) or 256 (upernet_ch256)
    "daformer_conv1": daformer_conv1,  # Table 7
    "daformer_isa": daformer_isa,  # Table 7
    "daformer_sepaspp_bottleneck": daformer_sepaspp_bottleneck,  # Table 7
    "daformer_aspp": daformer_aspp,  # Table 7
}
DECODER_NAMES: tuple[str, ...] = tuple(DECODERS)


def build_encoder(name: str, drop_path_rate: float = 0.1) -> nn.Module:
    """The named encoder, randomly initialised; it provides ``out_channels`` and ``strides``."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; expected one of {', '.join(ENCODER_NAMES)}")
    return ENCODERS[cast(EncoderName, name)](drop_path_rate)


def build_decoder(name: str, in_channels: tuple[int, ...], num_classes: int, channels: int) -> nn.Module:
    """The named decoder head over encoder widths ``in_channels``; ``channels`` is its width."""
    if name not in DECODERS:
        raise ValueError(f"unknown decoder {name!r}; expected one of {', '.join(DECODER_NAMES)}")
    constructor = DECODERS[name]
    return constructor(in_channels=tuple(in_channels), num_classes=num_classes, channels=channels)


def build_segmentor(
    encoder: str = "mit_b5",
    decoder: str = "daformer",
    num_classes: int = 19,
    drop_path_rate: float = 0.1,
    decoder_channels: int = 256,
    pretrained: str | Path | None = None,
) -> Segmentor:
    """Build the DAFormer network (or an ablation of it).

    Args:
        encoder: a name of ``ENCODERS``: MiT size ``mit_b0`` .. ``mit_b5`` (DAFormer: ``mit_b5``),
            ResNet-V1c ``r50v1c`` / ``r101v1c`` or ResNeSt ``s50`` / ``s101`` / ``s200``.
        decoder: a key of ``DECODERS``: ``daformer`` (context-aware ASPP fusion), ``segformer``
            (all-MLP head), or a head of the paper's Tables 1, 2 and 7.
        num_classes: output classes (19 for Cityscapes).
        drop_path_rate: stochastic depth at the last MiT block, rising linearly from 0 (MiT only).
        decoder_channels: width of the head (DAFormer 256; SegFormer 256 or 768; the reference's
            DANet, ISA, DeepLabV3+ and UPerNet 512, upernet_ch256 256; unused by dlv2red).
        pretrained: the encoder's ImageNet file (SegFormer ``mit_b*.pth``, open-mmlab
            ``resnet*_v1c`` / ``resnest*_d2``); the head stays random. Every encoder weight must be
            present in the file (ValueError naming the file and the missing keys otherwise).
    """
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; expected one of {', '.join(ENCODER_NAMES)}")
    if decoder not in DECODER_NAMES:
        raise ValueError(f"unknown decoder {decoder!r}; expected one of {', '.join(DECODER_NAMES)}")
    if num_classes <= 0 or decoder_channels <= 0:
        raise ValueError(
            f"num_classes and decoder_channels must be positive, got {num_classes} and {decoder_channels}"
        )
    backbone = build_encoder(encoder, drop_path_rate)
    if pretrained is not None:
        load_pretrained_encoder(backbone, pretrained, strict=True)
    head = build_decoder(decoder, stage_channels(backbone), num_classes, decoder_channels)
    return Segmentor(backbone, head, SegmentorSpec(encoder, decoder, num_classes, decoder_channels))


def build_segmentor_from_config(cfg: ModelConfig) -> Segmentor:
    """``build_segmentor`` with the fields of ``trainer.config.ModelConfig`` (``cfg.model``)."""
    return build_segmentor(
        encoder=cfg.encoder,
        decoder=cfg.decoder,
        num_classes=cfg.num_classes,
        drop_path_rate=cfg.drop_path_rate,
        decoder_channels=cfg.decoder_channels,
        pretrained=cfg.pretrained,
    )


def build_segmentor_from_checkpoint(path: str | Path, drop_path_rate: float = 0.0) -> Segmentor:
    """Rebuild a segmentor saved by ``save_segmentor_checkpoint`` (its metadata names the network)."""
    spec = read_segmentor_spec(path)
    model = build_segmentor(
        spec.encoder, spec.decoder, spec.num_classes, drop_path_rate, spec.decoder_channels, pretrained=None
    )
    load_segmentor_checkpoint(model, path, strict=True)
    return model
