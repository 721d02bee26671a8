"""End to end on a tiny synthetic benchmark: train, evaluate, stop, resume bit-identically, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from trainer.cli import main
from trainer.config import TrainConfig, load_config
from trainer.data.prepare import prepare
from trainer.data.synthetic.writer import write_dataset
from trainer.engine import TrainingDiverged, load_checkpoint, read_metrics, train
from trainer.engine.checkpoint import list_checkpoints


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("synthetic")
    write_dataset(root, (8, 6, 3), (64, 96), seed=0)
    prepare("gta", root / "gta", 1)
    prepare("cityscapes", root / "cityscapes", 1)
    return root


def _overrides(data: Path, out: Path) -> list[str]:
    return [
        "model.encoder=mit_b0",
        "model.decoder_channels=32",
        f"data.source={{kind: gta, root: {data / 'gta'}, resize: [96, 64]}}",
        f"data.target={{kind: cityscapes, root: {data / 'cityscapes'}, resize: [96, 64]}}",
        "data.val_resize=[96,64]",
        "data.crop_size=[64,64]",
        "data.num_workers=0",
        "uda.pseudo_label.threshold=0.06",
        "uda.pseudo_label.crop_top=2",
        "uda.pseudo_label.crop_bottom=8",
        "uda.rcs.min_pixels=10",
        "uda.fd.classes=all",
        "optim.warmup_iters=2",
        "run.iterations=4",
        "run.eval_interval=2",
        "run.checkpoint_interval=2",
        "run.log_interval=1",
        "run.keep_checkpoints=1",
        f"run.output_dir={out}",
        "run.device=cpu",
    ]


def _cfg(data: Path, out: Path, *extra: str) -> TrainConfig:
    return load_config(None, [*_overrides(data, out), *extra])


class StopAfterCheckpoint:
    """Asks the loop to stop once it has saved the checkpoint of ``step``."""

    def __init__(self, step: int) -> None:
        self.step, self.saved = step, 0

    def on_train(self, step: int, losses: dict[str, float]) -> None: ...

    def on_eval(self, step: int, per_class_iou: dict[str, float], miou: float) -> None: ...

    def on_checkpoint(self, step: int, path: Any) -> None:
        self.saved = step

    def on_end(self, summary: dict[str, Any]) -> None: ...

    def should_stop(self) -> bool:
        return self.saved >= self.step


def _assert_states_equal(a: dict[str, Any], b: dict[str, Any]) -> None:
    for part in ("student", "teacher", "frozen_encoder"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs"
    for index, state in a["optimizer"]["state"].items():
        for name, value in state.items():
            assert torch.equal(value, b["optimizer"]["state"][index][name]), f"optimizer {index}.{name}"
    assert torch.equal(a["generator"], b["generator"])


def _evals(path: str) -> list[dict[str, Any]]:
    return [r for r in read_metrics(path) if r["kind"] in ("eval", "train")]


def test_stop_then_resume_is_bit_identical(synthetic: Path, tmp_path: Path) -> None:
    full = train(_cfg(synthetic, tmp_path / "full"))
    assert full["final_step"] == 4 and full["best_step"] in (2, 4)
    assert [step for step, _ in list_checkpoints(tmp_path / "full")] == [4]  # keep_checkpoints=1
    losses = [r["losses"] for r in read_metrics(full["metrics_path"]) if r["kind"] == "train"]
    assert set(losses[0]) == {"src_ce", "fd", "mix_ce", "pseudo_confidence", "total", "lr"}
    assert 0.0 < losses[-1]["pseudo_confidence"] <= 1.0

    cfg = _cfg(synthetic, tmp_path / "split")
    first = train(cfg, reporter=StopAfterCheckpoint(2))
    assert first["stopped"] and first["final_step"] == 2
    resumed = train(cfg, resume="auto")
    assert resumed["final_step"] == 4 and not resumed["stopped"]

    _assert_states_equal(
        load_checkpoint(full["checkpoint"])["step"], load_checkpoint(resumed["checkpoint"])["step"]
    )
    assert resumed["final_miou"] == full["final_miou"]
    assert _evals(resumed["metrics_path"]) == _evals(full["metrics_path"])
    summary = json.loads(Path(tmp_path / "split" / "summary.json").read_text())
    assert summary["final_step"] == 4 and summary["final_miou"] == pytest.approx(full["final_miou"])


def test_source_only_and_cli_evaluate(
    synthetic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _cfg(synthetic, tmp_path / "src", "uda.mode=source_only", "run.iterations=2")
    summary = train(cfg)
    state = load_checkpoint(summary["checkpoint"])
    assert state["step"]["teacher"] is None and state["code_version"]
    losses = [r["losses"] for r in read_metrics(summary["metrics_path"]) if r["kind"] == "train"][-1]
    assert set(losses) == {"src_ce", "total", "lr"}

    config = tmp_path / "src.yaml"
    config.write_text(json.dumps(json.loads(cfg.model_dump_json())))  # JSON is YAML
    out = tmp_path / "eval.json"
    code = main(
        ["evaluate", "--config", str(config), "--checkpoint", summary["checkpoint"], "--output", str(out)]
    )
    assert code == 0
    assert json.loads(out.read_text())["miou"] == pytest.approx(summary["final_miou"])
    assert (
        main(
            [
                "evaluate",
                "--config",
                str(config),
                "--checkpoint",
                summary["checkpoint"],
                "--which",
                "ema_model",
            ]
        )
        == 2
    )
    assert "no ema_model" in capsys.readouterr().err


def test_config_errors_exit_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--set", "uda.rcs.temperature=-1", "--set", f"run.output_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "uda.rcs.temperature" in err and "Traceback" not in err
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_divergence_stops_with_the_last_good_checkpoint(synthetic: Path, tmp_path: Path) -> None:
    cfg = _cfg(
        synthetic,
        tmp_path / "nan",
        "optim.lr=1e30",
        "optim.warmup=false",
        "run.checkpoint_interval=1",
        "run.keep_checkpoints=5",
        "run.iterations=6",
        "uda.fd.enabled=false",
    )
    with pytest.raises(TrainingDiverged, match="last good checkpoint"):
        train(cfg)
    steps = [step for step, _ in list_checkpoints(tmp_path / "nan")]
    assert steps and steps[-1] < 6
    for _, path in list_checkpoints(tmp_path / "nan"):
        assert all(torch.isfinite(v).all() for v in load_checkpoint(path)["step"]["student"].values())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (runs on a GPU machine)")
def test_uda_run_on_cuda_with_bf16_and_channels_last(synthetic: Path, tmp_path: Path) -> None:
    """The GPU path: bf16 autocast ('auto' precision), channels_last, fused AdamW; then resume."""
    cfg = _cfg(synthetic, tmp_path / "gpu", "run.device=cuda", "run.precision=auto", "run.channels_last=true")
    summary = train(cfg)
    assert summary["final_step"] == 4 and summary["final_miou"] is not None
    resumed = train(_cfg(synthetic, tmp_path / "gpu", "run.device=cuda", "run.iterations=6"), resume="auto")
    assert resumed["final_step"] == 6 and all(v == v for v in resumed["final_per_class_iou"].values())
