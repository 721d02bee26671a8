"""Engines and sessions: one engine per process, made by the app's lifespan or the dispatcher.

SQLite (the embedded default) is put in WAL mode with a busy timeout, and its transactions are
begun by SQLAlchemy (pysqlite's own implicit BEGIN is switched off) so SAVEPOINTs and atomic
conditional updates behave as on PostgreSQL. Writers take the lock at BEGIN (``BEGIN IMMEDIATE``),
which is what keeps two concurrent read-then-write transactions from failing on lock upgrade;
read-only sessions (``read_only=True``) use a deferred BEGIN and never wait for writers.

Writers of one process also queue on a lock of the engine before their BEGIN IMMEDIATE: SQLite's
own busy handler makes a waiting writer sleep and retry (1, 2, 5 ... 100 ms), so under eight
concurrent submissions a writer could wait seconds for a lock that was free most of the time.
The lock is released when the transaction ends (commit, rollback, or the connection going back
to the pool or being invalidated), and a writer that waits on it longer than the busy timeout
goes on to SQLite's own waiting, so a lost release can slow writers but never stop them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pydantic_core import from_json, to_json
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BEGIN_OPTION = "sqlite_begin"
BUSY_TIMEOUT_S = 30
HOLDS_WRITE_LOCK = "ablate_holds_write_lock"


def json_dumps(value: Any) -> str:
    """JSON columns' serializer: pydantic-core's (Rust), several times faster than `json.dumps` on
    the trials' config JSON, which a 1,000-trial submission writes 1,000 times. NaN and infinities
    are written as `json.dumps` writes them (per-class IoUs may hold NaN)."""
    return to_json(value, inf_nan_mode="constants").decode()


def json_loads(text: str | bytes) -> Any:
    """JSON columns' deserializer (pydantic-core's; reads NaN and infinities as `json.loads` does)."""
    return from_json(text)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; creates the folder of a SQLite file."""
    parsed = make_url(url)
    kwargs = {"json_serializer": json_dumps, "json_deserializer": json_loads, **kwargs}
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}, **kwargs)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    writers = threading.Lock()

    def release(info: dict[str, Any]) -> None:
        if info.pop(HOLDS_WRITE_LOCK, False):
            writers.release()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        if mode == "IMMEDIATE" and writers.acquire(timeout=BUSY_TIMEOUT_S):
            connection.info[HOLDS_WRITE_LOCK] = True
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            release(connection.info)
            raise

    for name in ("commit", "rollback"):
        event.listen(engine, name, lambda connection: release(connection.info))
    for name in ("checkin", "invalidate"):
        event.listen(engine.pool, name, lambda _dbapi, record, *_: release(record.info))


def is_postgresql(session_or_engine: Session | Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


def session_factory(engine: Engine, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (responses are built from them)."""
    bind = engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"}) if read_only else engine
    return sessionmaker(bind=bind, expire_on_commit=False)
