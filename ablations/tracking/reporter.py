"""``MlflowReporter``: the trainer's Reporter (docs/CONTRACTS.md, trainer.engine) writing to MLflow.

At every evaluation one ``log_batch`` request carries all 19 per-class IoUs (``val/iou/<class>``,
spaces as underscores), ``val/mIoU`` and the most recent training values (``train/<name>``: the
losses, the pseudo-label confidence and the learning rate, which the engine passes through
``on_train``), all with the iteration as step. Ray's MLflowLoggerCallback sends one request per key
plus a run lookup per result; see bench/bench_logging.py for the difference.

Training values between evaluations are sampled every ``train_log_interval`` iterations and kept
in memory; they ride along with the next evaluation's request, or go out on their own once
``train_flush_size`` of them have gathered (so one request never needs splitting). An outage of
the server never fails the trial: metrics wait in ``ResilientSender``'s bounded buffer.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, RunStatus
from mlflow.exceptions import MlflowException

from ablations.tracking.keys import metric_key
from ablations.tracking.sender import MAX_METRICS_PER_REQUEST, ResilientSender

logger = logging.getLogger(__name__)

_STATUSES = {"FINISHED", "FAILED", "KILLED"}


def _now_ms() -> int:
    return int(time.time() * 1000)


class MlflowReporter:
    """Logs one trial's curves, checkpoints and final status into an existing MLflow run.

    The run is created beforehand (``create_trial_run``) and its id is kept on the trial row; a
    resumed trial builds a new reporter with the same id and keeps appending to the same run.
    """

    def __init__(
        self,
        client: MlflowClient,
        run_id: str,
        *,
        train_log_interval: int = 50,
        train_flush_size: int = 500,
        end_timeout_s: float = 30.0,
        sender: ResilientSender | None = None,
    ) -> None:
        if train_log_interval < 1:
            raise ValueError(f"train_log_interval must be >= 1, got {train_log_interval}")
        if not 1 <= train_flush_size <= MAX_METRICS_PER_REQUEST // 2:
            raise ValueError(f"train_flush_size must be in [1, {MAX_METRICS_PER_REQUEST // 2}]")
        self._client = client
        self._run_id = run_id
        self._train_log_interval = train_log_interval
        self._train_flush_size = train_flush_size
        self._end_timeout_s = end_timeout_s
        self.sender = sender or ResilientSender(client, run_id)
        self._train_buffer: list[Metric] = []
        self._latest_train: tuple[int, dict[str, float]] | None = None
        self._latest_train_buffered = False
        self._checkpoints: dict[int, str] = {}
        self._ended = False
        self.complete = False
        """True once the end went through: every metric sent, the files uploaded, the run ended."""

    @property
    def run_id(self) -> str:
        return self._run_id

    def on_train(self, step: int, losses: Mapping[str, float]) -> None:
        """Remember the latest values; sample every ``train_log_interval`` steps into the buffer."""
        self._latest_train = (step, {name: float(value) for name, value in losses.items()})
        self._latest_train_buffered = step % self._train_log_interval == 0
        if self._latest_train_buffered:
            self._train_buffer.extend(self._train_metrics(step, self._latest_train[1]))
            if len(self._train_buffer) >= self._train_flush_size:
                self._send_train_buffer()
        else:
            self.sender.flush()  # retries a backlog once its backoff has passed; no-op otherwise

    def on_eval(self, step: int, per_class_iou: Mapping[str, float], miou: float) -> None:
        """One request: buffered training values, the latest ones at ``step``, per-class IoU, mIoU."""
        timestamp = _now_ms()
        metrics = self._take_train_buffer()
        if self._latest_train is not None and not self._latest_train_buffered:
            metrics.extend(self._train_metrics(step, self._latest_train[1], timestamp))
        metrics.extend(
            Metric(metric_key("val/iou", name), float(value), timestamp, step)
            for name, value in per_class_iou.items()
        )
        metrics.append(Metric("val/mIoU", float(miou), timestamp, step))
        self.sender.submit(metrics)

    def on_checkpoint(self, step: int, path: str | Path) -> None:
        """Remember where each checkpoint is; the final and the best are uploaded at the end."""
        self._checkpoints[step] = str(path)

    def should_stop(self) -> bool:
        """MLflow never asks a trial to stop (cancellation comes from the service)."""
        return False

    def on_end(self, summary: Mapping[str, Any]) -> None:
        """Flush, upload the final (and best) checkpoint and the metrics log, then close the run.

        The run ends FAILED when the summary carries an ``error`` (or ``status: failed``),
        KILLED for ``status: killed``, FINISHED otherwise.
        """
        status = str(summary.get("status", "FAILED" if summary.get("error") else "FINISHED")).upper()
        self._finish(summary, status if status in _STATUSES else "FINISHED")

    def close(self, status: str = "FAILED") -> None:
        """End the run without a summary, e.g. when ``train`` raised; a no-op after ``on_end``."""
        self._finish({}, status.upper() if status.upper() in _STATUSES else "FAILED")

    def _finish(self, summary: Mapping[str, Any], status: str) -> None:
        if self._ended:
            return
        self._ended = True
        deadline = time.monotonic() + self._end_timeout_s
        final_metrics = self._take_train_buffer() + self._summary_metrics(summary)
        self.sender.submit(final_metrics)
        complete = self.sender.drain(max(deadline - time.monotonic(), 0.0))
        if not complete:
            logger.warning(
                "MLflow run %s: %d metrics could not be sent before the trial ended",
                self._run_id,
                self.sender.pending,
            )
        for path, artifact_dir in self._artifacts(summary):
            complete &= self._call_until(
                deadline, f"upload {path}", self._client.log_artifact, self._run_id, path, artifact_dir
            )
        if "best_step" in summary and summary["best_step"] is not None:
            self._call_until(
                deadline,
                "tag best_step",
                self._client.set_tag,
                self._run_id,
                "best_step",
                str(summary["best_step"]),
            )
        complete &= self._call_until(
            deadline,
            f"mark {status}",
            self._client.set_terminated,
            self._run_id,
            RunStatus.to_string(RunStatus.from_string(status)),
        )
        self.complete = complete

    def _artifacts(self, summary: Mapping[str, Any]) -> list[tuple[str, str]]:
        """(local file, artifact folder) pairs that exist on disk: final and best checkpoints, metrics log."""
        final = summary.get("model") or summary.get("checkpoint") or (
            self._checkpoints[max(self._checkpoints)] if self._checkpoints else None
        )
        best = summary.get("best_model") or summary.get("best_checkpoint") or self._checkpoints.get(
            summary.get("best_step", -1))
        if summary.get("best_step") is not None and summary.get("best_step") == summary.get("final_step"):
            best = None  # the best evaluation is the final one: the same weights, uploaded once
        wanted = [
            (final, "checkpoints/final"),
            (best, "checkpoints/best"),
            (summary.get("metrics_path"), "metrics"),
        ]
        chosen: list[tuple[str, str]] = []
        for path, folder in wanted:
            if path and Path(path).is_file() and all(str(path) != done for done, _ in chosen):
                chosen.append((str(path), folder))
        return chosen

    def _call_until(self, deadline: float, what: str, call: Any, *args: Any) -> bool:
        """Retry one end-of-trial call with backoff until it succeeds or the deadline passes."""
        delay = 0.5
        while True:
            try:
                call(*args)
                return True
            except (MlflowException, OSError) as error:
                if time.monotonic() + delay > deadline:
                    logger.warning("MLflow run %s: could not %s: %s", self._run_id, what, str(error)[:200])
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 8.0)

    def _summary_metrics(self, summary: Mapping[str, Any]) -> list[Metric]:
        step = int(summary.get("final_step") or 0)
        timestamp = _now_ms()
        metrics = []
        for key, name in (("final_miou", "final/mIoU"), ("best_miou", "best/mIoU")):
            value = summary.get(key)
            if isinstance(value, int | float) and not math.isnan(float(value)):
                metrics.append(Metric(name, float(value), timestamp, step))
        return metrics

    def _train_metrics(
        self, step: int, values: Mapping[str, float], timestamp: int | None = None
    ) -> list[Metric]:
        timestamp = timestamp or _now_ms()
        return [Metric(metric_key("train", name), value, timestamp, step) for name, value in values.items()]

    def _take_train_buffer(self) -> list[Metric]:
        taken, self._train_buffer = self._train_buffer, []
        return taken

    def _send_train_buffer(self) -> None:
        self.sender.submit(self._take_train_buffer())
