"""All SQL about trials: creation, reads, status changes, progress, curve points and results.

The dispatcher calls `set_trial_status`, `record_progress`, `record_eval_point` and
`finish_trial` inside its own transactions; the caller commits. Each of them also bumps one of
the experiment's two results counters in the same transaction (see `_bump`), which is what
tells the API's results cache that a table, status or report page has changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import RowMapping, Table, func, insert, select, update
from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.db.transitions import compare_and_set_status
from service.errors import NotFoundError
from service.experiments.models import Experiment
from service.lifecycle import TRIAL_TERMINAL, TrialStatus, check_trial_transition
from service.trials.models import Trial, TrialMetricPoint, TrialStatusChange

LOG_TAIL_LINES = 50
RESULTS, PROGRESS = "results_version", "progress_version"
ACTIVE = frozenset({TrialStatus.QUEUED.value, TrialStatus.RUNNING.value})


def _bump(session: Session, which: Any, counter: str) -> None:
    """Count one change of the results (statuses, finals) or progress (steps, curve points) of an
    experiment's trials; ``which`` selects the experiment row.

    A trial's writes bump the experiment row *before* touching the trial row, so every
    transaction that locks both takes them in the same order (experiment, then trial) as the
    cancel and settle paths do, and PostgreSQL never sees a lock cycle between them.
    """
    column = getattr(Experiment, counter)
    statement = update(Experiment).where(which).values({counter: column + 1})
    session.execute(statement.execution_options(synchronize_session=False))


def _of_trial(trial_id: int) -> Any:
    return Experiment.id == select(Trial.experiment_id).where(Trial.id == trial_id).scalar_subquery()


def _bump_progress(session: Session, trial_id: int) -> None:
    """Count a progress change; for a trial that is not queued or running, count it as a results
    change too. So "only progress moved" always means "only active trials moved", which lets the
    results cache re-read just the active trials. The status is read after the experiment row is
    locked by the bump, when no other transaction can be changing a trial's status (every status
    change bumps the same row first)."""
    _bump(session, _of_trial(trial_id), PROGRESS)
    status = session.scalar(select(Trial.status).where(Trial.id == trial_id))
    if status not in ACTIVE:
        _bump(session, _of_trial(trial_id), RESULTS)


READ_COLUMNS = (Trial.id, Trial.experiment_id, Trial.name, Trial.variant, Trial.sweep, Trial.seed, Trial.config_hash,
                Trial.status, Trial.attempts, Trial.progress_iteration, Trial.progress_total, Trial.final_miou,
                Trial.best_miou, Trial.best_step, Trial.mlflow_run_id, Trial.error, Trial.reused_from_trial_id,
                Trial.created_at, Trial.started_at, Trial.finished_at)
"""What a trial's summary (`TrialRead`) shows: every column but its config JSON, log and artifacts."""


def add_trials(session: Session, experiment_id: int, plans: Iterable[dict[str, Any]]) -> list[RowMapping]:
    """Insert one queued trial per plan (keys: name, variant, sweep, seed, config, config_hash) and
    its "created" status change; returns the stored rows' `READ_COLUMNS`, in plan order.

    Two Core multi-row INSERTs (``RETURNING`` gives the ids): a 1,000-trial grid through the ORM's
    unit of work spent most of its submission in per-object bookkeeping. The rows get the same
    column defaults (``version`` 1, timestamps, queued) as ORM-created ones.
    """
    rows = [{"experiment_id": experiment_id, "status": TrialStatus.QUEUED.value, **plan} for plan in plans]
    if not rows:
        _bump(session, Experiment.id == experiment_id, RESULTS)
        return []
    table = cast(Table, Trial.__table__)
    statement = insert(table).returning(*(table.c[c.key] for c in READ_COLUMNS), sort_by_parameter_order=True)
    stored = list(session.execute(statement, rows).mappings())
    _bump(session, Experiment.id == experiment_id, RESULTS)
    session.execute(insert(cast(Table, TrialStatusChange.__table__)), [
        {"trial_id": t["id"], "from_status": None, "to_status": t["status"], "reason": "created"} for t in stored])
    return stored


def get_trial(session: Session, trial_id: int, fresh: bool = False) -> Trial:
    trial = session.get(Trial, trial_id, populate_existing=fresh)
    if trial is None:
        raise NotFoundError(f"trial {trial_id} does not exist")
    return trial


def list_trials(session: Session, experiment_id: int, status: str | None = None) -> Sequence[Trial]:
    query = select(Trial).where(Trial.experiment_id == experiment_id)
    if status is not None:
        query = query.where(Trial.status == status)
    return session.scalars(query.order_by(Trial.id)).all()


def list_trial_rows(session: Session, experiment_id: int) -> Sequence[RowMapping]:
    """The trials' `READ_COLUMNS` in id order (what `TrialRead` shows), without config JSON or log."""
    return session.execute(
        select(*READ_COLUMNS).where(Trial.experiment_id == experiment_id).order_by(Trial.id)).mappings().all()


