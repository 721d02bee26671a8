"""The training loop: iterations, evaluation and checkpoint cadence, resume (detectron2-style).

``train(cfg)`` builds the network, the ``UDAStep`` and the data streams, then runs iterations
``start .. run.iterations - 1``. After step ``k`` (k iterations done) it reports losses every
``log_interval``, evaluates the student every ``eval_interval`` and saves a checkpoint every
``checkpoint_interval`` steps, and always at the end. Losses stay on the device between log
points; a non-finite loss raises ``TrainingDiverged`` at the next of those points, before any
checkpoint could store the diverged weights.

Exact resume: data batches are pure functions of (seed, k), and everything that draws from the
global torch RNG outside the step (DataLoader iterators draw a base seed) runs inside
``fork_rng``, so the step's own draws (DropPath, Dropout) replay from the restored RNG state.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from trainer.config import TrainConfig
from trainer.data import build_train_streams, build_val_loader
from trainer.engine.checkpoint import (
    capture_rng_state,
    checkpoint_path,
    code_version,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    restore_rng_state,
    save_checkpoint,
)
from trainer.engine.history import EvalHistory
from trainer.engine.reporting import CompositeReporter, JsonlReporter, Reporter
from trainer.engine.runtime import resolve_device, seed_everything
from trainer.evaluation import evaluate_segmentor
from trainer.models import build_network_from_config, save_segmentor_checkpoint
from trainer.uda import TrainingDiverged, UDAStep

log = logging.getLogger(__name__)

FINAL_MODEL = "model_final.pt"
BEST_MODEL = "model_best.pt"


def resolve_resume(resume: str | Path | None, output_dir: str | Path) -> Path | None:
    """``None``: a fresh run; ``"auto"``: the newest checkpoint in ``output_dir`` (or fresh); else a file."""
    if resume is None:
        return None
    if str(resume) == "auto":
        return latest_checkpoint(output_dir)
    path = Path(resume)
    if not path.is_file():
        raise FileNotFoundError(f"--resume {path}: no such checkpoint file")
    return path


def train(
    cfg: TrainConfig,
    reporter: Reporter | None = None,
    resume: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run (or continue) one training run; returns the summary also written to ``summary.json``."""
    output_dir = Path(cfg.run.output_dir)
    resume_path = resolve_resume(resume, output_dir)
    state = load_checkpoint(resume_path) if resume_path is not None else None
    if state is not None:
        _warn_config_changes(state.get("config", {}), cfg)
        log.info("resuming %s at step %d", resume_path, state["iteration"])
    loop = _Loop(cfg, reporter, state, progress)
    return loop.run()


