"""API schemas of trials: summaries, the detail view with its curve, and history rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Progress(BaseModel):
    iteration: int
    total: int


class TrialRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    experiment_id: int
    name: str
    variant: str
    sweep: dict[str, Any]
    seed: int
    config_hash: str
    status: str = Field(description="queued, running, succeeded, failed or cancelled.")
    attempts: int
    progress: Progress
    final_miou: float | None
    best_miou: float | None
    best_step: int | None
    mlflow_run_id: str | None
    error: str | None
    reused_from_trial_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CurvePoint(BaseModel):
    step: int
    miou: float
    per_class_iou: dict[str, float]


class StatusChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    at: datetime
    reason: str


class TrialDetail(TrialRead):
    config: dict[str, Any]
    final_per_class: dict[str, float] | None
    log_tail: list[str]
    curve: list[CurvePoint]
    history: list[StatusChangeRead]
    mlflow_run_url: str | None = Field(description="Link to the trial's MLflow run, when a UI is reachable.")
