"""Tables of experiments and their status history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column

from service.db.base import Base, utcnow


class Experiment(Base):
    """One submitted ablation grid. ``version`` is the optimistic lock every update checks."""

    __tablename__ = "experiments"
    __table_args__ = (Index("ix_experiments_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    submitted: Mapped[dict[str, Any]] = mapped_column(doc="The request body as submitted.")
    spec: Mapped[dict[str, Any]] = mapped_column(doc="The resolved AblationSpec (presets applied).")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    owner: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    mlflow_experiment_id: Mapped[str | None] = mapped_column(String(64))
    mlflow_parent_run_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    dispatcher_id: Mapped[str | None] = mapped_column(String(200), doc="The dispatcher holding the lease.")
    heartbeat_at: Mapped[datetime | None] = mapped_column(doc="Last heartbeat of that dispatcher.")
    tune_run_name: Mapped[str | None] = mapped_column(String(200), doc="Ray Tune experiment name (restore).")
    reuse_results: Mapped[bool] = mapped_column(
        default=True, server_default=true(), doc="Reuse finished trials of the same config (deduplication)."
    )
    tracking_status: Mapped[str] = mapped_column(
        String(16), default="pending", server_default=text("'pending'"),
        doc="pending until everything the database holds is in MLflow and every run is ended; then complete.",
    )
    tracking_detail: Mapped[str | None] = mapped_column(Text, doc="Why tracking is still pending.")
    tracking_synced_at: Mapped[datetime | None] = mapped_column(doc="When MLflow last got everything.")
    notice: Mapped[str | None] = mapped_column(
        Text, doc="What the dispatcher says now: preflight of data and weights, waiting for resources."
    )
    disk_estimate_bytes: Mapped[int | None] = mapped_column(
        BigInteger, doc="Estimated peak size of the experiment's resume checkpoints in the storage path."
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    results_version: Mapped[int] = mapped_column(
        default=0, server_default="0", doc="Bumped by every change of a trial's status or final results."
    )
    progress_version: Mapped[int] = mapped_column(
        default=0, server_default="0", doc="Bumped by every progress row and evaluation point of a trial."
    )

    __mapper_args__ = {"version_id_col": version}


class ExperimentStatusChange(Base):
    """One row per status change: the audit trail of an experiment."""

    __tablename__ = "experiment_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
