"""Running one claimed experiment: reuse finished results, open MLflow runs, run Tune, settle.

Order matters for the guarantees of the execution issue: MLflow runs are created (and stored on
the trial rows) before any trial starts, so a resumed or retried trial logs into the same run;
deduplicated trials are settled before Tune sees the grid, so they cost nothing; and after Tune
returns, every trial row is terminal and the experiment's status follows from its trials.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ablations.execution.payload import TrialPayload
from ablations.execution.runner import ExperimentRun, TrialResources, can_restore_path, run_experiment
from ablations.execution.trainable import MlflowReporterFactory
from service.dispatcher.live_replay import LiveReplay
from service.dispatcher.preflight import preflight, waiting_watch
from service.dispatcher.sink import DatabaseCancelPoll, DatabaseTrialSink
from service.dispatcher.tracking import open_mlflow_runs
from service.dispatcher.tracking_state import mark_trials
from service.dispatcher.tracking_sync import sync_experiment
from service.experiments import repository as experiments
from service.lifecycle import TRIAL_TERMINAL, ExperimentStatus, TrialStatus
from service.settings import Settings
from service.trials import repository as trials
from service.trials.models import Trial, TrialMetricPoint
from service.trials.service import settle_experiment

log = logging.getLogger(__name__)

TERMINAL = {s.value for s in TRIAL_TERMINAL}


def reuse_finished_trials(session: Any, experiment_id: int, code_version: str) -> int:
    """Settle queued trials whose config (and code version) already finished in another experiment.

    The earlier trial's final metrics and curve are copied, and the row points at its source
    (``reused_from_trial_id``). Returns how many trials were reused.
    """
    reused = 0
    for trial in trials.list_trials(session, experiment_id, status=TrialStatus.QUEUED.value):
        source = session.scalar(
            select(Trial).where(
                Trial.config_hash == trial.config_hash, Trial.code_version == code_version,
                Trial.status == TrialStatus.SUCCEEDED.value, Trial.experiment_id != experiment_id,
                Trial.reused_from_trial_id.is_(None),
            ).order_by(Trial.id).limit(1)
        )
        if source is None:
            continue
        for point in trials.curve(session, source.id):
            session.add(TrialMetricPoint(trial_id=trial.id, step=point.step, miou=point.miou,
                                         per_class_iou=dict(point.per_class_iou)))
        trial.reused_from_trial_id = source.id
        trial.code_version = code_version
        trial.progress_total = source.progress_total
        session.flush()
        trials.finish_trial(session, trial.id, TrialStatus.SUCCEEDED, final_miou=source.final_miou,
                            final_per_class=source.final_per_class, best_miou=source.best_miou,
                            best_step=source.best_step, reason=f"reused the result of trial {source.id}")
        reused += 1
    return reused


def resolve_paths(config: dict[str, Any], base: Path) -> dict[str, Any]:
    """The config with relative dataset roots and weight paths made absolute against ``base``.

    Specs name paths relative to the project (``data/gta``, ``pretrained/mit_b5.pth``); Ray
    workers run in their own trial folders (and on other nodes), so the dispatcher resolves them
    against its working directory before a trial leaves for a worker.
    """
    out = {**config, "data": {**config["data"]}, "model": {**config["model"]}}
    for domain in ("source", "target"):
        root = Path(out["data"][domain]["root"])
        out["data"][domain] = {**out["data"][domain], "root": str(root if root.is_absolute() else base / root)}
    pretrained = out["model"].get("pretrained")
    if pretrained and not Path(pretrained).is_absolute():
        out["model"]["pretrained"] = str(base / pretrained)
    return out


def _payloads(rows: list[Trial], tracking_uri: str | None, outputs_root: Path) -> list[TrialPayload]:
    """Each trial's payload; ``outputs_root / <trial id>`` keeps what MLflow did not get."""
    return [
        TrialPayload(trial_id=t.id, name=t.name, train_config=resolve_paths(t.config, Path.cwd()),
                     mlflow_tracking_uri=tracking_uri if t.mlflow_run_id else None, mlflow_run_id=t.mlflow_run_id,
                     outputs_dir=str(outputs_root / str(t.id)))
        for t in rows
    ]


def _tune_run(settings: Settings, session: Any, experiment_id: int) -> tuple[str, bool]:
    """The Tune experiment to use, and whether to restore it.

    A dispatcher that died leaves trials ``running`` and Tune state behind: that Tune experiment is
    restored (finished trials are never re-run). Anything else (a first run, a retry of failed or
    cancelled trials) starts a fresh Tune experiment over the trials still to run.
    """
    experiment = experiments.get_experiment(session, experiment_id)
    died = any(t.status == TrialStatus.RUNNING.value for t in trials.list_trials(session, experiment_id))
    previous = experiment.tune_run_name
    if died and previous and can_restore_path(Path(settings.storage_path) / previous):
        return previous, True
    name = f"experiment-{experiment_id}-{uuid.uuid4().hex[:8]}"
    experiment.tune_run_name = name
    session.flush()
    return name, False


