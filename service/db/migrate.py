"""Bringing the database schema to the code's version with Alembic, or refusing when it is behind."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from service.errors import SchemaBehindError

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_head(database_url: str) -> None:
    """``alembic upgrade head`` on ``database_url``."""
    command.upgrade(alembic_config(database_url), "head")


def ensure_schema(engine: Engine, database_url: str, migrate: bool) -> None:
    """Migrate to head, or (``migrate=False``) raise `SchemaBehindError` saying how to fix it."""
    if migrate:
        upgrade_head(database_url)
        return
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaBehindError(
            f"the database schema is at revision {current or 'none'} but the code needs {head}; "
            f"run `alembic -c {MIGRATIONS / 'alembic.ini'} upgrade head` with ABLATE_DATABASE_URL set, "
            "or start with ABLATE_MIGRATE_ON_START=true"
        )
