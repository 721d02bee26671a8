"""The whole network a ``ModelConfig`` describes: the plain segmentor, wrapped by HRDA when asked.

Kept apart from ``builder.py`` (the plain encoder/decoder table) so that the HRDA switch is one
visible step on top of it: ``model.hrda.enabled`` adds the multi-resolution wrapper and its
scale-attention head; everything else is the plain segmentor unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainer.models.builder import build_segmentor_from_config
from trainer.models.hrda import HRDASegmentor, wrap_hrda
from trainer.models.segmentor import Segmentor

if TYPE_CHECKING:
    from trainer.config import HRDAConfig, ModelConfig


def hrda_from_config(base: Segmentor, cfg: HRDAConfig) -> HRDASegmentor:
    """``base`` wrapped with the settings of ``cfg`` (``model.hrda``)."""
    return wrap_hrda(
        base,
        context_scale=cfg.scales[0],
        hr_crop_size=cfg.hr_crop_size,
        attention_classwise=cfg.attention_classwise,
        attention_channels=cfg.attention_channels,
        fixed_attention=cfg.fixed_attention,
        crop_coord_divisible=cfg.crop_coord_divisible,
        hr_slide_inference=cfg.hr_slide_inference,
        hr_slide_overlapping=cfg.hr_slide_overlapping,
        blur_hr_crop=cfg.blur_hr_crop,
    )


def build_network_from_config(cfg: ModelConfig) -> Segmentor | HRDASegmentor:
    """``build_segmentor_from_config``, wrapped by HRDA when ``cfg.hrda.enabled``."""
    base = build_segmentor_from_config(cfg)
    return hrda_from_config(base, cfg.hrda) if cfg.hrda.enabled else base
