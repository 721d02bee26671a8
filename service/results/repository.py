"""Reading an experiment's trials and curve points as result records (a few queries in all).

The tables must come from the database (issue: results), and must render quickly for 1,000
trials, so trials and curve points of the experiment are read in one query each and grouped
here, never per trial. Two depths: `load_results` reads every curve point (the figures need
them, as plain rows); `load_summary` reads only the columns tables, status and report use and the *last* curve
point of each trial (its step and mIoU: progress), never a trial's config JSON nor its log.
`load_stamp` is the one primary-key read that tells the cache whether any of it changed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, NamedTuple

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ablations.results import CurvePoint, ExperimentInfo, TrialRecord
from ablations.results.records import ACTIVE_STATUSES
from service.errors import NotFoundError
from service.experiments import repository as experiments
from service.experiments.models import Experiment
from service.results.cache import Stamp
from service.trials.models import Trial, TrialMetricPoint
from trainer.config import CITYSCAPES_CLASSES, config_from_dict


def _finite(per_class: dict[str, Any] | None) -> dict[str, float] | None:
    """Classes absent from both prediction and labels have no IoU (NaN/None); they are left out."""
    if per_class is None:
        return None
    return {k: float(v) for k, v in per_class.items() if v is not None and math.isfinite(float(v))}


def _eval_classes(config: dict[str, Any] | None) -> list[str]:
    if not config:
        return list(CITYSCAPES_CLASSES)
    return [CITYSCAPES_CLASSES[i] for i in config_from_dict(config).eval_classes]


class Results(NamedTuple):
    """What the tables, figures and report are built from, and the MLflow ids for their links."""

    info: ExperimentInfo
    records: list[TrialRecord]
    mlflow_experiment_id: str | None
    mlflow_parent_run_id: str | None
    mlflow_run_ids: dict[int, str]
    """Service trial id -> its MLflow run id (trials that have one)."""


def load_results(session: Session, experiment_id: int) -> Results:
    """The experiment's `ExperimentInfo`, one `TrialRecord` per trial (in trial order) and MLflow ids.

    Every curve point is read, as plain rows (no ORM object per point: 100,000 of them for 10,000
    trials), and each trial's columns without its config JSON or log."""
    points: dict[int, list[CurvePoint]] = defaultdict(list)
    query = (select(TrialMetricPoint.trial_id, TrialMetricPoint.step, TrialMetricPoint.per_class_iou,
                    TrialMetricPoint.miou)
             .join(Trial, Trial.id == TrialMetricPoint.trial_id)
             .where(Trial.experiment_id == experiment_id).order_by(TrialMetricPoint.step))
    for trial_id, step, per_class, miou in session.connection().execute(query):
        points[trial_id].append(CurvePoint(step, _finite(per_class) or {}, miou))
    return _load(session, experiment_id, True, points)


def load_stamp(session: Session, experiment_id: int) -> Stamp:
    """What the experiment's results depend on (see `service.results.cache`); 404 when absent."""
    row = session.execute(
        select(Experiment.version, Experiment.status, Experiment.results_version, Experiment.progress_version,
               Experiment.created_at).where(Experiment.id == experiment_id)
    ).first()
    if row is None:
        raise NotFoundError(f"experiment {experiment_id} does not exist")
    return Stamp(*row)


SUMMARY_COLUMNS = (Trial.id, Trial.name, Trial.variant, Trial.seed, Trial.status, Trial.final_miou, Trial.best_miou,
                   Trial.best_step, Trial.progress_iteration, Trial.progress_total, Trial.mlflow_run_id)


def _last_points(session: Session, experiment_id: int, active_only: bool = False) -> dict[int, CurvePoint]:
    """Each trial's last evaluation (step and mIoU, no per-class values): one grouped query that
    reads only the (trial_id, step, miou) index, not the points' per-class JSON."""
    trials = select(Trial.id).where(Trial.experiment_id == experiment_id)
    if active_only:
        trials = trials.where(Trial.status.in_(ACTIVE_STATUSES))
    last = (select(TrialMetricPoint.trial_id, func.max(TrialMetricPoint.step).label("step"))
            .where(TrialMetricPoint.trial_id.in_(trials))
            .group_by(TrialMetricPoint.trial_id).subquery())
    rows = session.connection().execute(
        select(TrialMetricPoint.trial_id, TrialMetricPoint.step, TrialMetricPoint.miou)
        .join(last, and_(TrialMetricPoint.trial_id == last.c.trial_id, TrialMetricPoint.step == last.c.step))
    ).all()
    return {trial_id: CurvePoint(step, {}, miou) for trial_id, step, miou in rows}


