"""The DAFormer network: MiT encoder, DAFormer/SegFormer decoder heads, segmentor, weight loading.

Spec: /work/shared/spec/daformer.md, "Network". Entry points: ``build_segmentor`` (explicit
keyword arguments), ``build_segmentor_from_config`` (``cfg.model``), and the loaders of
``trainer.models.checkpoint``.
"""

from trainer.models.builder import (
    DECODER_NAMES,
    build_decoder,
    build_segmentor,
    build_segmentor_from_checkpoint,
    build_segmentor_from_config,
)
from trainer.models.checkpoint import (
    LoadReport,
    load_checkpoint_into,
    load_pretrained_encoder,
    load_segmentor_checkpoint,
    save_segmentor_checkpoint,
)
from trainer.models.daformer_head import DAFormerHead
from trainer.models.hrda import HRDAOutput, HRDASegmentor, wrap_hrda
from trainer.models.mix_transformer import ENCODER_NAMES, MixVisionTransformer, create_mit
from trainer.models.network import build_network_from_config
from trainer.models.scale_attention_head import ScaleAttentionHead
from trainer.models.segformer_head import SegFormerHead
from trainer.models.segmentor import Segmentor, SegmentorSpec

__all__ = [
    "DECODER_NAMES",
    "ENCODER_NAMES",
    "DAFormerHead",
    "HRDAOutput",
    "HRDASegmentor",
    "LoadReport",
    "MixVisionTransformer",
    "ScaleAttentionHead",
    "SegFormerHead",
    "Segmentor",
    "SegmentorSpec",
    "build_decoder",
    "build_network_from_config",
    "build_segmentor",
    "build_segmentor_from_checkpoint",
    "build_segmentor_from_config",
    "create_mit",
    "load_checkpoint_into",
    "load_pretrained_encoder",
    "load_segmentor_checkpoint",
    "save_segmentor_checkpoint",
    "wrap_hrda",
]
