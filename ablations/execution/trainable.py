"""The Ray Tune trainable: a trial payload in, the DAFormer trainer loop out.

A thin adapter (ARCHITECTURE: "the trainable is a thin adapter"): it validates the resolved
config, points the run's output at the trial's own directory, resumes from Tune's checkpoint
when Tune restarts the trial (worker died, node removed, dispatcher restored), and hands the
loop a reporter that forwards progress to Tune and, when configured, to MLflow. Progress reaches
the database through the driver-side callback (see `callbacks.py`), so workers need no database
access.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

    def __init__(self) -> None:
        from ray import tune

        self._tune = tune
        self._last_losses: dict[str, float] = {}

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
        self._tune.report({"kind": "end", "step": summary.get("final_step"), "summary": _plain(summary)})

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


def run_trial(config: dict[str, Any], reporter_factories: Sequence[ReporterFactory] = ()) -> None:
    """Tune function trainable: train one resolved config, resuming from Tune's checkpoint."""
    from ray import tune

    from trainer.config import config_from_dict
    from trainer.engine import CompositeReporter, train

    payload = TrialPayload.from_dict(config[PAYLOAD_KEY])
    trial_dir = Path(tune.get_context().get_trial_dir())
    resolved = dict(payload.train_config)
    resolved["run"] = {**resolved.get("run", {}), "output_dir": str(trial_dir / "train")}
    cfg = config_from_dict(resolved)

    extra = [r for r in (factory(payload) for factory in reporter_factories) if r is not None]
    reporter = CompositeReporter([TuneReporter(), *extra])
    try:
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
    except Exception:
        for r in extra:  # mark the tracking run failed; a retried attempt reopens the same run
            close = getattr(r, "close", None)
            if close is not None:
                close("FAILED")
        raise
