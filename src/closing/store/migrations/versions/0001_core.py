"""The first release: deals, purchasers and the append-only event log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Column types as they were at this revision, pinned here: a migration must not follow later
# changes of the live types in closing.store.schema.
MOMENT = sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")  # UTC text on SQLite
MONEY = sa.String(64).with_variant(sa.Numeric(), "postgresql")  # exact text on SQLite

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "closing_meta",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("value", sa.String(), nullable=False),
    )
    op.create_table(
        "deal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(200), nullable=False, unique=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("terms_json", sa.Text(), nullable=False),
        sa.Column("closures_json", sa.Text(), nullable=False),
        sa.Column("source_path", sa.String(), nullable=False),
        sa.Column("source_sha256", sa.String(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
    )
    op.create_table(
        "deal_revision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("loaded_at", MOMENT, nullable=False),
        sa.Column("source_sha256", sa.String(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
    )
    op.create_index("ix_deal_revision_deal_id", "deal_revision", ["deal_id"])
    op.create_table(
        "purchaser",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("slug", sa.String(200), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("shares", sa.BigInteger(), nullable=False),
        sa.Column("purchase_price", MONEY, nullable=False),
        sa.Column("warrant_shares", sa.BigInteger(), nullable=False),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("deal_id", "slug"),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("purchaser_id", sa.Integer(), sa.ForeignKey("purchaser.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("occurred_at", MOMENT, nullable=False),
        sa.Column("recorded_at", MOMENT, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("evidence_kind", sa.String(), nullable=True),
        sa.Column("evidence", sa.String(), nullable=True),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.UniqueConstraint("purchaser_id", "seq"),
    )
    op.create_index("ix_event_deal_recorded", "event", ["deal_id", "recorded_at"])


def downgrade() -> None:
    op.drop_table("event")
    op.drop_table("purchaser")
    op.drop_table("deal_revision")
    op.drop_table("deal")
    op.drop_table("closing_meta")
