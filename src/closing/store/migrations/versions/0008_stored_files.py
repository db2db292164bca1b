"""The files of the closing set (`closing attach`): one row per distinct file, keyed by the
SHA-256 of its bytes (BLOB on SQLite, BYTEA on PostgreSQL).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Column types as they were at this revision, pinned here.
MOMENT = sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")  # UTC text on SQLite

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_file",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", MOMENT, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stored_file")
