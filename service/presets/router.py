"""HTTP routes of presets (read-only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service.api import examples as ex
from service.api.deps import Reader
from service.presets import service
from service.presets.schemas import PresetRead, PresetSummary

router = APIRouter(prefix="/presets", tags=["presets"])


@router.get(
    "",
    dependencies=[Reader],
    summary="The paper's ablation tables available as presets",
    responses={**ex.ok([ex.PRESET_SUMMARY]), **ex.refusals(401, 500)},
)
def list_presets() -> list[PresetSummary]:
    return service.summaries()


@router.get(
    "/{name}",
    dependencies=[Reader],
    summary="One preset's spec",
    responses={**ex.ok(ex.PRESET), **ex.refusals(401, 404, 422, 500)},
)
def get_preset(name: Annotated[str, Path(max_length=200)]) -> PresetRead:
    return service.read(name)