class _Loop:
    """One run's moving parts; ``run`` is the loop itself."""

    def __init__(
        self, cfg: TrainConfig, reporter: Reporter | None, state: dict[str, Any] | None, progress: bool
    ) -> None:
        self.cfg, self.progress = cfg, progress
        self.output_dir = Path(cfg.run.output_dir)
        self.device = resolve_device(cfg.run.device)
        seed_everything(cfg.run.seed)
        self.step = UDAStep(cfg, build_network_from_config(cfg.model), self.device)
        self.start = 0
        self.history = EvalHistory()
        if state is not None:
            self.start = int(state["iteration"])
            self.step.load_state_dict(state["step"])
            self.history = EvalHistory.from_dict(state["history"])
        with torch.random.fork_rng(devices=[]):
            self.streams = build_train_streams(cfg, start_iteration=self.start)
            self.val_loader = build_val_loader(cfg)
        if state is not None:
            self.streams.load_state_dict(state["streams"])
            restore_rng_state(state["rng"])
        self.jsonl = JsonlReporter(self.output_dir, resume_step=self.start if state is not None else None)
        self.reporter = CompositeReporter([self.jsonl, reporter])
        self.last_checkpoint: Path | None = None
        self._nonfinite = torch.zeros((), dtype=torch.bool, device=self.device)
        self._last_losses: dict[str, torch.Tensor] = {}

    def run(self) -> dict[str, Any]:
        total, run_cfg = self.cfg.run.iterations, self.cfg.run
        done, stopped = self.start, False
        bar = tqdm(total=total, initial=self.start, disable=not self.progress, unit="it", dynamic_ncols=True)
        try:
            for iteration in range(self.start, total):
                labelled, unlabelled = self._next_batches()
                losses = self.step(iteration, labelled, unlabelled)
                self._watch(losses)
                done = iteration + 1
                bar.update(1)
                last = done == total
                if done % run_cfg.log_interval == 0 or last:
                    bar.set_postfix(self._log(done), refresh=False)
                if done % run_cfg.eval_interval == 0 or last:
                    self._evaluate(done)
                if done % run_cfg.checkpoint_interval == 0 or last:
                    self._checkpoint(done)
                if self.reporter.should_stop():
                    stopped = True
                    if not last and done % run_cfg.checkpoint_interval != 0:
                        self._checkpoint(done)
                    break
        finally:
            bar.close()
        last_eval = self.history.last
        self._export_model(FINAL_MODEL, done, None if last_eval is None else last_eval.miou)
        summary = self._summary(done, stopped)
        self.reporter.on_end(summary)
        return summary

    # ---- the pieces of an iteration -------------------------------------------------------------
    def _next_batches(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
        with torch.random.fork_rng(devices=[]):  # DataLoader iterators draw a seed from the global RNG
            labelled = next(self.streams.labelled)
            unlabelled = next(self.streams.unlabelled) if self.streams.unlabelled is not None else None
        return labelled, unlabelled

    def _watch(self, losses: dict[str, torch.Tensor]) -> None:
        self._last_losses = losses
        self._nonfinite |= ~torch.isfinite(losses["total"].to(self.device))

    def _ensure_finite(self, step: int) -> None:
        if bool(self._nonfinite):
            bad = {k: float(v) for k, v in self._last_losses.items()}
            where = self.last_checkpoint or "none saved yet"
            raise TrainingDiverged(
                f"a loss became NaN or infinite at or before step {step} (latest losses {bad}); "
                f"the run stopped; last good checkpoint: {where}"
            )

    def _log(self, step: int) -> dict[str, str]:
        self._ensure_finite(step)
        values = {k: float(v) for k, v in self._last_losses.items()}
        self.reporter.on_train(step, values)
        return {k: f"{v:.3g}" for k, v in values.items() if k != "total"}

    def _evaluate(self, step: int) -> None:
        self._ensure_finite(step)
        run_cfg = self.cfg.run
        with torch.random.fork_rng(devices=[]):
            result = evaluate_segmentor(
                self.step.student,
                self.val_loader,
                self.device,
                self.cfg.eval_classes,
                run_cfg.eval_mode,
                run_cfg.slide_crop,
                run_cfg.slide_stride,
                self.step.amp_dtype,
            )
        self.history.add(step, result.per_class_iou, result.miou)
        log.info("step %d: mIoU %.2f", step, result.miou)
        if self.history.best_step == step:
            self._export_model(BEST_MODEL, step, result.miou)
        self.reporter.on_eval(step, dict(result.per_class_iou), result.miou)

    def _checkpoint(self, step: int) -> None:
        self._ensure_finite(step)
        path = save_checkpoint(
            checkpoint_path(self.output_dir, step),
            {
                "iteration": step,
                "step": self.step.state_dict(),
                "rng": capture_rng_state(),
                "streams": self.streams.state_dict(),
                "history": self.history.to_dict(),
                "config": json.loads(self.cfg.model_dump_json()),
                "code_version": code_version(),
            },
        )
        self.last_checkpoint = path
        prune_checkpoints(self.output_dir, self.cfg.run.keep_checkpoints)
        self.reporter.on_checkpoint(step, path)

    def _export_model(self, name: str, step: int, miou: float | None) -> None:
        """The student's weights alone in the model format (`build_segmentor_from_checkpoint`,
        `python -m trainer evaluate`): what people share and compare, a fifth of a resume
        checkpoint (which also holds the teacher, the FD encoder and the optimizer)."""
        save_segmentor_checkpoint(self.step.student, self.output_dir / name, extra={"step": step, "miou": miou})

    def _summary(self, step: int, stopped: bool) -> dict[str, Any]:
        last = self.history.last
        return {
            "final_step": step,
            "final_miou": None if last is None else last.miou,
            "final_per_class_iou": None if last is None else dict(last.per_class_iou),
            "best_miou": self.history.best_miou,
            "best_step": self.history.best_step,
            "checkpoint": None if self.last_checkpoint is None else str(self.last_checkpoint),
            "model": str(self.output_dir / FINAL_MODEL),
            "best_model": str(self.output_dir / BEST_MODEL) if (self.output_dir / BEST_MODEL).is_file() else None,
            "metrics_path": str(self.jsonl.metrics_path),
            "stopped": stopped,
            "total_steps": self.cfg.run.iterations,
        }


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _warn_config_changes(saved: dict[str, Any], cfg: TrainConfig) -> None:
    """Resuming under a different config is allowed (e.g. more iterations) but said out loud."""
    old, new = _flatten(saved), _flatten(json.loads(cfg.model_dump_json()))
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k) and k != "run.output_dir")
    if changed:
        log.warning("resuming with a config that differs from the checkpoint's in: %s", ", ".join(changed))
