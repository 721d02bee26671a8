"""The Ray Tune trainable: a trial payload in, the DAFormer trainer loop out.

A thin adapter (ARCHITECTURE: "the trainable is a thin adapter"): it validates the resolved
config, points the run's output at a scratch folder of the trial, resumes from Tune's checkpoint
when Tune restarts the trial (worker died, node removed, dispatcher restored), and hands the
loop a reporter that forwards progress to Tune and, when configured, to MLflow. Progress reaches
the database through the driver-side callback (see `callbacks.py`), so workers need no database
access.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ablations.execution.failures import describe_exception, is_deterministic
from ablations.execution.payload import PAYLOAD_KEY, TrialPayload

log = logging.getLogger(__name__)

ReporterFactory = Callable[[TrialPayload], Any]
"""Builds an extra trainer Reporter inside the worker for one trial (e.g. MLflow logging)."""

CHECKPOINT_GLOB = "*.pt"


class TuneReporter:
    """Forwards the trainer's callbacks to ``ray.tune.report``.

    Every report carries ``kind`` ("train", "eval", "checkpoint", "end") and ``step``; evaluations
    carry the per-class IoU dict and mIoU, the end report the trainer's summary. A checkpoint is
    handed to Tune as a directory holding just that file, which Tune persists to its storage.
    """

    def __init__(self, work: Path | None = None, outputs_dir: str | None = None) -> None:
        from ray import tune

        self._tune = tune
        self._last_losses: dict[str, float] = {}
        self._work, self._outputs_dir = work, outputs_dir

    def on_train(self, step: int, losses: dict[str, float]) -> None:
        self._last_losses = dict(losses)
        self._tune.report({"kind": "train", "step": step, "losses": self._last_losses})

    def on_eval(self, step: int, per_class_iou: dict[str, float], miou: float) -> None:
        self._tune.report({"kind": "eval", "step": step, "miou": miou, "per_class_iou": dict(per_class_iou),
                           "losses": self._last_losses})

    def on_checkpoint(self, step: int, path: str | os.PathLike[str]) -> None:
        staging = Path(tempfile.mkdtemp(prefix="tune-ckpt-"))
        try:
            target = staging / Path(path).name
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)
            checkpoint = self._tune.Checkpoint.from_directory(str(staging))
            self._tune.report({"kind": "checkpoint", "step": step}, checkpoint=checkpoint)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def on_end(self, summary: dict[str, Any]) -> None:
        """The summary, its files named where `keep_outputs` keeps them (the scratch folder goes)."""
        kept = _plain(summary)
        if self._work is not None and self._outputs_dir is not None:
            kept = {key: kept_path(value, self._work, self._outputs_dir) for key, value in kept.items()}
        self._tune.report({"kind": "end", "step": summary.get("final_step"), "summary": kept})

    def should_stop(self) -> bool:
        return False


def _plain(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in summary.items()}


@dataclass(frozen=True)
class MlflowReporterFactory:
    """Builds the trial's `MlflowReporter` in the worker, logging into the payload's run.

    Picklable (Tune ships it to every worker); the client is made where it is used.
    """

    def __call__(self, payload: TrialPayload) -> Any:
        if not (payload.mlflow_tracking_uri and payload.mlflow_run_id):
            return None
        from ablations.tracking import MlflowReporter, make_client

        return MlflowReporter(make_client(payload.mlflow_tracking_uri), payload.mlflow_run_id)


KEPT_OUTPUTS = ("model_final.pt", "model_best.pt", "metrics.jsonl")
"""What a trial's MLflow run carries (weights and the metrics log), kept when MLflow did not get it."""


def kept_path(value: Any, work: Path, outputs_dir: str) -> Any:
    """``value`` as the outputs folder names it, when it is one of the files `keep_outputs` keeps."""
    if isinstance(value, str) and Path(value).parent == work and Path(value).name in KEPT_OUTPUTS:
        return str(Path(outputs_dir) / Path(value).name)
    return value


def keep_outputs(work: Path, payload: TrialPayload, reporters: Sequence[Any]) -> list[Path]:
    """Move the final/best weights and the metrics log out of the scratch folder into the payload's
    outputs folder, unless an MLflow reporter got them all: the service's tracking replay uploads
    them from there once MLflow is back (its records name these paths)."""
    if payload.outputs_dir is None or any(getattr(r, "complete", False) for r in reporters):
        return []
    target = Path(payload.outputs_dir)
    kept = []
    for name in KEPT_OUTPUTS:
        if (work / name).is_file():
            target.mkdir(parents=True, exist_ok=True)
            kept.append(Path(shutil.move(str(work / name), str(target / name))))
    return kept


def scratch_dir(experiment_name: str, trial_id: str) -> Path:
    """The trainer's working folder of one Tune trial, on the worker's local disk.

    Not the Tune trial folder: on the driver's node Tune uploads that whole folder to the storage
    path with every experiment snapshot, and an upload only adds files, so every resume checkpoint
    the trainer pruned since (and any ``*.tmp`` caught mid-write) stayed in storage. Resuming
    needs only Tune's own checkpoints (``CheckpointConfig(num_to_keep=run.keep_checkpoints)``); the
    final and best weights and the metrics go to MLflow before the folder is deleted.
    """
    return Path(tempfile.gettempdir()) / "ablate-trials" / experiment_name / trial_id


def run_trial(config: dict[str, Any], reporter_factories: Sequence[ReporterFactory] = ()) -> None:
    """Tune function trainable: train one resolved config, resuming from Tune's checkpoint.

    A deterministic failure (`failures.DETERMINISTIC`: invalid config, missing data, a loss that
    became NaN) is reported as a ``kind: "failed"`` result and the trial ends, so Tune does not
    retry it; anything else is raised for Tune to retry from the last checkpoint.
    """
    from ray import tune

    context = tune.get_context()
    payload = TrialPayload.from_dict(config[PAYLOAD_KEY])
    work = scratch_dir(context.get_experiment_name(), context.get_trial_id())
    shutil.rmtree(work, ignore_errors=True)  # what a killed attempt left; Tune's checkpoint resumes
    extra = [r for r in (factory(payload) for factory in reporter_factories) if r is not None]
    try:
        _train(payload, work, extra)
        keep_outputs(work, payload, extra)
    except Exception as exc:
        for r in extra:  # mark the tracking run failed; a retried attempt reopens the same run
            close = getattr(r, "close", None)
            if close is not None:
                close("FAILED")
        if not is_deterministic(exc):
            raise
        log.error("trial %s failed deterministically, not retried: %s", payload.name, exc)
        tune.report({"kind": "failed", "step": None, "error": describe_exception(exc)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(OSError):  # the experiment's folder, once its last trial is gone
            work.parent.rmdir()


def _train(payload: TrialPayload, work: Path, extra: Sequence[Any]) -> None:
    from ray import tune

    from trainer.config import config_from_dict
    from trainer.engine import CompositeReporter, train

    resolved = dict(payload.train_config)
    resolved["run"] = {**resolved.get("run", {}), "output_dir": str(work)}
    cfg = config_from_dict(resolved)
    reporter = CompositeReporter([TuneReporter(work, payload.outputs_dir), *extra])
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        train(cfg, reporter=reporter)
        return
    with checkpoint.as_directory() as folder:
        files = sorted(Path(folder).glob(CHECKPOINT_GLOB))
        if not files:
            raise RuntimeError(f"Tune checkpoint {folder} has no trainer checkpoint {CHECKPOINT_GLOB}")
        log.info("trial %s resumes from %s", payload.name, files[-1])
        train(cfg, reporter=reporter, resume=str(files[-1]))