def prepare(sink: DatabaseTrialSink, settings: Settings, experiment_id: int,
            code_version: str) -> tuple[str, bool, list[TrialPayload], dict[str, Any]]:
    """Choose the Tune run, dedup, open MLflow runs, and build the payloads of the trials to run."""
    with sink.transaction() as session:
        name, restore = _tune_run(settings, session, experiment_id)
        experiment = experiments.get_experiment(session, experiment_id)
        spec = dict(experiment.spec)
        if experiment.reuse_results:
            n = reuse_finished_trials(session, experiment_id, code_version)
            if n:
                log.info("experiment %s: %d trial(s) reuse earlier results", experiment_id, n)
        for trial in trials.list_trials(session, experiment_id):
            if trial.status == TrialStatus.RUNNING.value and restore:
                trials.set_trial_status(session, trial.id, TrialStatus.QUEUED,
                                        reason="its dispatcher stopped; resuming from the last checkpoint")
            if trial.status not in TERMINAL:
                trial.code_version = code_version
        mark_trials(session, [t.id for t in trials.list_trials(session, experiment_id) if t.status not in TERMINAL],
                    False)  # they run (again): their runs are verified and ended once they end
    open_mlflow_runs(sink, settings, experiment_id)
    with sink.transaction() as session:
        pending = [t for t in trials.list_trials(session, experiment_id) if t.status not in TERMINAL]
        outputs_root = (Path(settings.storage_path) / name / "outputs").resolve()
        return name, restore, _payloads(list(pending), settings.mlflow_tracking_uri, outputs_root), spec


def settle(sink: DatabaseTrialSink, experiment_id: int) -> ExperimentStatus:
    """Make every trial terminal and give the experiment its final status from them."""
    with sink.transaction() as session:
        cancelled = experiments.get_experiment(session, experiment_id, fresh=True).status == "cancelled"
        for trial in trials.list_trials(session, experiment_id):
            if trial.status in TERMINAL:
                continue
            if cancelled:
                trials.finish_trial(session, trial.id, TrialStatus.CANCELLED, reason="experiment cancelled")
            else:
                trials.finish_trial(session, trial.id, TrialStatus.FAILED, reason="Tune ended without a result",
                                    error="the trial ended without reporting a final result")
        settle_experiment(session, experiment_id)
        return ExperimentStatus(experiments.get_experiment(session, experiment_id, fresh=True).status)


def run_claimed_experiment(settings: Settings, experiment_id: int, code_version: str,
                           max_failures: int = 2, live_replay_s: float = 10.0) -> ExperimentStatus:
    """Run a claimed (status running) experiment to its end; resumes Tune state when it exists.

    Trials that start while MLflow is down get their curves sent every ``live_replay_s`` once it
    is back (`live_replay`)."""
    sink = DatabaseTrialSink(settings.database_url)
    name, restore, payloads, spec = prepare(sink, settings, experiment_id, code_version)
    resources = spec.get("resources") or {}
    payloads = preflight(settings, experiment_id, payloads, resources)
    run = ExperimentRun(
        name=name, payloads=payloads, storage_path=settings.storage_path, max_failures=max_failures,
        resources=TrialResources(cpus=float(resources.get("cpus", 1)), gpus=float(resources.get("gpus", 0))),
        reporter_factories=[MlflowReporterFactory()], callbacks=[waiting_watch(settings, experiment_id, resources)],
    )
    if payloads:
        log.info("experiment %s: running %d trial(s) on Ray Tune%s", experiment_id, len(payloads),
                 " (restored)" if restore else "")
        untracked = [p.trial_id for p in payloads if p.mlflow_run_id is None]
        with LiveReplay(sink, settings, experiment_id, untracked, interval_s=live_replay_s):
            run_experiment(run, sink, DatabaseCancelPoll(settings.database_url, experiment_id), restore=restore)
    return settle(sink, experiment_id)


def publish_results(settings: Settings, experiment_id: int) -> bool:
    """Everything of the ended experiment to MLflow: points the runs lack, files, run ends, tables
    and figures (after its status is final, so the results are on the API without waiting for this;
    see `tracking_sync`). False leaves its tracking pending, for a dispatcher to retry."""
    return sync_experiment(DatabaseTrialSink(settings.database_url), settings, experiment_id)
