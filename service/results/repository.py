"""Reading an experiment's trials and curve points as result records (two queries in all).

The tables must come from the database (issue: results), and must render quickly for 1,000
trials, so trials and every curve point of the experiment are read in one query each and
grouped here, never per trial.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from ablations.results import CurvePoint, ExperimentInfo, TrialRecord
from service.experiments import repository as experiments
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
    """The experiment's `ExperimentInfo`, one `TrialRecord` per trial (in trial order) and MLflow ids."""
    experiment = experiments.get_experiment(session, experiment_id)
    rows = session.scalars(select(Trial).where(Trial.experiment_id == experiment_id).order_by(Trial.id)).all()
    points: dict[int, list[CurvePoint]] = defaultdict(list)
    query = (select(TrialMetricPoint).join(Trial, Trial.id == TrialMetricPoint.trial_id)
             .where(Trial.experiment_id == experiment_id).order_by(TrialMetricPoint.step))
    for point in session.scalars(query):
        points[point.trial_id].append(CurvePoint(point.step, _finite(point.per_class_iou) or {}, point.miou))
    spec = experiment.spec or {}
    info = ExperimentInfo(
        id=experiment.id, name=experiment.name, status=experiment.status, baseline=spec.get("baseline"),
        seeds_planned=list(spec.get("seeds") or []), published=spec.get("published") or None,
        eval_classes=_eval_classes(rows[0].config if rows else None),
    )
    records = [
        TrialRecord(
            trial_id=t.id, name=t.name, variant=t.variant, sweep=t.sweep or {}, seed=t.seed, status=t.status,
            final_miou=t.final_miou, final_per_class=_finite(t.final_per_class), best_miou=t.best_miou,
            best_step=t.best_step, final_step=t.progress_total if t.status == "succeeded" else None,
            curve=points.get(t.id, []), current_step=t.progress_iteration, total_steps=t.progress_total or None,
        )
        for t in rows
    ]
    run_ids = {t.id: t.mlflow_run_id for t in rows if t.mlflow_run_id}
    return Results(info, records, experiment.mlflow_experiment_id, experiment.mlflow_parent_run_id, run_ids)
