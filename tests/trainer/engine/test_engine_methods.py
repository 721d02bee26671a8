"""Tiny HRDA, MIC(DAFormer) and MIC(HRDA) runs: train, evaluate, checkpoint, resume bit-identically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_engine_train import (  # noqa: F401  (``synthetic`` is a fixture)
    StopAfterCheckpoint,
    _assert_states_equal,
    _cfg,
    _evals,
    synthetic,
)

from trainer.cli import main
from trainer.engine import load_checkpoint, read_metrics, train

MIC = ["uda.mic.enabled=true", "uda.mic.mask_block_size=16"]
HRDA = [
    "model.hrda.enabled=true",
    "model.hrda.hr_crop_size=[32,32]",
    "uda.pseudo_label.crop_top=0",
    "uda.pseudo_label.crop_bottom=0",
    "uda.pseudo_label.crop_pseudo_margins=[2,8,2,2]",
    "run.eval_mode=slide",
    "run.slide_crop=[64,64]",
    "run.slide_stride=[32,32]",
]
METHODS = {"mic": MIC, "hrda": HRDA, "mic_hrda": [*HRDA, *MIC]}


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(METHODS))
def test_method_run_resumes_bit_identically(synthetic: Path, tmp_path: Path, method: str) -> None:  # noqa: F811
    extra = METHODS[method]
    full = train(_cfg(synthetic, tmp_path / "full", *extra))
    assert full["final_step"] == 4 and full["final_miou"] is not None
    losses = [r["losses"] for r in read_metrics(full["metrics_path"]) if r["kind"] == "train"]
    assert ("mic_ce" in losses[0]) == ("mic" in method)

    cfg = _cfg(synthetic, tmp_path / "split", *extra)
    assert train(cfg, reporter=StopAfterCheckpoint(2))["final_step"] == 2
    resumed = train(cfg, resume="auto")
    _assert_states_equal(
        load_checkpoint(full["checkpoint"])["step"], load_checkpoint(resumed["checkpoint"])["step"]
    )
    assert resumed["final_miou"] == full["final_miou"]
    assert _evals(resumed["metrics_path"]) == _evals(full["metrics_path"])


@pytest.mark.slow
def test_cli_evaluates_hrda_checkpoints_ours_and_reference_layout(synthetic: Path, tmp_path: Path) -> None:  # noqa: F811
    """``python -m trainer evaluate`` on an HRDA run's model file and on the same student written as
    a reference UDA checkpoint (model./ema_model. prefixes, decode_head.head / scale_attention)."""
    cfg = _cfg(synthetic, tmp_path / "run", *HRDA, "run.iterations=2")
    summary = train(cfg)
    config = tmp_path / "hrda.yaml"
    config.write_text(json.dumps(json.loads(cfg.model_dump_json())))  # JSON is YAML
    student = torch.load(summary["model"], weights_only=True)["state_dict"]
    names = {
        "encoder.": "backbone.", "decoder.": "decode_head.head.", "scale_attention.": "decode_head.scale_attention."
    }
    reference = {}
    for key, value in student.items():
        prefix = next(p for p in names if key.startswith(p))
        reference["model." + names[prefix] + key.removeprefix(prefix)] = value
        reference["ema_model." + names[prefix] + key.removeprefix(prefix)] = torch.zeros_like(value)
    released = tmp_path / "released.pth"
    torch.save({"meta": {"iter": 2}, "state_dict": reference}, released)
    for path in (summary["model"], str(released)):
        out = tmp_path / f"{Path(path).stem}.json"
        assert main(["evaluate", "--config", str(config), "--checkpoint", path, "--output", str(out)]) == 0
        assert json.loads(out.read_text())["miou"] == pytest.approx(summary["final_miou"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (runs on a GPU machine)")
def test_mic_hrda_run_on_cuda_with_bf16_and_channels_last(synthetic: Path, tmp_path: Path) -> None:  # noqa: F811
    """MIC(HRDA) on the GPU path (bf16 autocast, channels_last, fused AdamW), evaluated by sliding."""
    extra = [*METHODS["mic_hrda"], "run.device=cuda", "run.precision=auto", "run.channels_last=true"]
    summary = train(_cfg(synthetic, tmp_path / "gpu", *extra))
    assert summary["final_step"] == 4 and summary["final_miou"] is not None
    losses = [r["losses"] for r in read_metrics(summary["metrics_path"]) if r["kind"] == "train"]
    assert all(v == v for row in losses for v in row.values())  # no NaN under bf16
