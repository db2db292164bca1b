"""Closing model 2: a role for each party row, so one row per deal can hold the company's steps.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("purchaser") as batch:
        batch.add_column(
            sa.Column("role", sa.String(20), nullable=False, server_default="purchaser")
        )


def downgrade() -> None:
    with op.batch_alter_table("purchaser") as batch:
        batch.drop_column("role")
