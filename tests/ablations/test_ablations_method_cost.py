"""Cost of HRDA and MIC in the dry run: pass counts by hand, calibrated on the published 32 h."""

from __future__ import annotations

import pytest

from ablations.expand import estimated_seconds_per_iteration
from ablations.method_cost import estimated_memory_gb, method_cost_factor, method_units
from trainer.config import config_from_dict

HRDA = {
    "model": {"hrda": {"enabled": True}},
    "data": {"crop_size": [1024, 1024]},
    "uda": {"pseudo_label": {"crop_top": 0, "crop_bottom": 0}},
}


def _config(data: dict) -> dict:
    return config_from_dict(data).model_dump(mode="json")


def test_daformer_is_unchanged_and_mic_adds_one_student_pass() -> None:
    daformer = _config({})
    assert method_cost_factor(daformer) == 1.0
    assert estimated_seconds_per_iteration(daformer) == pytest.approx(1.44)
    mic = _config({"uda": {"mic": {"enabled": True, "mask_block_size": 32}}})
    assert method_cost_factor(mic) == pytest.approx(11 / 8)  # 8 units + 3 for the masked pass
    own_teacher = _config({"uda": {"mic": {"enabled": True, "mask_alpha": 0.0}}})
    assert method_cost_factor(own_teacher) == pytest.approx(12 / 8)


def test_full_hrda_costs_the_published_32_hours_and_22_5_gb() -> None:
    hrda = _config(HRDA)
    # 512^2 units: source 3 x (context 1 + detail 1) + teacher (1 + 9 windows) + mixed 6 + FD 1 = 23
    assert method_units(hrda) == pytest.approx(23 * 512**2)
    seconds = estimated_seconds_per_iteration(hrda)
    assert 40_000 * seconds / 3600 == pytest.approx(32.0)  # 2x DAFormer's 16 h
    assert estimated_memory_gb(hrda) == pytest.approx(22.5) and estimated_memory_gb(_config({})) == pytest.approx(9.7)
    no_overlap = _config({**HRDA, "model": {"hrda": {"enabled": True, "hr_slide_overlapping": False}}})
    assert method_units(no_overlap) == pytest.approx(18 * 512**2)  # teacher 1 + 4 windows: 6 + 5 + 6 + 1
    mic_hrda = _config({**HRDA, "uda": {**HRDA["uda"], "mic": {"enabled": True}}})
    assert estimated_seconds_per_iteration(mic_hrda) == pytest.approx(seconds * 29 / 23)
    assert estimated_memory_gb(_config({"model": {"encoder": "mit_b0"}})) is None


def test_sync_crop_shrinks_the_counted_crop() -> None:
    sub = _config({"data": {"crop_size": [1024, 1024], "sync_crop_size": [512, 512]}})
    assert estimated_seconds_per_iteration(sub) == pytest.approx(1.44)  # a 512 DAFormer crop


def test_output_space_methods_count_their_own_passes() -> None:
    """MinEnt: source 3 + target 3 = 6 units against DACS's 7 (no teacher, no mixed pass, no FD);
    AdvSeg adds 9 discriminator forwards of 15.44 / 362.74 of a DeepLabV2 pass each."""
    base = {"model": {"encoder": "r101v1c", "decoder": "dlv2red"}, "uda": {"fd": {"enabled": False}}}
    minent = _config({**base, "uda": {"method": "minent", "fd": {"enabled": False}}})
    assert method_cost_factor(minent) == pytest.approx(6 / 7)
    advseg = _config({**base, "uda": {"method": "advseg", "fd": {"enabled": False}}})
    assert method_units(advseg) == pytest.approx((6 + 9 * 15.44 / 362.74) * 512**2)
    mic = _config({**base, "uda": {"method": "minent", "fd": {"enabled": False}, "mic": {"enabled": True}}})
    assert method_cost_factor(mic) == pytest.approx(10 / 7)  # + masked pass 3 + MIC's own teacher 1
    assert method_cost_factor(_config(base)) == 1.0  # DACS unchanged


def test_fd_on_both_scales_adds_the_detail_crop_to_the_fd_pass() -> None:
    # LR0.5+HR0.5: sync crop 512; context 256^2 = 1/4 and detail 512^2 = 1 unit of 512^2 per pass;
    # teacher 1/4 + 9 windows of 512 in 512 (one window: the crop) -> 1/4 + 1
    base = {**HRDA, "data": {"crop_size": [1024, 1024], "sync_crop_size": [512, 512]}}
    context = _config({**base, "model": {"hrda": {"enabled": True, "lr_loss_weight": 0.1}}})
    both = _config({**base, "model": {"hrda": {"enabled": True, "lr_loss_weight": 0.1, "fd_scales": "all"}}})
    assert method_units(context) == pytest.approx((3 * 1.25 + 1.25 + 3 * 1.25 + 0.25) * 512**2)
    assert method_units(both) - method_units(context) == pytest.approx(512**2)
