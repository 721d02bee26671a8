"""Replaying an experiment into MLflow from the database: runs, points, files, run ends, results.

Called by the experiment's runner when its trials have ended, and again by any dispatcher for
every ended experiment whose tracking is still pending (MLflow was down), until it is complete.
Each step is idempotent (runs are found by their tags, points sent only where the run lacks
their (key, step), files only where their folder is empty), so a replay cut off at any point is
simply run again. Nothing here changes an experiment's or trial's status: MLflow is a mirror.
"""

from __future__ import annotations

import logging
from typing import Any

from mlflow.exceptions import MlflowException

from ablations.tracking import make_client
from ablations.tracking.replay import end_run, replay_trial
from service.dispatcher import tracking_state as state
from service.dispatcher.results_logging import log_experiment_results
from service.dispatcher.tracking import open_runs
from service.experiments import repository as experiments
from service.lifecycle import EXPERIMENT_TERMINAL, ExperimentStatus
from service.settings import Settings

log = logging.getLogger(__name__)


PERMANENT_ERRORS = frozenset({"INVALID_STATE", "RESOURCE_DOES_NOT_EXIST"})
"""MLflow refusals a retry cannot fix (a run or experiment deleted by hand): tracking ``failed``."""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def sync_experiment(sink: Any, settings: Settings, experiment_id: int) -> bool:
    """Make MLflow hold everything the database holds of this experiment; True when complete.

    A running experiment gets its runs (and ended trials their points and run ends); an ended one
    also gets its tables and figures and its parent run ended. Failures leave the state pending
    with the reason, for the next attempt.
    """
    try:
        return _sync(sink, settings, experiment_id)
    except MlflowException as exc:
        if exc.error_code not in PERMANENT_ERRORS:
            return _pending(sink, settings, experiment_id, exc)
        log.error("experiment %s: MLflow refused its runs for good: %s", experiment_id, exc)
        with sink.transaction() as session:
            state.set_experiment_tracking(session, experiment_id, state.FAILED,
                                          f"MLflow at {settings.mlflow_tracking_uri} refused: {_first_line(exc)} "
                                          "(a run or experiment deleted there?); not retried")
        return False
    except Exception as exc:  # MLflow down: state says so, the next attempt resumes
        return _pending(sink, settings, experiment_id, exc)


def _pending(sink: Any, settings: Settings, experiment_id: int, exc: BaseException) -> bool:
    log.warning("experiment %s: MLflow sync pending: %s", experiment_id, exc)
    with sink.transaction() as session:
        state.set_experiment_tracking(
            session, experiment_id, state.PENDING,
            f"MLflow at {settings.mlflow_tracking_uri} is unreachable or did not accept it ({_first_line(exc)}); "
            "everything is kept in the database and sent when it is back (a dispatcher retries)")
    return False


def _sync(sink: Any, settings: Settings, experiment_id: int) -> bool:
    open_runs(sink, settings, experiment_id)
    client = make_client(settings.mlflow_tracking_uri)
    with sink.transaction() as session:
        todo = [(t.id, t.mlflow_run_id, state.trial_record(session, t))
                for t in state.unsynced_ended_trials(session, experiment_id)]
    for trial_id, run_id, record in todo:
        counts = replay_trial(client, str(run_id), record)
        if counts.sent or counts.uploaded:
            log.info("experiment %s trial %s: replayed %d metric points, uploaded %s", experiment_id, trial_id,
                     counts.sent, counts.uploaded or "no files")
        for missing in counts.missing_files:
            log.warning("trial %s: %s is not on this machine; not uploaded to MLflow", trial_id, missing)
        with sink.transaction() as session:
            state.mark_trials(session, [trial_id], True)
    with sink.transaction() as session:
        experiment = experiments.get_experiment(session, experiment_id, fresh=True)
        status, parent = ExperimentStatus(experiment.status), experiment.mlflow_parent_run_id
        waiting = len(state.unsynced_ended_trials(session, experiment_id))
    if status not in EXPERIMENT_TERMINAL:
        with sink.transaction() as session:
            state.set_experiment_tracking(session, experiment_id, state.LIVE,
                                          "trials log to MLflow as they run; tables and figures follow the end")
        return False
    if waiting or parent is None:
        raise RuntimeError(f"{waiting} ended trial(s) are not in MLflow yet")
    with sink.transaction() as session:
        state.set_experiment_tracking(session, experiment_id, state.PENDING,
                                      "publishing the tables and figures to MLflow")
    if not log_experiment_results(sink, settings, experiment_id):
        raise RuntimeError("the tables and figures could not be logged to MLflow (see the dispatcher log)")
    end_run(client, parent, status.value)
    with sink.transaction() as session:
        state.set_experiment_tracking(session, experiment_id, state.COMPLETE, None)
    log.info("experiment %s: everything is in MLflow; runs ended", experiment_id)
    return True
