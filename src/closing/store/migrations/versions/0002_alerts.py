"""Deadline alerts: the alert ledger, its deliveries, and the one-sender lock.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Column types as they were at this revision, pinned here: a migration must not follow later
# changes of the live types in closing.store.schema.
MOMENT = sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")  # UTC text on SQLite
MONEY = sa.String(64).with_variant(sa.Numeric(), "postgresql")  # exact text on SQLite

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("purchaser_id", sa.Integer(), sa.ForeignKey("purchaser.id"), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("deadline", MOMENT, nullable=False),
        sa.Column("due_at", MOMENT, nullable=False),
        sa.Column("decided_at", MOMENT, nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("fields_json", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.UniqueConstraint("deal_id", "purchaser_id", "step", "rule", "deadline"),
    )
    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alert.id"), nullable=False),
        sa.Column("channel_key", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", MOMENT, nullable=False),
        sa.Column("claimed_at", MOMENT, nullable=True),
        sa.Column("delivered_at", MOMENT, nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.UniqueConstraint("alert_id", "channel_key"),
    )
    op.create_index("ix_delivery_status", "alert_delivery", ["status", "next_attempt_at"])
    op.create_table(
        "alert_sender",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", MOMENT, nullable=False),
        sa.Column("heartbeat_at", MOMENT, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_sender")
    op.drop_table("alert_delivery")
    op.drop_table("alert")
