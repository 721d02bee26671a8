"""HTTP routes of single trials: the detail view with its IoU curve, and cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service.api import examples as ex
from service.api.deps import Reader, ReadSession, SettingsDep, Writer, WriteSession
from service.trials import service
from service.trials.schemas import TrialDetail, TrialRead

router = APIRouter(prefix="/trials", tags=["trials"])
TrialId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Trial id.")]


@router.get(
    "/{trial_id}",
    dependencies=[Reader],
    summary="One trial with its per-class IoU curve",
    responses={**ex.ok(ex.TRIAL_DETAIL), **ex.refusals(401, 404, 422, 500)},
)
def get_trial(trial_id: TrialId, session: ReadSession, settings: SettingsDep) -> TrialDetail:
    return service.detail(session, settings, trial_id)


@router.post(
    "/{trial_id}/cancel",
    dependencies=[Writer],
    summary="Cancel one queued or running trial",
    responses={**ex.ok(ex.TRIAL), **ex.refusals(401, 404, 409, 422, 500)},
)
def cancel(trial_id: TrialId, session: WriteSession) -> TrialRead:
    return service.cancel(session, trial_id)
