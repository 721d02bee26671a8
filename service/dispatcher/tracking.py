"""MLflow bookkeeping of the dispatcher: one MLflow experiment and parent run per service
experiment, one nested run per trial, created before the trial starts (ARCHITECTURE: MLflow).

MLflow being down must not fail an experiment: the dispatcher retries a few times, then runs the
trials without live tracking and says so in the log, on the trial rows and in the experiment's
``tracking_status`` (pending). Everything the trials report is in the database, and
`tracking_sync` sends it, with the runs opened late, once MLflow is back.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from ablations.tracking import (
    code_version,
    create_parent_run,
    create_trial_run,
    ensure_experiment,
    make_client,
)
from service.dispatcher import tracking_state as state
from service.experiments import repository as experiments
from service.settings import Settings
from service.trials import repository as trials

log = logging.getLogger(__name__)

ATTEMPTS = 3


def mlflow_experiment_name(experiment_id: int, name: str, created_at: datetime) -> str:
    """Readable and unique per service database: two deployments sharing one MLflow server (or a
    database recreated from scratch) never write into each other's experiment."""
    return f"ablate-{experiment_id}-{name}-{created_at:%Y%m%dT%H%M%S%f}"


def open_mlflow_runs(sink: Any, settings: Settings, experiment_id: int) -> bool:
    """Create (or find) the MLflow experiment, parent run and trial runs; False if MLflow is down."""
    error: Exception | None = None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            open_runs(sink, settings, experiment_id)
            with sink.transaction() as session:
                state.set_experiment_tracking(session, experiment_id, state.LIVE,
                                              "trials log to MLflow as they run; tables and figures follow the end")
            return True
        except Exception as exc:  # any MLflow/transport error: try again, then run untracked
            error = exc
            log.warning("MLflow at %s unreachable (attempt %d/%d): %s", settings.mlflow_tracking_uri,
                        attempt, ATTEMPTS, exc)
            time.sleep(min(2.0 * attempt, 5.0))
    first = (str(error).strip().splitlines() or ["no answer"])[0][:300]
    with sink.transaction() as session:
        state.set_experiment_tracking(
            session, experiment_id, state.PENDING,
            f"MLflow at {settings.mlflow_tracking_uri} was unreachable when the experiment started ({first}); "
            "trials run without live tracking, and their runs, points and files are sent when it is back")
    with sink.transaction() as session:
        for trial in trials.list_trials(session, experiment_id):
            if trial.mlflow_run_id is None:
                trials.record_progress(session, trial.id, trial.progress_iteration, trial.progress_total,
                                       [f"MLflow at {settings.mlflow_tracking_uri} was unreachable: "
                                        "this trial runs without live MLflow tracking (sent when it is back)"])
    return False


def open_runs(sink: Any, settings: Settings, experiment_id: int) -> None:
    """MLflow calls happen outside database transactions, so no write lock is held meanwhile."""
    client = make_client(settings.mlflow_tracking_uri)
    with sink.transaction() as session:
        experiment = experiments.get_experiment(session, experiment_id)
        untracked = [t for t in trials.list_trials(session, experiment_id) if t.mlflow_run_id is None]
    tags = {"ablation.experiment_id": str(experiment_id)}
    mlflow_id = experiment.mlflow_experiment_id or ensure_experiment(
        client, mlflow_experiment_name(experiment_id, experiment.name, experiment.created_at), tags)
    parent = experiment.mlflow_parent_run_id or create_parent_run(client, mlflow_id, experiment.name, tags=tags)
    revision = code_version()
    run_ids = {t.id: create_trial_run(client, mlflow_id, parent, t, service_experiment_id=str(experiment_id),
                                      revision=revision) for t in untracked}
    with sink.transaction() as session:
        experiments.set_mlflow_ids(session, experiment_id, mlflow_id, parent)
        for trial_id, run_id in run_ids.items():
            trials.get_trial(session, trial_id).mlflow_run_id = run_id
        session.flush()
