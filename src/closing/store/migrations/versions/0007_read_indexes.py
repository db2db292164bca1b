"""Indexes for reading a whole deal in order: its parties by Schedule 1 position, its events by
party and sequence (the board reads both on every look, and was sorting them).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_purchaser_deal_position", "purchaser", ["deal_id", "position"])
    op.create_index("ix_event_deal_party_seq", "event", ["deal_id", "purchaser_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_event_deal_party_seq", table_name="event")
    op.drop_index("ix_purchaser_deal_position", table_name="purchaser")
