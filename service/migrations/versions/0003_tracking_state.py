"""Durable MLflow tracking state: what of an experiment still has to reach MLflow.

``experiments.tracking_status`` is ``pending`` until every run is opened, every curve point and
final result the database holds is in MLflow, every run is ended and the tables and figures are
published (then ``complete``); ``tracking_detail`` says why it is still pending. A trial's
``tracking_synced`` marks its run as verified and ended, and ``artifacts`` keeps the local paths
of its final files (checkpoints, metrics log) so they can be uploaded once MLflow is back.
Existing experiments start ``pending``: the dispatcher then ends their parent runs, which older
versions left RUNNING, and sends whatever they never sent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tracking_status", sa.String(length=16), nullable=False, server_default="pending")
        )
        batch_op.add_column(sa.Column("tracking_detail", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("tracking_synced_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tracking_synced", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("artifacts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trials", schema=None) as batch_op:
        batch_op.drop_column("artifacts")
        batch_op.drop_column("tracking_synced")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("tracking_synced_at")
        batch_op.drop_column("tracking_detail")
        batch_op.drop_column("tracking_status")
