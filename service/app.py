"""The FastAPI application factory: ``create_app(settings)``; nothing is built at import time.

The lifespan makes the engine, brings the schema to head (or refuses, see
``Settings.migrate_on_start``) and disposes of the engine at shutdown, so every test builds an
app against its own database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import DataError
from sqlalchemy.orm.exc import StaleDataError
from starlette.requests import Request
from starlette.responses import JSONResponse

from service.api.limits import BodySizeLimit
from service.db.engine import make_engine, session_factory
from service.db.migrate import ensure_schema
from service.docs_ui import install_docs
from service.errors import error_response, install_error_handlers
from service.experiments.router import router as experiments_router
from service.health.router import router as health_router
from service.presets.router import router as presets_router
from service.results.cache import ResultsCache
from service.results.router import router as results_router
from service.settings import Settings
from service.trials.router import router as trials_router

log = logging.getLogger(__name__)

DESCRIPTION = """Submit DAFormer ablation grids, follow their trials and read their results.

Every mutating endpoint needs `Authorization: Bearer <ABLATE_API_TOKEN>`; reads need it too when the
server has a token. Every refusal is `{"error": {"code", "message", "fields": [{"path", "message"}]}}`.
"""


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        try:
            ensure_schema(engine, settings.database_url, settings.migrate_on_start)
            app.state.engine = engine
            app.state.sessions = session_factory(engine)
            app.state.read_sessions = session_factory(engine, read_only=True)
            app.state.results_cache = ResultsCache()
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="DAFormer ablation service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs from the package's assets, not a CDN
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_exception_handler(StaleDataError, _stale)
    app.add_exception_handler(DataError, _data_error)
    for router in (experiments_router, trials_router, presets_router, health_router, results_router):
        app.include_router(router)
    install_docs(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app


async def _stale(_request: Request, _exc: Exception) -> JSONResponse:
    return error_response(409, "concurrent_update", "the record was changed by another writer; retry")


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        422, "invalid_value", "a value in the request cannot be stored (out of range or invalid characters)"
    )
