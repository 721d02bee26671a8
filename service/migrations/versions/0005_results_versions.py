"""Results versions: two counters per experiment that every write of its trials' results or
progress bumps, so the API can tell with one primary-key read whether a cached table, status or
report page of the experiment is still current (service/results/cache.py); and an index on
(trial_id, step, miou) so each trial's last evaluation is read from the index alone.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("results_version", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("progress_version", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_trial_metric_points_trial_id_step_miou", "trial_metric_points", ["trial_id", "step", "miou"])


def downgrade() -> None:
    op.drop_index("ix_trial_metric_points_trial_id_step_miou", table_name="trial_metric_points")
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("progress_version")
        batch_op.drop_column("results_version")
