"""All SQL about experiments: creation (idempotent), reads, listing, status changes, claiming."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.db.engine import is_postgresql
from service.db.transitions import compare_and_set_status
from service.errors import NotFoundError
from service.experiments.models import Experiment, ExperimentStatusChange
from service.lifecycle import EXPERIMENT_TERMINAL, ExperimentStatus, check_experiment_transition


def insert_experiment(session: Session, experiment: Experiment) -> Experiment | None:
    """Insert a queued experiment; None when its idempotency key was taken meanwhile.

    With a key, the insert runs in a SAVEPOINT so that losing the race for an idempotency key to a concurrent
    request leaves the request's transaction usable (the caller then reads the winner).
    """
    experiment.status = ExperimentStatus.QUEUED.value
    if experiment.idempotency_key is None:  # no race to lose: no SAVEPOINT round trips
        session.add(experiment)
        session.flush()
    else:
        try:
            with session.begin_nested():
                session.add(experiment)
                session.flush()
        except IntegrityError:
            return None
    session.add(
        ExperimentStatusChange(
            experiment_id=experiment.id, from_status=None, to_status=experiment.status, reason="submitted"
        )
    )
    return experiment


def get_experiment(session: Session, experiment_id: int, fresh: bool = False) -> Experiment:
    experiment = session.get(Experiment, experiment_id, populate_existing=fresh)
    if experiment is None:
        raise NotFoundError(f"experiment {experiment_id} does not exist")
    return experiment


def find_by_idempotency_key(session: Session, key: str) -> Experiment | None:
    return session.scalar(select(Experiment).where(Experiment.idempotency_key == key))


def list_experiments(
    session: Session, status: str | None, name: str | None, before_id: int | None, limit: int
) -> Sequence[Experiment]:
    """Newest first, keyset-paginated: the page after ``before_id`` (the previous page's last id)."""
    query = select(Experiment)
    if status is not None:
        query = query.where(Experiment.status == status)
    if name is not None:
        query = query.where(Experiment.name.contains(name, autoescape=True))
    if before_id is not None:
        query = query.where(Experiment.id < before_id)
    return session.scalars(query.order_by(Experiment.id.desc()).limit(limit)).all()


def set_experiment_status(
    session: Session, experiment_id: int, status: ExperimentStatus, reason: str = "", error: str | None = None
) -> Experiment:
    """Move an experiment to ``status`` (checked against the transition table) and record it."""
    values: dict[str, Any] = {}
    if status is ExperimentStatus.RUNNING:
        values["started_at"] = func.coalesce(Experiment.started_at, utcnow())
    if status in EXPERIMENT_TERMINAL:
        values["finished_at"] = utcnow()
    if status is ExperimentStatus.QUEUED:
        values.update(finished_at=None, error=None)
    if error is not None:
        values["error"] = error
    previous = compare_and_set_status(session, Experiment, experiment_id, status.value, _check, values)
    _record(session, experiment_id, previous, status, reason)
    return get_experiment(session, experiment_id, fresh=True)


def _check(experiment_id: int, current: str, target: Any) -> None:
    check_experiment_transition(experiment_id, current, ExperimentStatus(target))


def _record(
    session: Session, experiment_id: int, previous: str | None, status: ExperimentStatus, reason: str
) -> None:
    session.add(
        ExperimentStatusChange(
            experiment_id=experiment_id, from_status=previous, to_status=status.value, reason=reason
        )
    )
    session.flush()


def claim_next_queued_experiment(
    session: Session, reason: str = "claimed by a dispatcher"
) -> Experiment | None:
    """Atomically take the oldest queued experiment and mark it running; None when none is queued.

    PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` so concurrent dispatchers each get a
    different experiment without waiting on each other. SQLite: one conditional
    ``UPDATE ... WHERE id = (oldest queued) AND status = 'queued' RETURNING id`` (writers are
    serialised, so two dispatchers can never claim the same row).
    """
    queued = ExperimentStatus.QUEUED.value
    oldest = select(Experiment.id).where(Experiment.status == queued).order_by(Experiment.id).limit(1)
    claim = update(Experiment).values(
        status=ExperimentStatus.RUNNING.value,
        version=Experiment.version + 1,
        updated_at=utcnow(),
        started_at=func.coalesce(Experiment.started_at, utcnow()),
    )
    if is_postgresql(session):
        experiment_id = session.scalar(oldest.with_for_update(skip_locked=True))
        if experiment_id is None:
            return None
        session.execute(
            claim.where(Experiment.id == experiment_id).execution_options(synchronize_session=False)
        )
    else:
        statement = claim.where(Experiment.id == oldest.scalar_subquery(), Experiment.status == queued)
        experiment_id = session.scalar(
            statement.returning(Experiment.id).execution_options(synchronize_session=False)
        )
        if experiment_id is None:
            return None
    _record(session, experiment_id, queued, ExperimentStatus.RUNNING, reason)
    return get_experiment(session, experiment_id, fresh=True)


def set_mlflow_ids(
    session: Session, experiment_id: int, mlflow_experiment_id: str, parent_run_id: str
) -> None:
    """Store the MLflow experiment and parent run the dispatcher created for this experiment."""
    experiment = get_experiment(session, experiment_id)
    experiment.mlflow_experiment_id, experiment.mlflow_parent_run_id = mlflow_experiment_id, parent_run_id
    session.flush()


def status_history(session: Session, experiment_id: int) -> Sequence[ExperimentStatusChange]:
    return session.scalars(
        select(ExperimentStatusChange)
        .where(ExperimentStatusChange.experiment_id == experiment_id)
        .order_by(ExperimentStatusChange.id)
    ).all()
