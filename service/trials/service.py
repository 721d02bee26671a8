"""Trial use cases of the API: read one trial with its curve, cancel one trial."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from service.experiments import repository as experiments_repo
from service.lifecycle import EXPERIMENT_TRANSITIONS, ExperimentStatus, TrialStatus, experiment_outcome
from service.settings import Settings
from service.trials import repository
from service.trials.models import Trial
from service.trials.schemas import CurvePoint, Progress, StatusChangeRead, TrialDetail, TrialRead


def to_read(trial: Trial) -> TrialRead:
    return TrialRead(
        id=trial.id,
        experiment_id=trial.experiment_id,
        name=trial.name,
        variant=trial.variant,
        sweep=trial.sweep,
        seed=trial.seed,
        config_hash=trial.config_hash,
        status=trial.status,
        attempts=trial.attempts,
        progress=Progress(iteration=trial.progress_iteration, total=trial.progress_total),
        final_miou=trial.final_miou,
        best_miou=trial.best_miou,
        best_step=trial.best_step,
        mlflow_run_id=trial.mlflow_run_id,
        error=trial.error,
        reused_from_trial_id=trial.reused_from_trial_id,
        created_at=trial.created_at,
        started_at=trial.started_at,
        finished_at=trial.finished_at,
    )


def read_row(row: Mapping[Any, Any]) -> TrialRead:
    """`to_read` of a row of `repository.READ_COLUMNS` (what `add_trials` returns): validated from
    plain values, without an ORM object per trial."""
    return TrialRead.model_validate({
        **{k: row[k] for k in TrialRead.model_fields if k != "progress"},
        "progress": {"iteration": row["progress_iteration"], "total": row["progress_total"]},
    })


def detail(session: Session, settings: Settings, trial_id: int) -> TrialDetail:
    trial = repository.get_trial(session, trial_id)
    experiment = experiments_repo.get_experiment(session, trial.experiment_id)
    curve = [
        CurvePoint(step=p.step, miou=p.miou, per_class_iou=p.per_class_iou)
        for p in repository.curve(session, trial_id)
    ]
    history = [StatusChangeRead.model_validate(h) for h in repository.status_history(session, trial_id)]
    return TrialDetail(
        **to_read(trial).model_dump(),
        config=trial.config,
        final_per_class=trial.final_per_class,
        log_tail=[str(line) for line in trial.log_tail],
        curve=curve,
        history=history,
        mlflow_run_url=settings.mlflow_run_url(experiment.mlflow_experiment_id, trial.mlflow_run_id),
    )


def cancel(session: Session, trial_id: int) -> TrialRead:
    """Cancel a queued or running trial (a running one is stopped by the dispatcher's poll)."""
    trial = repository.set_trial_status(
        session, trial_id, TrialStatus.CANCELLED, reason="cancelled by a user"
    )
    settle_experiment(session, trial.experiment_id)
    return to_read(trial)


def settle_experiment(session: Session, experiment_id: int) -> None:
    """Give an experiment its final status once every trial is terminal (when that move is allowed)."""
    statuses = [t.status for t in repository.list_trials(session, experiment_id)]
    if any(s in (TrialStatus.QUEUED, TrialStatus.RUNNING) for s in statuses):
        return
    experiment = experiments_repo.get_experiment(session, experiment_id, fresh=True)
    outcome = experiment_outcome(statuses)
    if outcome in EXPERIMENT_TRANSITIONS[ExperimentStatus(experiment.status)]:
        experiments_repo.set_experiment_status(session, experiment_id, outcome, reason="all trials ended")
