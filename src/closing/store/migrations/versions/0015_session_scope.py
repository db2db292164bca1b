"""A web session opened with a sign-in link keeps the deal the link was made for and who made it
(the record of a sign-in: which admin's link opened it); a passkey's sign-in has neither.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_session") as table:
        table.add_column(sa.Column("deal_id", sa.Integer(), nullable=True))
        table.add_column(sa.Column("link_by", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_session") as table:
        table.drop_column("link_by")
        table.drop_column("deal_id")
