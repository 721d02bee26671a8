"""Which dispatcher holds which experiment: heartbeats, and reclaiming from a dead dispatcher.

A dispatcher stamps ``heartbeat_at`` on the experiments it runs every few seconds. An experiment
that is ``running`` but whose heartbeat is older than the lease was left by a dispatcher that
died; any dispatcher moves it back to ``queued`` (a status change with its reason), claims it
like any other, and restores its Tune state.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.experiments import repository as experiments
from service.experiments.models import Experiment
from service.lifecycle import ExperimentStatus


def take(session: Session, experiment_id: int, dispatcher_id: str) -> None:
    """Mark a just-claimed experiment as held by this dispatcher."""
    session.execute(update(Experiment).where(Experiment.id == experiment_id)
                    .values(dispatcher_id=dispatcher_id, heartbeat_at=utcnow())
                    .execution_options(synchronize_session=False))


def heartbeat(session: Session, experiment_ids: list[int], dispatcher_id: str) -> None:
    if experiment_ids:
        session.execute(update(Experiment)
                        .where(Experiment.id.in_(experiment_ids), Experiment.dispatcher_id == dispatcher_id)
                        .values(heartbeat_at=utcnow()).execution_options(synchronize_session=False))


def requeue_abandoned(session: Session, lease: timedelta) -> list[int]:
    """Put experiments whose dispatcher stopped heartbeating back in the queue; returns their ids."""
    stale = utcnow() - lease
    ids = list(session.scalars(select(Experiment.id).where(
        Experiment.status == ExperimentStatus.RUNNING.value,
        or_(Experiment.heartbeat_at.is_(None), Experiment.heartbeat_at < stale),
    )))
    for experiment_id in ids:
        experiments.set_experiment_status(session, experiment_id, ExperimentStatus.QUEUED,
                                          reason="its dispatcher stopped heartbeating; resuming")
    return ids
