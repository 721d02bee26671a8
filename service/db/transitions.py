"""Compare-and-set status changes: the one way a row's status moves, safe under concurrent writers.

A change reads the current status, checks it against the allowed-transition table, and writes
``UPDATE ... SET status = :to, version = version + 1 WHERE id = :id AND status = :current``. When
another writer got there first the UPDATE matches no row and the change is re-read and re-checked
(on PostgreSQL the UPDATE waits for the other transaction, then re-evaluates its WHERE; on SQLite
writers are serialised by ``BEGIN IMMEDIATE``), so no update is ever lost or applied twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.db.base import utcnow
from service.errors import ConcurrentUpdateError, NotFoundError

MAX_ATTEMPTS = 5


def compare_and_set_status(
    session: Session,
    model: Any,
    row_id: int,
    target: str,
    check: Callable[[int, str, Any], None],
    values: dict[str, Any] | None = None,
) -> str:
    """Move row ``row_id`` of ``model`` to ``target``; returns the status it came from.

    ``check(row_id, current, target)`` raises when the transition is not allowed; ``values`` are
    further columns written in the same UPDATE (timestamps, results, errors).
    """
    label = model.__tablename__.rstrip("s")
    for _ in range(MAX_ATTEMPTS):
        current = session.scalar(select(model.status).where(model.id == row_id))
        if current is None:
            raise NotFoundError(f"{label} {row_id} does not exist")
        check(row_id, current, target)
        statement = (
            update(model)
            .where(model.id == row_id, model.status == current)
            .values(status=target, version=model.version + 1, updated_at=utcnow(), **(values or {}))
            .execution_options(synchronize_session=False)
        )
        if session.execute(statement).rowcount == 1:  # type: ignore[attr-defined]
            return str(current)
    raise ConcurrentUpdateError(f"{label} {row_id} kept changing under concurrent writers; retry")
