"""HRDA/MIC config checks, the synchronised sub-crop, and RCS with HRDA's min_crop_ratio 2.0."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from trainer.config import TrainConfig, config_from_dict
from trainer.data.rcs import RareClassSampler
from trainer.uda.sync_crop import sync_crop


def test_defaults_stay_the_plain_daformer() -> None:
    assert config_from_dict({"model": {"hrda": {"enabled": True}}}).model.hrda.enabled  # 512 detail in 512
    cfg = TrainConfig()
    assert not cfg.model.hrda.enabled and not cfg.uda.mic.enabled and cfg.data.sync_crop_size is None
    assert cfg.uda.pseudo_label.crop_pseudo_margins is None and not cfg.uda.mic.separate_teacher


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"model": {"hrda": {"scales": [0.5, 0.75]}}}, "model.hrda.scales"),
        ({"model": {"hrda": {"hr_crop_size": [500, 500]}}}, "crop_coord_divisible"),
        ({"model": {"hrda": {"hr_loss_weight": 0.6, "lr_loss_weight": 0.5}}}, "hr_loss_weight"),
        ({"uda": {"mic": {"mask_alpha": 1.5}}}, "mask_alpha"),
        ({"uda": {"mic": {"mask_pseudo_threshold": 2.0}}}, "mask_pseudo_threshold"),
        ({"uda": {"mode": "source_only", "mic": {"enabled": True}}}, "separatesrc"),
        ({"data": {"sync_crop_size": [600, 600]}}, "data.sync_crop_size"),
        ({"data": {"crop_size": [1024, 1024], "sync_crop_size": [256, 256]},
          "model": {"hrda": {"enabled": True}}}, "hr_crop_size"),
    ],
)
def test_bad_hrda_and_mic_settings_name_the_field(data: dict, field: str) -> None:
    with pytest.raises((ValidationError, ValueError), match=field):
        config_from_dict(data)


def test_sync_crop_cuts_source_and_target_at_the_same_place() -> None:
    grid = torch.arange(16.0).view(1, 1, 4, 4).expand(2, 3, 4, 4)
    src = {"img": grid, "label": grid[:, 0].long()}
    tgt = {"img": grid + 100, "valid": grid[:, 0]}
    gen = torch.Generator().manual_seed(0)
    out_src, out_tgt = sync_crop(src, tgt, (2, 2), gen)
    assert out_tgt is not None and out_src["img"].shape == (2, 3, 2, 2) and out_tgt["valid"].shape == (2, 2, 2)
    assert torch.equal(out_tgt["img"] - 100, out_src["img"])
    assert torch.equal(out_tgt["valid"], out_src["label"].float())
    corners = {int(sync_crop(src, None, (2, 2), gen)[0]["label"][0, 0, 0]) for _ in range(200)}
    assert corners == {0, 1, 2, 4, 5, 6, 8, 9, 10}  # every offset 0..2 in both directions


def test_rcs_recrop_needs_more_than_6000_pixels_with_ratio_2() -> None:
    rcs = RareClassSampler([("a.png", {3: 5000})], ["a.png"], 0.01, 3000, 2.0, 10)
    crop = np.zeros((1024, 1024), dtype=np.uint8)
    crop.flat[:6000] = 3
    assert rcs.min_crop_pixels == 6000 and not rcs.crop_has_class(crop, 3)
    crop.flat[6000] = 3
    assert rcs.crop_has_class(crop, 3)
    assert config_from_dict({"uda": {"rcs": {"min_crop_ratio": 2.0}}}).uda.rcs.min_crop_ratio == 2.0