def list_results(session: Session, experiment_id: int) -> Sequence[Any]:
    """The trials' names, status and final results only (rows, not entities): no config JSON or
    log is read, which is most of a trial row's bytes."""
    return session.execute(
        select(Trial.id, Trial.name, Trial.variant, Trial.sweep, Trial.seed, Trial.status, Trial.final_miou,
               Trial.final_per_class, Trial.best_miou, Trial.best_step)
        .where(Trial.experiment_id == experiment_id).order_by(Trial.id)
    ).all()


def status_counts(session: Session, experiment_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """``{experiment_id: {status: number of trials}}`` in one query."""
    rows = session.execute(
        select(Trial.experiment_id, Trial.status, func.count())
        .where(Trial.experiment_id.in_(experiment_ids))
        .group_by(Trial.experiment_id, Trial.status)
    )
    counts: dict[int, dict[str, int]] = {i: {} for i in experiment_ids}
    for experiment_id, status, n in rows:
        counts[experiment_id][status] = n
    return counts


def set_trial_status(
    session: Session, trial_id: int, status: TrialStatus, reason: str = "", error: str | None = None
) -> Trial:
    """Move a trial to ``status`` (checked against the transition table) and record the change.

    Becoming running counts an attempt and stamps ``started_at``; a terminal status stamps
    ``finished_at``; going back to queued clears the previous attempt's error.
    """
    values: dict[str, Any] = {}
    if status is TrialStatus.RUNNING:
        values.update(attempts=Trial.attempts + 1, started_at=func.coalesce(Trial.started_at, utcnow()))
    if status in TRIAL_TERMINAL:
        values["finished_at"] = utcnow()
    if status is TrialStatus.QUEUED:
        values.update(error=None, finished_at=None)
    if error is not None:
        values["error"] = error
    return _move(session, trial_id, status, reason, values)


def finish_trial(
    session: Session,
    trial_id: int,
    status: TrialStatus,
    *,
    final_miou: float | None = None,
    final_per_class: dict[str, float] | None = None,
    best_miou: float | None = None,
    best_step: int | None = None,
    error: str | None = None,
    reason: str = "",
) -> Trial:
    """End a trial (succeeded, failed or cancelled) with its final results in one update."""
    if status not in TRIAL_TERMINAL:
        raise ValueError(f"finish_trial needs a terminal status, got {status.value}")
    values: dict[str, Any] = {"finished_at": utcnow(), "error": error}
    if status is TrialStatus.SUCCEEDED:
        values.update(
            final_miou=final_miou,
            final_per_class=final_per_class,
            best_miou=best_miou,
            best_step=best_step,
            progress_iteration=Trial.progress_total,
        )
    return _move(session, trial_id, status, reason, values)


def _move(session: Session, trial_id: int, status: TrialStatus, reason: str, values: dict[str, Any]) -> Trial:
    _bump(session, _of_trial(trial_id), RESULTS)
    previous = compare_and_set_status(session, Trial, trial_id, status.value, _check, values)
    session.add(
        TrialStatusChange(trial_id=trial_id, from_status=previous, to_status=status.value, reason=reason)
    )
    session.flush()
    return get_trial(session, trial_id, fresh=True)


def _check(trial_id: int, current: str, target: Any) -> None:
    check_trial_transition(trial_id, current, TrialStatus(target))


def record_progress(
    session: Session, trial_id: int, iteration: int, total: int, log_lines: Sequence[str] = ()
) -> None:
    """Store the trial's progress and append to the tail of its log (the last 50 lines kept)."""
    _bump_progress(session, trial_id)
    values: dict[str, Any] = {
        "progress_iteration": iteration,
        "progress_total": total,
        "version": Trial.version + 1,
        "updated_at": utcnow(),
    }
    if log_lines:
        tail = session.scalar(select(Trial.log_tail).where(Trial.id == trial_id)) or []
        values["log_tail"] = [*tail, *log_lines][-LOG_TAIL_LINES:]
    statement = update(Trial).where(Trial.id == trial_id).values(**values)
    if session.execute(statement.execution_options(synchronize_session=False)).rowcount != 1:  # type: ignore[attr-defined]
        raise NotFoundError(f"trial {trial_id} does not exist")


def record_eval_point(
    session: Session, trial_id: int, step: int, per_class_iou: dict[str, float], miou: float
) -> None:
    """Store one evaluation; a resumed trial that evaluates the same step again replaces it."""
    _bump_progress(session, trial_id)
    existing = session.scalar(
        select(TrialMetricPoint).where(TrialMetricPoint.trial_id == trial_id, TrialMetricPoint.step == step)
    )
    if existing is None:
        get_trial(session, trial_id)
        session.add(
            TrialMetricPoint(trial_id=trial_id, step=step, per_class_iou=dict(per_class_iou), miou=miou)
        )
    else:
        existing.per_class_iou, existing.miou, existing.at = dict(per_class_iou), miou, utcnow()
    session.flush()


def curve(session: Session, trial_id: int) -> Sequence[TrialMetricPoint]:
    return session.scalars(
        select(TrialMetricPoint).where(TrialMetricPoint.trial_id == trial_id).order_by(TrialMetricPoint.step)
    ).all()


def status_history(session: Session, trial_id: int) -> Sequence[TrialStatusChange]:
    return session.scalars(
        select(TrialStatusChange).where(TrialStatusChange.trial_id == trial_id).order_by(TrialStatusChange.id)
    ).all()
