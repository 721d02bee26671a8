"""Bringing a trial's MLflow run up to date from a durable record, idempotently.

The service's database holds every evaluation of every trial (per-class IoU and mIoU per step)
and its final results, whether or not MLflow was reachable when they happened. ``replay_trial``
makes the run hold exactly those points: it reads which steps the run already has for each key
and sends only the others, so running it twice, or after the live reporter already sent some of
them, never logs a (key, step) twice. It also uploads the final files that are not there yet,
sets the tags, and ends the run with the trial's status. Training losses come from the trial's
metrics log (``metrics.jsonl``) when that file is on this machine, sampled as the live reporter
samples them.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, RunStatus

from ablations.tracking.keys import metric_key
from ablations.tracking.sender import MAX_METRICS_PER_REQUEST

TRAIN_LOG_INTERVAL = 50
"""The live reporter's sampling of training values (``MlflowReporter(train_log_interval=50)``)."""

RUN_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}
"""A trial's or experiment's terminal status -> the MLflow run status it ends with."""

TAG_REUSED_FROM_RUN = "ablation.reused_from_run_id"
TAG_REUSED_FROM_TRIAL = "ablation.reused_from_trial_id"


@dataclass(frozen=True)
class EvalPoint:
    """One evaluation as the database stores it."""

    step: int
    miou: float
    per_class_iou: Mapping[str, float]
    at: datetime | None = None


@dataclass(frozen=True)
class TrialRecord:
    """What a trial's run must hold once the trial has ended."""

    status: str
    points: Sequence[EvalPoint]
    final_step: int | None = None
    final_miou: float | None = None
    best_miou: float | None = None
    best_step: int | None = None
    artifacts: Mapping[str, str] = field(default_factory=dict)
    """MLflow artifact folder -> local file (``checkpoints/final``, ``checkpoints/best``, ``metrics``)."""
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass
class ReplayCounts:
    """What one replay did: the figures the fault-injection script prints."""

    sent: int = 0
    already_there: int = 0
    uploaded: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)


def summary_artifacts(summary: Mapping[str, Any]) -> dict[str, str]:
    """The files a finished trial's run should carry, by artifact folder, from the trainer's summary.

    The best model is left out when the best evaluation is the final one (the same weights).
    """
    out: dict[str, str] = {}
    final = summary.get("model") or summary.get("checkpoint")
    if final:
        out["checkpoints/final"] = str(final)
    best = summary.get("best_model")
    if best and summary.get("best_step") != summary.get("final_step"):
        out["checkpoints/best"] = str(best)
    if summary.get("metrics_path"):
        out["metrics"] = str(summary["metrics_path"])
    return out


def _ms(at: datetime | None) -> int:
    return int(at.timestamp() * 1000) if at is not None else 0


def record_metrics(record: TrialRecord) -> list[Metric]:
    """Every metric point the record implies: val/iou/<class> and val/mIoU per step, final and best."""
    metrics: list[Metric] = []
    for point in record.points:
        stamp = _ms(point.at)
        metrics.extend(Metric(metric_key("val/iou", name), float(v), stamp, point.step)
                       for name, v in point.per_class_iou.items() if v is not None)
        metrics.append(Metric("val/mIoU", float(point.miou), stamp, point.step))
    step = record.final_step if record.final_step is not None else max((p.step for p in record.points), default=0)
    stamp = _ms(record.points[-1].at) if record.points else 0
    for name, value in (("final/mIoU", record.final_miou), ("best/mIoU", record.best_miou)):
        if value is not None and not math.isnan(float(value)):
            metrics.append(Metric(name, float(value), stamp, step))
    metrics.extend(_train_metrics(record.artifacts.get("metrics"), {p.step for p in record.points}))
    return metrics


def _train_metrics(path: str | None, eval_steps: set[int]) -> list[Metric]:
    """train/<name> from the metrics log, at the steps the live reporter samples (every 50, evals)."""
    if not path or not Path(path).is_file():
        return []
    metrics: list[Metric] = []
    stamp = int(time.time() * 1000)  # the log has steps, not times
    for line in Path(path).read_text().splitlines():
        event = json.loads(line) if line.strip() else {}
        step = event.get("step")
        if event.get("kind") != "train" or step is None or not (step % TRAIN_LOG_INTERVAL == 0 or step in eval_steps):
            continue
        metrics.extend(Metric(metric_key("train", k), float(v), stamp, int(step))
                       for k, v in (event.get("losses") or {}).items() if v is not None)
    return metrics


def logged_steps(client: MlflowClient, run_id: str, keys: Iterable[str]) -> dict[str, set[int]]:
    """The steps the run already holds, per key (one request per key it has)."""
    present = set(client.get_run(run_id).data.metrics)
    return {key: {m.step for m in client.get_metric_history(run_id, key)} if key in present else set()
            for key in set(keys)}


def log_missing(client: MlflowClient, run_id: str, metrics: Sequence[Metric]) -> tuple[int, int]:
    """Send the metrics whose (key, step) the run does not hold yet; returns (sent, already there)."""
    have = logged_steps(client, run_id, (m.key for m in metrics))
    wanted: dict[tuple[str, int], Metric] = {}
    for metric in metrics:
        if metric.step not in have[metric.key]:
            wanted.setdefault((metric.key, metric.step), metric)
    missing = list(wanted.values())
    for start in range(0, len(missing), MAX_METRICS_PER_REQUEST):
        client.log_batch(run_id, metrics=missing[start : start + MAX_METRICS_PER_REQUEST], synchronous=True)
    return len(missing), len(metrics) - len(missing)


def upload_missing(client: MlflowClient, run_id: str, files: Mapping[str, str], counts: ReplayCounts) -> None:
    """Upload each file whose artifact folder is still empty; note files absent from this machine."""
    for folder, path in files.items():
        if client.list_artifacts(run_id, folder):
            continue
        if not Path(path).is_file():
            counts.missing_files.append(f"{folder}: {path}")
            continue
        client.log_artifact(run_id, path, folder)
        counts.uploaded.append(folder)


def end_run(client: MlflowClient, run_id: str, status: str) -> None:
    """End the run with the MLflow status of a terminal service status (idempotent)."""
    mlflow_status = RUN_STATUS.get(status, status.upper())
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.from_string(mlflow_status)))


def replay_trial(client: MlflowClient, run_id: str, record: TrialRecord) -> ReplayCounts:
    """Make the run hold everything of an ended trial, then end it with the trial's status."""
    counts = ReplayCounts()
    counts.sent, counts.already_there = log_missing(client, run_id, record_metrics(record))
    upload_missing(client, run_id, record.artifacts, counts)
    tags = dict(record.tags)
    if record.best_step is not None:
        tags["best_step"] = str(record.best_step)
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    end_run(client, run_id, record.status)
    return counts


def duplicate_points(client: MlflowClient, run_id: str) -> dict[str, list[int]]:
    """Steps logged more than once, per key (empty when logging was idempotent)."""
    repeats: dict[str, list[int]] = {}
    for key in client.get_run(run_id).data.metrics:
        seen: defaultdict[int, int] = defaultdict(int)
        for metric in client.get_metric_history(run_id, key):
            seen[metric.step] += 1
        twice = sorted(step for step, n in seen.items() if n > 1)
        if twice:
            repeats[key] = twice
    return repeats
