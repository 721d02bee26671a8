"""What the dispatcher says about an experiment while it runs (preflight result, waiting for
resources) and the estimated peak disk use of its checkpoints.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("disk_estimate_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("disk_estimate_bytes")
        batch_op.drop_column("notice")
