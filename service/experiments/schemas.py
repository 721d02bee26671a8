"""API schemas of experiments, separate from the tables: what a client sends and reads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from ablations.presets import PresetOverrides
from ablations.spec import DEFAULT_MAX_TRIALS, AblationSpec
from service.trials.schemas import TrialRead

API_MAX_TRIALS = 10_000
"""No request may ask for a larger grid, whatever its ``max_trials``: validating a spec resolves
every cell, so this bounds the work one request can cause (the server's ``max_trials`` is lower)."""


class AblationSpecRequest(AblationSpec):
    """A full ablation spec (see `ablations.spec.AblationSpec`), with ``max_trials`` bounded."""

    max_trials: int = Field(DEFAULT_MAX_TRIALS, gt=0, le=API_MAX_TRIALS)


class PresetRequest(PresetOverrides):
    """Run one of the paper's tables: a preset name plus what may differ between installations."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"preset": "quickstart", "seeds": [0, 1], "iterations": 4000}]},
    )

    preset: str = Field(min_length=1, max_length=200, description="Name from GET /presets.")
    name: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=r"^[^/\s,]+$",
        description="Experiment name (default: the preset's).",
    )


def _body_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "preset" if "preset" in value else "spec"
    return "preset" if isinstance(value, PresetRequest) else "spec"


ExperimentCreate = Annotated[
    Annotated[AblationSpecRequest, Tag("spec")] | Annotated[PresetRequest, Tag("preset")],
    Discriminator(_body_kind),
]
"""POST /experiments takes a full ablation spec, or ``{"preset": name, ...overrides}``."""


class ExperimentRead(BaseModel):
    id: int
    name: str
    description: str
    status: str = Field(description="queued, running, succeeded, failed or cancelled.")
    owner: str | None
    spec: dict[str, Any] = Field(description="The resolved ablation spec (preset and overrides applied).")
    submitted: dict[str, Any] = Field(description="The request body as it was submitted.")
    trial_counts: dict[str, int] = Field(description="Number of trials in each status.")
    trials_total: int
    mlflow_experiment_id: str | None
    mlflow_parent_run_id: str | None
    tracking_status: str = Field(
        description="MLflow publication: 'pending' while something the database holds (runs, curve points, final "
        "results, checkpoints, tables, figures, run ends) has not reached MLflow yet, 'live' while trials log "
        "to it as they run, 'complete' once all of it is there, 'failed' if MLflow refused it for good."
    )
    tracking_detail: str | None = Field(description="Why tracking is pending (e.g. MLflow unreachable), or null.")
    error: str | None
    notice: str | None = Field(
        None, description="What the dispatcher says now: the preflight of data and weights, waiting for resources."
    )
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class DiskUse(BaseModel):
    estimated_peak_bytes: int | None = Field(description="Estimated peak of the resume checkpoints (null: unknown).")
    used_bytes: int | None = Field(description="What the experiment's Tune folder holds now (null: not visible here).")
    free_bytes: int | None = Field(description="Free space of the storage path (null: not visible here).")
    basis: str


class ExperimentDetail(ExperimentRead):
    trials: list[TrialRead]
    disk: DiskUse | None = Field(None, description="Disk use of the experiment's checkpoints in the storage path.")


class ExperimentPage(BaseModel):
    items: list[ExperimentRead]
    next_cursor: int | None = Field(
        description="Pass as ?cursor= for the next (older) page; null at the end."
    )


class PlannedTrial(BaseModel):
    name: str
    variant: str
    sweep: dict[str, Any]
    seed: int
    config_hash: str
    config: dict[str, Any]


class DryRunResult(BaseModel):
    name: str
    spec: dict[str, Any]
    trial_count: int
    gpu_hours: float = Field(description="Rough estimate of the GPU time of the whole grid.")
    disk: DiskUse
    gpu_memory_gb: float | None = Field(
        None, description="Rough GPU memory of the largest MiT-B5 trial (DAFormer 9.7 GB, HRDA 22.5 GB); "
        "None when no trial uses MiT-B5."
    )
    estimate_basis: str
    trials: list[PlannedTrial]


class TrialResult(BaseModel):
    trial_id: int
    name: str
    variant: str
    sweep: dict[str, Any]
    seed: int
    status: str
    final_miou: float | None
    final_per_class: dict[str, float] | None
    best_miou: float | None
    best_step: int | None


class ExperimentResults(BaseModel):
    experiment_id: int
    name: str
    status: str
    trials: list[TrialResult]
