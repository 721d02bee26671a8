"""Tiny networks and configs for step-level tests of MIC and HRDA (MiT widths 8-32, one block each)."""

from __future__ import annotations

import torch

from trainer.config import TrainConfig, config_from_dict
from trainer.models import DAFormerHead, MixVisionTransformer, Segmentor, SegmentorSpec


def tiny_segmentor(num_classes: int = 4, seed: int = 0) -> Segmentor:
    torch.manual_seed(seed)
    encoder = MixVisionTransformer(
        embed_dims=(8, 16, 24, 32), num_heads=(1, 1, 1, 1), depths=(1, 1, 1, 1), drop_path_rate=0.0
    )
    head = DAFormerHead(encoder.embed_dims, num_classes, channels=16)
    return Segmentor(encoder, head, SegmentorSpec("tiny", "daformer", num_classes, 16))


def tiny_config(**sections: dict) -> TrainConfig:
    """A CPU fp32 config with 4 classes; ``sections`` are nested overrides (e.g. uda={"mic": {...}})."""
    data: dict = {
        "model": {"num_classes": 4},
        "uda": {"fd": {"thing_classes": [2, 3]}, "pseudo_label": {"crop_top": 2, "crop_bottom": 4}},
        "run": {"device": "cpu", "precision": "fp32", "iterations": 10},
    }
    for key, value in sections.items():
        data[key] = _merge(data.get(key, {}), value)
    return config_from_dict(data)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def batches(size: int = 64, seed: int = 1, classes: int = 4) -> tuple[dict, dict]:
    """A labelled (source) and an unlabelled (target) batch of two normalised images."""
    gen = torch.Generator().manual_seed(seed)
    src = {"img": torch.randn(2, 3, size, size, generator=gen),
           "label": torch.randint(0, classes, (2, size, size), generator=gen)}
    tgt = {"img": torch.randn(2, 3, size, size, generator=gen),
           "label": torch.full((2, size, size), 255, dtype=torch.long)}
    return src, tgt
