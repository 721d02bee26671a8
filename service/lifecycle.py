"""Statuses of experiments and trials and the transitions allowed between them.

Every status change goes through `check_transition`, so a finished trial cannot silently become
running again and a cancelled experiment is only re-queued by an explicit retry.
"""

from __future__ import annotations

from enum import StrEnum

from service.errors import InvalidTransitionError


class TrialStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ExperimentStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TRIAL_TRANSITIONS: dict[TrialStatus, frozenset[TrialStatus]] = {
    # queued -> succeeded: deduplication settles a trial with an identical earlier trial's result.
    TrialStatus.QUEUED: frozenset(
        {TrialStatus.RUNNING, TrialStatus.CANCELLED, TrialStatus.FAILED, TrialStatus.SUCCEEDED}
    ),
    # running -> queued: a worker died and Tune restarts the trial from its checkpoint.
    TrialStatus.RUNNING: frozenset(
        {TrialStatus.SUCCEEDED, TrialStatus.FAILED, TrialStatus.CANCELLED, TrialStatus.QUEUED}
    ),
    TrialStatus.SUCCEEDED: frozenset(),
    TrialStatus.FAILED: frozenset({TrialStatus.QUEUED}),
    TrialStatus.CANCELLED: frozenset({TrialStatus.QUEUED}),
}

EXPERIMENT_TRANSITIONS: dict[ExperimentStatus, frozenset[ExperimentStatus]] = {
    ExperimentStatus.QUEUED: frozenset({ExperimentStatus.RUNNING, ExperimentStatus.CANCELLED}),
    # running -> queued: the dispatcher that held it died; another one resumes it.
    ExperimentStatus.RUNNING: frozenset(
        {
            ExperimentStatus.SUCCEEDED,
            ExperimentStatus.FAILED,
            ExperimentStatus.CANCELLED,
            ExperimentStatus.QUEUED,
        }
    ),
    # succeeded -> queued: a retry of the trials cancelled one by one (`experiments.service.retry`
    # refuses a succeeded experiment that has none).
    ExperimentStatus.SUCCEEDED: frozenset({ExperimentStatus.QUEUED}),
    ExperimentStatus.FAILED: frozenset({ExperimentStatus.QUEUED}),
    ExperimentStatus.CANCELLED: frozenset({ExperimentStatus.QUEUED}),
}

TRIAL_TERMINAL = frozenset({TrialStatus.SUCCEEDED, TrialStatus.FAILED, TrialStatus.CANCELLED})
EXPERIMENT_TERMINAL = frozenset(
    {ExperimentStatus.SUCCEEDED, ExperimentStatus.FAILED, ExperimentStatus.CANCELLED}
)


def check_trial_transition(trial_id: int, current: str, target: TrialStatus) -> None:
    if target not in TRIAL_TRANSITIONS[TrialStatus(current)]:
        raise InvalidTransitionError(f"trial {trial_id} is {current}; it cannot become {target.value}")


def check_experiment_transition(experiment_id: int, current: str, target: ExperimentStatus) -> None:
    if target not in EXPERIMENT_TRANSITIONS[ExperimentStatus(current)]:
        raise InvalidTransitionError(
            f"experiment {experiment_id} is {current}; it cannot become {target.value}"
        )


def experiment_outcome(trial_statuses: list[str]) -> ExperimentStatus:
    """The final status of an experiment whose trials are all terminal.

    Any failed trial fails the experiment (it can be retried). Cancelled trials are only that: an
    experiment ends cancelled when none of its trials succeeded, else it succeeded with the trials
    it has (its tables say "n cancelled" for the rows that miss seeds).
    """
    statuses = {TrialStatus(s) for s in trial_statuses}
    if TrialStatus.FAILED in statuses:
        return ExperimentStatus.FAILED
    if statuses == {TrialStatus.CANCELLED}:
        return ExperimentStatus.CANCELLED
    return ExperimentStatus.SUCCEEDED
