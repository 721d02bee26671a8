"""Tables of trials, their evaluation points (per-class IoU curves) and status history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base, utcnow


class Trial(Base):
    """One training run of an experiment. ``version`` is the optimistic lock every update checks."""

    __tablename__ = "trials"
    __table_args__ = (Index("ix_trials_experiment_id_status", "experiment_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(300))
    variant: Mapped[str] = mapped_column(String(200))
    sweep: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="Sweep point: dotted key -> value.")
    seed: Mapped[int]
    config: Mapped[dict[str, Any]] = mapped_column(doc="The fully resolved TrainConfig JSON.")
    config_hash: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    progress_iteration: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    final_miou: Mapped[float | None]
    final_per_class: Mapped[dict[str, Any] | None]
    best_miou: Mapped[float | None]
    best_step: Mapped[int | None]
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    log_tail: Mapped[list[Any]] = mapped_column(default=list, doc="The last lines the trial logged.")
    code_version: Mapped[str | None] = mapped_column(String(64), doc="Code revision the trial ran with.")
    reused_from_trial_id: Mapped[int | None] = mapped_column(ForeignKey("trials.id", ondelete="SET NULL"))
    tracking_synced: Mapped[bool] = mapped_column(
        default=False, server_default=false(), doc="Its MLflow run holds every point and final value, and is ended."
    )
    artifacts: Mapped[dict[str, Any] | None] = mapped_column(
        doc="MLflow artifact folder -> local file of the final run (checkpoints, metrics log)."
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class TrialMetricPoint(Base):
    """One evaluation of a trial: per-class IoU and mIoU at a training step (a curve point)."""

    __tablename__ = "trial_metric_points"
    __table_args__ = (
        UniqueConstraint("trial_id", "step"),
        Index("ix_trial_metric_points_trial_id_step_miou", "trial_id", "step", "miou"),  # last points, index only
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"))
    step: Mapped[int]
    miou: Mapped[float]
    per_class_iou: Mapped[dict[str, Any]]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TrialStatusChange(Base):
    """One row per status change: the audit trail of a trial."""

    __tablename__ = "trial_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
