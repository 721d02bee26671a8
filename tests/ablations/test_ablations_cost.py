"""The architecture cost factor of the GPU-hour estimate, against hand-computed ratios of MACs."""

from __future__ import annotations

import pytest

from ablations.cost import architecture_factor, decoder_gmacs
from ablations.expand import estimate_gpu_hours
from ablations.presets import load_preset


def _factor(encoder: str, decoder: str, channels: int = 256) -> float:
    return architecture_factor({"encoder": encoder, "decoder": decoder, "decoder_channels": channels})


def test_factors_are_mac_ratios_to_daformer() -> None:
    daformer = 59.3 + 56.9
    assert _factor("mit_b5", "daformer") == pytest.approx(1.0)
    assert _factor("r101v1c", "dlv2red") == pytest.approx((178.5 + 2.9) / daformer)  # 1.561
    assert _factor("mit_b5", "segformer", 768) == pytest.approx((59.3 + 40.5) / daformer)  # 0.859
    assert _factor("r101v1c", "segformer", 768) == pytest.approx((178.5 + 53.3) / daformer)
    assert _factor("mit_b5", "upernet", 512) == pytest.approx((59.3 + 209.5) / daformer)  # 2.313
    assert _factor("s200", "dlv2red") == pytest.approx((268.3 + 2.9) / daformer)


def test_unknown_widths_scale_with_the_square_of_the_channels() -> None:
    assert decoder_gmacs("daformer", 64, "mit_b0") == pytest.approx(56.9 / 16)
    assert decoder_gmacs("dlv2red", 512, "r50v1c") == pytest.approx(2.9)  # no width to scale
    with pytest.raises(KeyError, match="add it to ablations/cost.py"):
        decoder_gmacs("unknown_head", 256, "mit_b5")


def test_dry_run_estimates_of_the_paper_presets() -> None:
    # Table 6: 3 seeds of the full DAFormer, 40k iterations at 1.44 s = 16 h each.
    assert estimate_gpu_hours(load_preset("table6_daformer_gta")) == pytest.approx(48.0)
    # Table 4, DeepLabV2 UDA row without FD: 7 of 8 units, 40000 * 1.44 * 1.5611 * 7/8 s
    table4 = estimate_gpu_hours(load_preset("table4_warmup"))
    dlv2 = (178.5 + 2.9) / 116.2
    segf = (59.3 + 40.5) / 116.2
    expected = 2 * 40_000 * 1.44 * (dlv2 * (7 / 8 + 3 / 8) + segf * (7 / 8 + 3 / 8)) / 3600
    assert table4 == pytest.approx(expected)
