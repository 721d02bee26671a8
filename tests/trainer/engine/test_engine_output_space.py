"""Tiny MinEnt, AdvSeg, MIC(AdvSeg) and AdvSeg(HRDA) runs (SGD, as HRDA Table 2 / MIC Table 1 train them): train,
evaluate, checkpoint and resume bit-identically, the discriminator and its Adam state included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from test_engine_train import (  # noqa: F401  (``synthetic`` is a fixture)
    StopAfterCheckpoint,
    _cfg,
    _evals,
    synthetic,
)

from trainer.engine import load_checkpoint, read_metrics, train

HRDA = [  # as test_engine_methods.py: detail crop 32 of the 64 crop, sliding evaluation
    "model.hrda.enabled=true",
    "model.hrda.hr_crop_size=[32,32]",
    "run.eval_mode=slide",
    "run.slide_crop=[64,64]",
    "run.slide_stride=[32,32]",
]

OUTPUT_SPACE = ["uda.fd.enabled=false", "optim.kind=sgd", "optim.lr=0.01", "optim.head_lr_mult=1.0"]
METHODS = {
    "minent": [*OUTPUT_SPACE, "uda.method=minent"],
    "advseg": [*OUTPUT_SPACE, "uda.method=advseg"],
    "mic_advseg": [*OUTPUT_SPACE, "uda.method=advseg", "uda.mic.enabled=true", "uda.mic.mask_block_size=16"],
    "advseg_hrda": [*OUTPUT_SPACE, "uda.method=advseg", *HRDA],  # D sees the fused output at the context scale
}
ADV = {"adv", "d_src", "d_trg"}
TERMS = {"minent": {"ent"}, "advseg": ADV, "mic_advseg": {*ADV, "mic_ce"}, "advseg_hrda": ADV}


def _equal_trees(a: Any, b: Any, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: keys differ"
        for key in a:
            _equal_trees(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _equal_trees(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(METHODS))
def test_output_space_run_resumes_bit_identically(synthetic: Path, tmp_path: Path, method: str) -> None:  # noqa: F811
    extra = METHODS[method]
    full = train(_cfg(synthetic, tmp_path / "full", *extra))
    assert full["final_step"] == 4 and full["final_miou"] is not None
    losses = [r["losses"] for r in read_metrics(full["metrics_path"]) if r["kind"] == "train"]
    assert set(losses[0]) == {"src_ce", "total", "lr", *TERMS[method]}  # no mix_ce, fd or pseudo-labels

    cfg = _cfg(synthetic, tmp_path / "split", *extra)
    assert train(cfg, reporter=StopAfterCheckpoint(2))["final_step"] == 2
    resumed = train(cfg, resume="auto")
    a, b = load_checkpoint(full["checkpoint"])["step"], load_checkpoint(resumed["checkpoint"])["step"]
    assert a["teacher"] is None and ("discriminator" in a) == ("advseg" in method)
    assert ("mic_teacher" in a) == ("mic" in method)  # MIC on an output-space host: its own teacher
    _equal_trees(a, b, "step")  # student, SGD momenta, discriminator + Adam, MIC teacher, generator
    assert resumed["final_miou"] == full["final_miou"]
    assert _evals(resumed["metrics_path"]) == _evals(full["metrics_path"])
