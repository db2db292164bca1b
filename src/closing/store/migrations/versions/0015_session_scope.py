"""A web session opened with a sign-in link keeps the link's deal and who made it: such a session
works on that deal only (an admin of one deal makes links for it, not for the member's other
deals), and wire instructions are not verified in a session opened with a link made by the one
who entered them (the two-person rule). A session signed in with a passkey has neither.

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
