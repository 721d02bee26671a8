"""The synthetic presets keep the paper's ratios by their stated rules (see the comments in the YAML)."""

from __future__ import annotations

import math

import pytest

from ablations.expand import expand
from ablations.presets import load_preset
from trainer.config import TrainConfig

PAPER_ITERATIONS, PAPER_TAU, PAPER_DACS_TAU, PAPER_WARMUP, PAPER_LR = 40_000, 1_000, 100, 1_500, 6e-5
SYNTHETIC = ("quickstart", "synthetic_gap", "synthetic_strategies")


def _rows(name: str) -> dict[str, TrainConfig]:
    return {p.variant: TrainConfig.model_validate(p.config) for p in expand(load_preset(name)) if p.seed == 0}


@pytest.mark.parametrize("name", SYNTHETIC)
def test_scaled_quantities_follow_their_rules(name: str) -> None:
    for variant, cfg in _rows(name).items():
        iterations = cfg.run.iterations
        assert cfg.model.pretrained == "data/pretrained/mit_b0_standin.pth", variant
        assert cfg.optim.warmup_iters == round(iterations * PAPER_WARMUP / PAPER_ITERATIONS)  # 3.75% of the run
        assert cfg.optim.lr == pytest.approx(PAPER_LR * math.sqrt(PAPER_ITERATIONS / iterations), rel=0.01)
        if variant == "daformer" or variant == "uda":  # teacher time constant 1/40 of the run
            assert 1 / (1 - cfg.uda.ema.alpha) == pytest.approx(iterations * PAPER_TAU / PAPER_ITERATIONS, rel=0.01)
        if cfg.uda.mode == "uda" and variant not in ("daformer", "uda"):  # DACS: 1/400 of the run, floored at 0
            assert cfg.uda.ema.alpha == max(0.0, 1 - PAPER_ITERATIONS / PAPER_DACS_TAU / iterations)
        assert cfg.uda.rcs.min_pixels == round(3000 * 128 * 256 / (1914 * 1052))


def test_strategies_rows_add_one_strategy_each() -> None:
    rows = _rows("synthetic_strategies")
    assert list(rows) == ["source_only", "dacs", "+warmup", "+rcs", "+fd", "daformer"]
    flags = [
        (r.optim.warmup, r.uda.rcs.enabled, r.uda.fd.enabled, r.uda.pseudo_label.crop_top > 0) for r in rows.values()
    ]
    assert flags[1:] == [
        (False, False, False, False),
        (True, False, False, False),
        (True, True, False, False),
        (True, True, True, False),
        (True, True, True, True),
    ]
    assert load_preset("synthetic_strategies").baseline == "dacs" and load_preset("synthetic_strategies").seeds == [
        0,
        1,
        2,
    ]
