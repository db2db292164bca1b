"""An index on the credit ledger's IMADs: an import looks up each credit's Fedwire IMAD among
those imported before (one wire, whichever file reports it under whichever reference). Without
it a second file of 10,000 credits read the deal's whole ledger twenty times.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_bank_credit_deal_imad", "bank_credit", ["deal_id", "imad"])


def downgrade() -> None:
    op.drop_index("ix_bank_credit_deal_imad", table_name="bank_credit")
