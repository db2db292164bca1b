"""Money from the bank's files and wire instructions under change control: each version of the
company's wire instructions (masked, fingerprinted, verified by a second person) and each credit
imported from a bank file.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Column types as they were at this revision, pinned here: a migration must not follow later
# changes of the live types in closing.store.schema.
MOMENT = sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")  # UTC text on SQLite
MONEY = sa.String(64).with_variant(sa.Numeric(), "postgresql")  # exact text on SQLite

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wire_instructions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("event.id"), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("bank", sa.String(), nullable=True),
        sa.Column("aba", sa.String(), nullable=True),
        sa.Column("account_masked", sa.String(), nullable=True),
        sa.Column("account_name", sa.String(), nullable=True),
        sa.Column("swift", sa.String(), nullable=True),
        sa.Column("reference", sa.String(), nullable=True),
        sa.Column("callback_numbers", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(), nullable=False),
        sa.Column("entered_at", MOMENT, nullable=False),
        sa.Column("verified_event_id", sa.Integer(), sa.ForeignKey("event.id"), nullable=True),
        sa.Column("verified_by", sa.String(), nullable=True),
        sa.Column("verified_at", MOMENT, nullable=True),
        sa.Column("callback_number", sa.String(), nullable=True),
        sa.Column("spoke_with", sa.String(), nullable=True),
        sa.UniqueConstraint("deal_id", "version"),
    )
    op.create_table(
        "bank_credit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("bank_reference", sa.String(200), nullable=False),
        sa.Column("file_name", sa.String(), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("file_format", sa.String(20), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("value_date", sa.String(10), nullable=True),
        sa.Column("ordering_customer", sa.String(), nullable=True),
        sa.Column("imad", sa.String(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("account_masked", sa.String(), nullable=False),
        sa.Column("imported_at", MOMENT, nullable=False),
        sa.Column("imported_by", sa.String(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("purchaser_id", sa.Integer(), sa.ForeignKey("purchaser.id"), nullable=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("event.id"), nullable=True),
        sa.UniqueConstraint("deal_id", "bank_reference"),
    )


def downgrade() -> None:
    op.drop_table("bank_credit")
    op.drop_table("wire_instructions")
