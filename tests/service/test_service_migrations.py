"""Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from service.db.engine import make_engine
from service.db.migrate import current_revision, ensure_schema, head_revision, upgrade_head
from service.db.models import Base
from service.errors import SchemaBehindError


def test_upgrade_head_matches_the_models(db_url: str) -> None:
    upgrade_head(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert current_revision(engine) == head_revision()
        assert {
            "experiments",
            "trials",
            "trial_metric_points",
            "trial_status_changes",
            "experiment_status_changes",
        } <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_refuses_a_schema_that_is_behind_when_not_migrating(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with pytest.raises(SchemaBehindError, match="upgrade head"):
            ensure_schema(engine, db_url, migrate=False)
        ensure_schema(engine, db_url, migrate=True)
        ensure_schema(engine, db_url, migrate=False)
    finally:
        engine.dispose()
