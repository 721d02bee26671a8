"""A tiny HRDA run on DeepLabV2 (``dlv2red``) with ResNet-101 (HRDA Table 2 / MIC Table 1's network):
it trains, evaluates by sliding, checkpoints and resumes bit-identically on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_engine_methods import HRDA
from test_engine_train import (  # noqa: F401  (``synthetic`` is a fixture)
    StopAfterCheckpoint,
    _assert_states_equal,
    _cfg,
    _evals,
    synthetic,
)

from trainer.engine import load_checkpoint, train

DLV2 = ["model.encoder=r101v1c", "model.decoder=dlv2red", *HRDA]


@pytest.mark.slow
def test_hrda_dlv2red_run_resumes_bit_identically(synthetic: Path, tmp_path: Path) -> None:  # noqa: F811
    full = train(_cfg(synthetic, tmp_path / "full", *DLV2))
    assert full["final_step"] == 4 and full["final_miou"] is not None
    student = load_checkpoint(full["checkpoint"])["step"]["student"]
    assert "scale_attention.aspp_modules.1.conv.weight" in student  # the DLV2 attention head
    assert student["scale_attention.aspp_modules.0.conv.weight"].shape == (19, 2048, 3, 3)

    cfg = _cfg(synthetic, tmp_path / "split", *DLV2)
    assert train(cfg, reporter=StopAfterCheckpoint(2))["final_step"] == 2
    resumed = train(cfg, resume="auto")
    _assert_states_equal(
        load_checkpoint(full["checkpoint"])["step"], load_checkpoint(resumed["checkpoint"])["step"]
    )
    assert resumed["final_miou"] == full["final_miou"]
    assert _evals(resumed["metrics_path"]) == _evals(full["metrics_path"])
