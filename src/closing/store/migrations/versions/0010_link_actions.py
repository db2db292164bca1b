"""A share link that may act (issue 25): `share.can_act`. A purchaser's link made from now on may
send its details, its signature page and its wire report, unless made `--read-only`; links made
before this revision were handed out as views, and stay read-only. On PostgreSQL, accepting or
rejecting proposed details needs the `operator` role, as closing.domain.team says.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_FILES = importlib.import_module("closing.store.migrations.versions.0009_stored_files")
_ROLE_NEEDED = _FILES._ROLE_NEEDED.replace(
    "WHEN kind IN ('attach', 'release') THEN 'operator'",
    "WHEN kind IN ('attach', 'release', 'details_accepted', 'details_rejected') THEN 'operator'",
)


def upgrade() -> None:
    with op.batch_alter_table("share") as batch:
        batch.add_column(
            sa.Column("can_act", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_ROLE_NEEDED)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FILES._ROLE_NEEDED)
    with op.batch_alter_table("share") as batch:
        batch.drop_column("can_act")
