"""Dispatcher leases and resume: lease holder and heartbeat, Tune run name, trial code version,
and the per-experiment opt-out of result reuse (deduplication).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dispatcher_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("tune_run_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("reuse_results", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_version", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_column("code_version")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("reuse_results")
        batch_op.drop_column("tune_run_name")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("dispatcher_id")
