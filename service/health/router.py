"""``/healthz``: the database answers; ``/readyz``: it answers and its schema is the code's."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine, text

from service.api import examples as ex
from service.db.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str
    schema_revision: str | None = None


def _database(engine: Engine) -> str:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # any driver error means "not reachable"; the reason is reported
        return f"unreachable: {type(exc).__name__}"


@router.get(
    "/healthz",
    response_model=Health,
    summary="Liveness: the database is reachable",
    responses={**ex.ok(ex.HEALTH), 503: {"model": Health, "description": "Database unreachable"}},
)
def healthz(request: Request) -> JSONResponse:
    database = _database(request.app.state.engine)
    status = 200 if database == "ok" else 503
    body = Health(status="ok" if status == 200 else "unavailable", database=database)
    return JSONResponse(body.model_dump(), status_code=status)


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness: database reachable, schema at head",
    responses={**ex.ok(ex.HEALTH), 503: {"model": Health, "description": "Not ready"}},
)
def readyz(request: Request) -> JSONResponse:
    engine = request.app.state.engine
    database = _database(engine)
    revision = current_revision(engine) if database == "ok" else None
    ready = database == "ok" and revision == head_revision()
    body = Health(status="ready" if ready else "not ready", database=database, schema_revision=revision)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
