"""The durable tracking state of experiments and trials: what still has to reach MLflow.

The database is the outbox. Every evaluation and final result is written there first (the
sink), whatever MLflow's state; these helpers read what a trial's run must hold and record how
far MLflow has got (``experiments.tracking_status``: pending, live, complete, or failed when
MLflow refused for good; and ``trials.tracking_synced``). Updates are plain UPDATE statements,
like the lease's, so they never collide with the optimistic version lock of API writes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ablations.tracking.replay import TAG_REUSED_FROM_RUN, TAG_REUSED_FROM_TRIAL, EvalPoint, TrialRecord
from service.db.base import utcnow
from service.experiments.models import Experiment
from service.lifecycle import EXPERIMENT_TERMINAL, TRIAL_TERMINAL
from service.trials import repository as trials
from service.trials.models import Trial

PENDING, LIVE, COMPLETE, FAILED = "pending", "live", "complete", "failed"


def set_experiment_tracking(session: Session, experiment_id: int, status: str, detail: str | None) -> None:
    values: dict[str, Any] = {"tracking_status": status, "tracking_detail": detail}
    if status == COMPLETE:
        values["tracking_synced_at"] = utcnow()
    session.execute(update(Experiment).where(Experiment.id == experiment_id).values(**values)
                    .execution_options(synchronize_session=False))


def mark_trials(session: Session, trial_ids: list[int], synced: bool) -> None:
    if trial_ids:
        session.execute(update(Trial).where(Trial.id.in_(trial_ids)).values(tracking_synced=synced)
                        .execution_options(synchronize_session=False))


def store_artifacts(session: Session, trial_id: int, artifacts: dict[str, str]) -> None:
    """Remember the local files of a finished trial, for an upload once MLflow is reachable."""
    session.execute(update(Trial).where(Trial.id == trial_id).values(artifacts=artifacts)
                    .execution_options(synchronize_session=False))


def trial_record(session: Session, trial: Trial) -> TrialRecord:
    """What the trial's run must hold: its curve, final values, files and reuse tags."""
    points = [EvalPoint(p.step, p.miou, dict(p.per_class_iou), p.at) for p in trials.curve(session, trial.id)]
    tags: dict[str, str] = {}
    if trial.reused_from_trial_id is not None:
        tags[TAG_REUSED_FROM_TRIAL] = str(trial.reused_from_trial_id)
        source_run = session.scalar(select(Trial.mlflow_run_id).where(Trial.id == trial.reused_from_trial_id))
        if source_run:
            tags[TAG_REUSED_FROM_RUN] = source_run
    succeeded = trial.status == "succeeded"
    return TrialRecord(
        status=trial.status, points=points, final_step=trial.progress_total if succeeded else None,
        final_miou=trial.final_miou if succeeded else None, best_miou=trial.best_miou if succeeded else None,
        best_step=trial.best_step, artifacts=dict(trial.artifacts or {}), tags=tags,
    )


def unsynced_ended_trials(session: Session, experiment_id: int) -> list[Trial]:
    terminal = [s.value for s in TRIAL_TERMINAL]
    return list(session.scalars(select(Trial).where(
        Trial.experiment_id == experiment_id, Trial.status.in_(terminal), Trial.tracking_synced.is_(False),
        Trial.mlflow_run_id.is_not(None)).order_by(Trial.id)))


def claim_pending_sync(session: Session, dispatcher_id: str, lease: timedelta, exclude: list[int]) -> int | None:
    """Take the oldest ended experiment whose tracking is pending and whose lease is free; its id.

    A conditional UPDATE on the lease columns, so two dispatchers never replay the same
    experiment at once (which could send a point twice).
    """
    stale = utcnow() - lease
    candidates = select(Experiment.id).where(
        Experiment.status.in_([s.value for s in EXPERIMENT_TERMINAL]), Experiment.tracking_status.in_([PENDING, LIVE]),
        Experiment.id.not_in(exclude or [-1]),
        or_(Experiment.dispatcher_id.is_(None), Experiment.dispatcher_id == dispatcher_id,
            Experiment.heartbeat_at.is_(None), Experiment.heartbeat_at < stale),
    ).order_by(Experiment.id)
    for experiment_id in session.scalars(candidates).all():
        taken = session.execute(
            update(Experiment).where(
                Experiment.id == experiment_id,
                or_(Experiment.dispatcher_id.is_(None), Experiment.dispatcher_id == dispatcher_id,
                    Experiment.heartbeat_at.is_(None), Experiment.heartbeat_at < stale))
            .values(dispatcher_id=dispatcher_id, heartbeat_at=utcnow()).execution_options(synchronize_session=False))
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return int(experiment_id)
    return None
