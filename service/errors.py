"""Errors that carry their HTTP status, and the handlers that turn every error into clear JSON.

Every refusal has the same body: ``{"error": {"code", "message", "fields": [{"path", "message"}]}}``;
an unexpected error answers 500 with an ``id`` that is also in the server log next to the trace,
and never the trace itself.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class FieldProblem(BaseModel):
    path: str = Field(description="Dotted path of the offending field, e.g. `body.seeds`.")
    message: str


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable kind of error, e.g. `not_found`, `invalid_request`.")
    message: str
    fields: list[FieldProblem] = Field(default_factory=list)
    id: str | None = Field(None, description="Only on 500: the id of the server log entry.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class ServiceError(Exception):
    """Base of the errors the API reports; ``status`` is the HTTP status it maps to."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: Sequence[FieldProblem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fields = list(fields)


class NotFoundError(ServiceError):
    status, code = 404, "not_found"


class ConflictError(ServiceError):
    status, code = 409, "conflict"


class InvalidTransitionError(ConflictError):
    code = "invalid_transition"


class ConcurrentUpdateError(ConflictError):
    """Another writer changed the row first (optimistic version check failed); retry."""

    code = "concurrent_update"


class InvalidRequestError(ServiceError):
    status, code = 422, "invalid_request"


class UnauthorizedError(ServiceError):
    status, code = 401, "unauthorized"


class PayloadTooLargeError(ServiceError):
    status, code = 413, "payload_too_large"


class SchemaBehindError(RuntimeError):
    """The database schema is older than the code and migrating at start is switched off."""


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Sequence[FieldProblem] = (),
    error_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, fields=list(fields), id=error_id))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _loc_path(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "body"


async def _service_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else None
    return error_response(exc.status, exc.code, exc.message, exc.fields, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        FieldProblem(path=_loc_path(e.get("loc", ())), message=str(e.get("msg", ""))) for e in exc.errors()
    ]
    summary = "; ".join(f"{f.path}: {f.message}" for f in fields[:5])
    return error_response(422, "invalid_request", f"invalid request: {summary}", fields)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
        exc.status_code, "http_error"
    )
    return error_response(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex
    log.error("unhandled error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
    return error_response(
        500, "internal_error", f"internal error; see the server log for id {error_id}", error_id=error_id
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
