"""HTTP routes of experiments: submit (idempotent, dry-run), list, read, cancel, retry, results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query
from fastapi.responses import JSONResponse, Response

from service.api import examples as ex
from service.api.deps import Reader, ReadSession, SettingsDep, Writer, WriteSession
from service.experiments import repository, service
from service.experiments.schemas import (
    DryRunResult,
    ExperimentCreate,
    ExperimentDetail,
    ExperimentPage,
    ExperimentResults,
)
from service.lifecycle import ExperimentStatus
from service.results.answers import CacheDep as ResultsCacheDep
from service.results.answers import cached_json
from service.trials import repository as trials_repo
from service.trials.schemas import TrialRead
from service.trials.service import read_row

router = APIRouter(prefix="/experiments", tags=["experiments"])
MAX_ID = 2**31 - 1
ExperimentId = Annotated[int, Path(ge=1, le=MAX_ID, description="Experiment id.")]
NO_NUL = r"^[^\x00]*$"

BODY_EXAMPLES = {
    "spec": {"summary": "A full ablation spec", "value": ex.SPEC_BODY},
    "preset": {"summary": "A preset of the paper with overrides", "value": ex.PRESET_BODY},
}


@router.post(
    "",
    status_code=201,
    response_model=None,
    dependencies=[Writer],
    summary="Submit an experiment (or dry-run its expansion)",
    responses={
        201: {
            "model": ExperimentDetail,
            "description": "Stored with its queued trials",
            "content": {"application/json": {"example": ex.EXPERIMENT_DETAIL}},
        },
        200: {
            "model": ExperimentDetail | DryRunResult,
            "description": "A repeated Idempotency-Key (the first experiment), or ?dry_run=true's plan",
            "content": {"application/json": {"example": ex.DRY_RUN}},
        },
        **ex.refusals(401, 409, 413, 422, 500),
    },
)
def submit(
    body: Annotated[ExperimentCreate, Body(openapi_examples=BODY_EXAMPLES)],
    session: WriteSession,
    settings: SettingsDep,
    dry_run: Annotated[bool, Query(description="Expand and estimate only; nothing is stored.")] = False,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=NO_NUL)
    ] = None,
    owner: Annotated[str | None, Header(alias="X-Ablate-Owner", max_length=200, pattern=NO_NUL)] = None,
    reuse_results: Annotated[
        bool, Query(description="Reuse the result of a finished trial with the same config hash and code version.")
    ] = True,
) -> Response:
    if dry_run:
        return JSONResponse(service.dry_run(settings, body).model_dump(mode="json"), status_code=200)
    experiment, created = service.create(session, settings, body, idempotency_key, owner, reuse_results)
    # pydantic's own serializer: a 1,000-trial answer costs a fraction of model_dump + json.dumps.
    return Response(experiment.model_dump_json(), status_code=201 if created else 200, media_type="application/json")


@router.get(
    "",
    dependencies=[Reader],
    summary="List experiments, newest first",
    responses={**ex.ok(ex.PAGE), **ex.refusals(401, 422, 500)},
)
def list_experiments(
    session: ReadSession,
    status: Annotated[ExperimentStatus | None, Query(description="Only experiments in this status.")] = None,
    name: Annotated[str | None, Query(max_length=200, pattern=NO_NUL, description="Name contains.")] = None,
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="next_cursor of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ExperimentPage:
    return service.page(session, status, name, cursor, limit)


@router.get(
    "/{experiment_id}",
    dependencies=[Reader],
    summary="One experiment with its trials",
    responses={**ex.ok(ex.EXPERIMENT_DETAIL), **ex.refusals(401, 404, 422, 500)},
)
def get_experiment(experiment_id: ExperimentId, session: ReadSession, settings: SettingsDep) -> ExperimentDetail:
    return service.detail(session, experiment_id, settings)


@router.get(
    "/{experiment_id}/trials",
    dependencies=[Reader],
    summary="The trials of an experiment",
    responses={**ex.ok([ex.TRIAL]), **ex.refusals(401, 404, 422, 500)},
)
def list_trials(experiment_id: ExperimentId, session: ReadSession) -> list[TrialRead]:
    repository.get_experiment(session, experiment_id)
    return [read_row(t) for t in trials_repo.list_trial_rows(session, experiment_id)]


@router.post(
    "/{experiment_id}/cancel",
    dependencies=[Writer],
    summary="Cancel an experiment and its trials",
    responses={**ex.ok(ex.EXPERIMENT_DETAIL), **ex.refusals(401, 404, 409, 422, 500)},
)
def cancel(experiment_id: ExperimentId, session: WriteSession) -> ExperimentDetail:
    return service.cancel(session, experiment_id)


@router.post(
    "/{experiment_id}/retry",
    dependencies=[Writer],
    summary="Re-queue failed and cancelled trials",
    responses={**ex.ok(ex.EXPERIMENT_DETAIL), **ex.refusals(401, 404, 409, 422, 500)},
)
def retry(experiment_id: ExperimentId, session: WriteSession) -> ExperimentDetail:
    return service.retry(session, experiment_id)


@router.get(
    "/{experiment_id}/results",
    dependencies=[Reader],
    summary="Final per-class IoU and mIoU per trial",
    responses={**ex.ok(ex.RESULTS), **ex.refusals(401, 404, 422, 500)},
)
def results(experiment_id: ExperimentId, session: ReadSession, cache: ResultsCacheDep) -> ExperimentResults:
    answer = cached_json(session, cache, experiment_id, "results",
                         lambda: service.results(session, experiment_id).model_dump(mode="json"))
    return Response(answer.body, media_type=answer.media_type)  # type: ignore[return-value]  # cached bytes
