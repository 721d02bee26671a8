"""Request dependencies: settings, the request's session (one commit or rollback), the bearer token.

The session dependency runs around the endpoint function (``scope="function"``), so its commit
happens before the response is sent: a failed commit becomes an error response, never a 2xx for
a write that did not happen.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from service.errors import UnauthorizedError
from service.settings import Settings

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer $ABLATE_API_TOKEN`")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def write_session(request: Request) -> Iterator[Session]:
    yield from _transaction(request.app.state.sessions)


def read_session(request: Request) -> Iterator[Session]:
    yield from _transaction(request.app.state.read_sessions)


def _token_matches(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> bool:
    if settings.api_token is None or credentials is None:
        return False
    return hmac.compare_digest(credentials.credentials.encode(), settings.api_token.encode())


def require_writer(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Every mutating endpoint needs the token; a server without one accepts no writes."""
    if settings.api_token is None:
        raise UnauthorizedError(
            "this server has no API token configured, so it accepts no changes; "
            "start it with ABLATE_API_TOKEN set and send `Authorization: Bearer <token>`"
        )
    if not _token_matches(settings, credentials):
        raise UnauthorizedError(
            "missing or wrong bearer token: send `Authorization: Bearer $ABLATE_API_TOKEN`"
        )


def require_reader(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Reads are open on a server without a token, and need the token when one is set (unless
    ``protect_reads`` is off, as for the embedded demo whose pages a browser opens)."""
    if settings.api_token is not None and settings.protect_reads and not _token_matches(settings, credentials):
        raise UnauthorizedError(
            "missing or wrong bearer token: send `Authorization: Bearer $ABLATE_API_TOKEN`"
        )


SettingsDep = Annotated[Settings, Depends(get_settings)]
WriteSession = Annotated[Session, Depends(write_session, scope="function")]
ReadSession = Annotated[Session, Depends(read_session, scope="function")]
Writer = Depends(require_writer)
Reader = Depends(require_reader)
