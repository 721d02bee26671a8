"""The DAFormer network and its ablations: encoders (MiT, ResNet-V1c, ResNeSt), the decoder heads of
Tables 1, 2 and 7, segmentor, weight loading.

Spec: /work/shared/spec/daformer.md, "Network"; architectures.md (Tables 1-4, 7). Entry points:
``build_segmentor`` (explicit keyword arguments), ``build_segmentor_from_config`` (``cfg.model``),
``build_encoder`` (the ``ENCODERS`` table), and the loaders of ``trainer.models.checkpoint``.
"""

from trainer.models.builder import (
    DECODER_NAMES,
    DECODERS,
    ENCODER_NAMES,
    ENCODERS,
    build_decoder,
    build_encoder,
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
from trainer.models.encoder import Encoder
from trainer.models.head_outputs import HeadOutput, LogitsWithAux, main_logits
from trainer.models.hrda import HRDAOutput, HRDASegmentor, wrap_hrda
from trainer.models.mix_transformer import MixVisionTransformer, create_mit
from trainer.models.network import build_network_from_config
from trainer.models.resnet import DilatedResNet
from trainer.models.scale_attention_head import ScaleAttentionHead
from trainer.models.segformer_head import SegFormerHead
from trainer.models.segmentor import Segmentor, SegmentorSpec

__all__ = [
    "DECODERS",
    "DECODER_NAMES",
    "ENCODERS",
    "ENCODER_NAMES",
    "DAFormerHead",
    "DilatedResNet",
    "Encoder",
    "HeadOutput",
    "LogitsWithAux",
    "HRDAOutput",
    "HRDASegmentor",
    "LoadReport",
    "MixVisionTransformer",
    "ScaleAttentionHead",
    "SegFormerHead",
    "Segmentor",
    "SegmentorSpec",
    "build_decoder",
    "build_encoder",
    "build_network_from_config",
    "build_segmentor",
    "build_segmentor_from_checkpoint",
    "build_segmentor_from_config",
    "create_mit",
    "load_checkpoint_into",
    "load_pretrained_encoder",
    "load_segmentor_checkpoint",
    "main_logits",
    "save_segmentor_checkpoint",
    "wrap_hrda",
]