def load_summary(session: Session, experiment_id: int, per_class: bool = True) -> Results:
    """Like `load_results`, but each record's curve holds only its last point, without per-class
    values: all that tables (finals only), status and the report page's progress lines read.

    ``per_class=False`` also leaves out the sweep and final per-class IoUs, which only the tables
    read: what status and the report's progress lines need, at a fraction of the cost.
    """
    last = {trial_id: [point] for trial_id, point in _last_points(session, experiment_id).items()}
    return _load(session, experiment_id, per_class, last)


def _load(session: Session, experiment_id: int, per_class: bool, curves: Mapping[int, list[CurvePoint]]) -> Results:
    """The experiment's results with ``curves[trial id]`` as each trial's curve."""
    experiment = experiments.get_experiment(session, experiment_id)
    columns = (*SUMMARY_COLUMNS, Trial.sweep, Trial.final_per_class) if per_class else SUMMARY_COLUMNS
    rows = session.connection().execute(
        select(*columns).where(Trial.experiment_id == experiment_id).order_by(Trial.id)).all()
    first_config = session.scalar(
        select(Trial.config).where(Trial.experiment_id == experiment_id).order_by(Trial.id).limit(1))
    spec = experiment.spec or {}
    info = ExperimentInfo(
        id=experiment.id, name=experiment.name, status=experiment.status, baseline=spec.get("baseline"),
        seeds_planned=list(spec.get("seeds") or []), published=spec.get("published") or None,
        eval_classes=_eval_classes(first_config),
    )
    records = [
        TrialRecord(
            trial_id=t.id, name=t.name, variant=t.variant, sweep=(t.sweep or {}) if per_class else {}, seed=t.seed,
            status=t.status, final_miou=t.final_miou,
            final_per_class=_finite(t.final_per_class) if per_class else None, best_miou=t.best_miou,
            best_step=t.best_step, final_step=t.progress_total if t.status == "succeeded" else None,
            curve=curves.get(t.id, []), current_step=t.progress_iteration,
            total_steps=t.progress_total or None,
        )
        for t in rows
    ]
    run_ids = {t.id: t.mlflow_run_id for t in rows if t.mlflow_run_id}
    return Results(info, records, experiment.mlflow_experiment_id, experiment.mlflow_parent_run_id, run_ids)


Progress = tuple[int, int, CurvePoint | None]
"""A trial's progress row and last evaluation: (progress_iteration, progress_total, last point)."""


def load_progress(session: Session, experiment_id: int) -> dict[int, Progress]:
    """The queued and running trials' `Progress`: the only summary values a progress row or an
    evaluation changes, and only on active trials (the trials repository counts a change of any
    other trial as a results change), so this is all that moves while ``Stamp.results`` holds."""
    rows = session.connection().execute(
        select(Trial.id, Trial.progress_iteration, Trial.progress_total)
        .where(Trial.experiment_id == experiment_id, Trial.status.in_(ACTIVE_STATUSES))
    ).all()
    last = _last_points(session, experiment_id, active_only=True)
    return {trial_id: (iteration, total, last.get(trial_id)) for trial_id, iteration, total in rows}


def progress_over(records: Iterable[TrialRecord], progress: dict[int, Progress]) -> list[TrialRecord]:
    """``records`` with each trial's progress replaced by ``progress`` (records that did not move
    are kept as they are, so only the few running trials are rebuilt and re-validated)."""
    out = []
    for record in records:
        moved = progress.get(int(record.trial_id))
        if moved is None:
            out.append(record)
            continue
        iteration, total, point = moved
        curve = (point,) if point is not None else ()
        total_steps = total or None
        final_step = total if record.status == "succeeded" else None
        if (record.current_step, record.total_steps, record.final_step, tuple(record.curve)) != (
                iteration, total_steps, final_step, curve):
            record = replace(record, current_step=iteration, total_steps=total_steps, final_step=final_step,
                             curve=curve)
        out.append(record)
    return out
