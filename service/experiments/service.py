"""Experiment use cases of the API: submit (idempotent), dry-run, read, list, cancel, retry, results.

Services work inside the request's transaction and never commit: the session dependency does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ablations.disk import free_bytes, peak_bytes, used_bytes
from ablations.expand import estimate_gpu_hours
from ablations.method_cost import grid_memory_gb
from ablations.spec import AblationSpec
from service.errors import ConflictError
from service.experiments import repository
from service.experiments.models import Experiment
from service.experiments.planning import disk_estimate, plan, resolve_spec
from service.experiments.schemas import (
    DiskUse,
    DryRunResult,
    ExperimentDetail,
    ExperimentPage,
    ExperimentRead,
    ExperimentResults,
    PlannedTrial,
    PresetRequest,
    TrialResult,
)
from service.lifecycle import EXPERIMENT_TERMINAL, ExperimentStatus, TrialStatus
from service.settings import Settings
from service.trials import repository as trials_repo
from service.trials.service import read_row

DISK_BASIS = (
    "peak of the resume checkpoints in the storage path: per trial (run.keep_checkpoints + 1) x one checkpoint "
    "(fp32 student, EMA teacher, FD's frozen encoder unless pretrained, AdamW's two moments; ablations.disk)"
)
ESTIMATE_BASIS = (
    "rough: full DAFormer (MiT-B5, 512x512, batch 2+2) = 1.44 s/iteration on an RTX 2080 Ti, scaled by "
    "encoder size, crop area and the passes of the training mode (ablations.expand.estimate_gpu_hours); "
    "HRDA and MIC by their passes, HRDA calibrated on its 32 h (ablations.method_cost)"
)


def request_hash(
    body: AblationSpec | PresetRequest, owner: str | None = None, reuse_results: bool = True
) -> str:
    """SHA-256 of the request's canonical JSON: what "the same request" means for idempotency.

    The owner header and ``?reuse_results=`` change what is stored, so they are part of the
    request's identity; they enter the hash only when not the default, so the hashes of earlier
    default requests (stored rows, the demo's replays) stay the same.
    """
    payload: Any = body.model_dump(mode="json")
    if owner is not None or not reuse_results:
        payload = {"body": payload, "owner": owner, "reuse_results": reuse_results}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def create(
    session: Session,
    settings: Settings,
    body: AblationSpec | PresetRequest,
    idempotency_key: str | None,
    owner: str | None,
    reuse_results: bool = True,
) -> tuple[ExperimentDetail, bool]:
    """Store the experiment and its queued trials; returns (experiment, created).

    With an ``Idempotency-Key`` a repeated request returns the first experiment (created=False);
    the same key with a different body is a conflict.
    """
    digest = request_hash(body, owner, reuse_results)
    if idempotency_key is not None:
        existing = repository.find_by_idempotency_key(session, idempotency_key)
        if existing is not None:
            return _replay(session, existing, digest), False
    spec = resolve_spec(body)
    plans = plan(spec, settings.max_trials)
    estimate = disk_estimate(plans, settings.storage_path)
    experiment = Experiment(
        name=spec.name,
        description=spec.description,
        submitted=body.model_dump(mode="json"),
        spec=spec.model_dump(mode="json"),
        owner=owner,
        idempotency_key=idempotency_key,
        request_hash=digest,
        reuse_results=reuse_results,
        disk_estimate_bytes=estimate,
    )
    stored = repository.insert_experiment(session, experiment)
    if stored is None:  # a concurrent request with the same key won the race
        winner = repository.find_by_idempotency_key(session, idempotency_key or "")
        if winner is None:
            raise ConflictError("the idempotency key is being used by a concurrent request; retry")
        return _replay(session, winner, digest), False
    trials = trials_repo.add_trials(
        session,
        stored.id,
        [
            {
                "name": p.name,
                "variant": p.variant,
                "sweep": dict(p.sweep),
                "seed": p.seed,
                "config": p.config,
                "config_hash": p.config_hash,
                "progress_total": int(p.config["run"]["iterations"]),
            }
            for p in plans
        ],
    )
    return detail(session, stored.id, trials=trials), True


def _replay(session: Session, existing: Experiment, digest: str) -> ExperimentDetail:
    if existing.request_hash != digest:
        raise ConflictError(
            f"Idempotency-Key was already used for experiment {existing.id} with a different "
            "body, owner (X-Ablate-Owner) or ?reuse_results=; use a new key for a new experiment"
        )
    return detail(session, existing.id)


def dry_run(settings: Settings, body: AblationSpec | PresetRequest) -> DryRunResult:
    spec = resolve_spec(body)
    plans = plan(spec, settings.max_trials)
    estimate = peak_bytes((p.config for p in plans), build=False)
    return DryRunResult(
        disk=DiskUse(estimated_peak_bytes=estimate, used_bytes=None, free_bytes=free_bytes(settings.storage_path),
                     basis=DISK_BASIS),
        name=spec.name,
        spec=spec.model_dump(mode="json"),
        trial_count=len(plans),
        gpu_hours=round(estimate_gpu_hours(plans), 3),
        gpu_memory_gb=grid_memory_gb(plans),
        estimate_basis=ESTIMATE_BASIS,
        trials=[
            PlannedTrial(
                name=p.name,
                variant=p.variant,
                sweep=dict(p.sweep),
                seed=p.seed,
                config_hash=p.config_hash,
                config=p.config,
            )
            for p in plans
        ],
    )


def _read(experiment: Experiment, counts: dict[str, int]) -> ExperimentRead:
    fields: dict[str, Any] = {
        name: getattr(experiment, name)
        for name in ExperimentRead.model_fields
        if name not in {"trial_counts", "trials_total"}
    }
    return ExperimentRead(**fields, trial_counts=counts, trials_total=sum(counts.values()))


def detail(
    session: Session, experiment_id: int, settings: Settings | None = None,
    trials: Sequence[Mapping[Any, Any]] | None = None,
) -> ExperimentDetail:
    """The experiment with its trials and disk use. Trials are read as `READ_COLUMNS` rows (never
    their config JSON or log); ``trials`` when the caller holds them all (just inserted)."""
    experiment = repository.get_experiment(session, experiment_id)
    rows = trials_repo.list_trial_rows(session, experiment_id) if trials is None else trials
    counts: dict[str, int] = {}
    for t in rows:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    return ExperimentDetail(**_read(experiment, counts).model_dump(), trials=[read_row(t) for t in rows],
                            disk=_disk(experiment, settings))


def _disk(experiment: Experiment, settings: Settings | None) -> DiskUse:
    """The estimate stored at submission, and what the experiment's Tune folder holds now (when the
    storage path is visible from this process)."""
    storage = settings.storage_path if settings is not None else None
    used = used_bytes(Path(storage) / experiment.tune_run_name) if storage and experiment.tune_run_name else None
    return DiskUse(estimated_peak_bytes=experiment.disk_estimate_bytes, used_bytes=used,
                   free_bytes=free_bytes(storage) if storage else None, basis=DISK_BASIS)


def page(
    session: Session, status: ExperimentStatus | None, name: str | None, cursor: int | None, limit: int
) -> ExperimentPage:
    rows = repository.list_experiments(session, status.value if status else None, name, cursor, limit + 1)
    items: Sequence[Experiment] = rows[:limit]
    counts = trials_repo.status_counts(session, [e.id for e in items])
    next_cursor = items[-1].id if len(rows) > limit else None
    return ExperimentPage(items=[_read(e, counts[e.id]) for e in items], next_cursor=next_cursor)


def cancel(session: Session, experiment_id: int) -> ExperimentDetail:
    """Cancel the experiment and every trial that has not ended (running ones are stopped)."""
    repository.set_experiment_status(
        session, experiment_id, ExperimentStatus.CANCELLED, reason="cancelled by a user"
    )
    for trial in trials_repo.list_trials(session, experiment_id):
        if trial.status in (TrialStatus.QUEUED, TrialStatus.RUNNING):
            trials_repo.set_trial_status(
                session, trial.id, TrialStatus.CANCELLED, reason="experiment cancelled"
            )
    return detail(session, experiment_id)


def retry(session: Session, experiment_id: int) -> ExperimentDetail:
    """Re-queue the failed and cancelled trials (succeeded ones are kept) and the experiment.

    An ended experiment is retried when it has such trials: a failed or cancelled one, or a
    succeeded one whose user cancelled some trials (its tables miss those seeds)."""
    experiment = repository.get_experiment(session, experiment_id)
    retriable = [
        t
        for t in trials_repo.list_trials(session, experiment_id)
        if t.status in (TrialStatus.FAILED, TrialStatus.CANCELLED)
    ]
    if experiment.status not in EXPERIMENT_TERMINAL or not retriable:
        raise ConflictError(
            f"experiment {experiment_id} is {experiment.status} with {len(retriable)} failed or "
            "cancelled trials; only an ended experiment with failed or cancelled trials can be retried"
        )
    repository.set_experiment_status(
        session, experiment_id, ExperimentStatus.QUEUED, reason="retried by a user"
    )
    for trial in retriable:
        trials_repo.set_trial_status(session, trial.id, TrialStatus.QUEUED, reason="retried by a user")
    return detail(session, experiment_id)


def results(session: Session, experiment_id: int) -> ExperimentResults:
    experiment = repository.get_experiment(session, experiment_id)
    trials = trials_repo.list_results(session, experiment_id)
    return ExperimentResults(
        experiment_id=experiment.id,
        name=experiment.name,
        status=experiment.status,
        trials=[
            TrialResult(
                trial_id=t.id,
                name=t.name,
                variant=t.variant,
                sweep=t.sweep,
                seed=t.seed,
                status=t.status,
                final_miou=t.final_miou,
                final_per_class=t.final_per_class,
                best_miou=t.best_miou,
                best_step=t.best_step,
            )
            for t in trials
        ],
    )
