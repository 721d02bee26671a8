"""Build a segmentor from explicit arguments, a ``ModelConfig``, or one of our checkpoints.

No registry: the valid encoder and decoder names are listed here, and an unknown name is an error
that lists them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from trainer.models.checkpoint import load_pretrained_encoder, load_segmentor_checkpoint, read_segmentor_spec
from trainer.models.daformer_head import DAFormerHead
from trainer.models.mix_transformer import ENCODER_NAMES, create_mit
from trainer.models.segformer_head import SegFormerHead
from trainer.models.segmentor import Segmentor, SegmentorSpec

if TYPE_CHECKING:
    from trainer.config import ModelConfig

DECODER_NAMES: tuple[str, ...] = ("daformer", "segformer")


def build_decoder(name: str, in_channels: tuple[int, ...], num_classes: int, channels: int) -> nn.Module:
    """The named decoder head over encoder widths ``in_channels``; ``channels`` is its embedding width."""
    if name == "daformer":
        return DAFormerHead(in_channels, num_classes, channels=channels)
    if name == "segformer":
        return SegFormerHead(in_channels, num_classes, embed_dim=channels)
    raise ValueError(f"unknown decoder {name!r}; expected one of {', '.join(DECODER_NAMES)}")


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
        encoder: MiT size, ``mit_b0`` .. ``mit_b5`` (DAFormer: ``mit_b5``).
        decoder: ``daformer`` (context-aware ASPP fusion) or ``segformer`` (all-MLP head).
        num_classes: output classes (19 for Cityscapes).
        drop_path_rate: stochastic depth at the last encoder block, rising linearly from 0.
        decoder_channels: embedding/fusion width of the head (DAFormer 256; SegFormer 256 or 768).
        pretrained: SegFormer ImageNet ``mit_b*.pth`` for the encoder; the head stays random.
            Every encoder weight must be present in the file (ValueError otherwise).
    """
    if encoder not in ENCODER_NAMES:
        raise ValueError(f"unknown encoder {encoder!r}; expected one of {', '.join(ENCODER_NAMES)}")
    if decoder not in DECODER_NAMES:
        raise ValueError(f"unknown decoder {decoder!r}; expected one of {', '.join(DECODER_NAMES)}")
    if num_classes <= 0 or decoder_channels <= 0:
        raise ValueError(
            f"num_classes and decoder_channels must be positive, got {num_classes} and {decoder_channels}"
        )
    mit = create_mit(encoder, drop_path_rate=drop_path_rate)
    if pretrained is not None:
        load_pretrained_encoder(mit, pretrained, strict=True)
    head = build_decoder(decoder, mit.embed_dims, num_classes, decoder_channels)
    return Segmentor(mit, head, SegmentorSpec(encoder, decoder, num_classes, decoder_channels))


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
