"""The tamper-evident event log: each event's hash and the previous one's, each party's chain
head, and the record of verifications. Events already recorded get their chains computed here.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MOMENT = sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")  # UTC text on SQLite
GENESIS = "0" * 64


def _moment(value: Any) -> str:
    if isinstance(value, str):  # SQLite keeps UTC text
        value = datetime.fromisoformat(value + "+00:00")
    moment: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _amount(value: Any) -> str | None:
    if value is None:
        return None
    amount = Decimal(str(value))
    return format(amount.normalize(), "f") if amount.is_finite() else str(amount)


def _hash(deal: str, party: str, row: Any, prev: str) -> str:
    """closing.domain.chain.event_hash as it was at this revision (pinned: a migration does not
    follow
    later changes of the live code)."""
    content = [
        "closing-event/1",
        deal,
        party,
        row.seq,
        row.kind,
        row.step,
        _moment(row.occurred_at),
        _moment(row.recorded_at),
        row.actor,
        row.host,
        row.evidence_kind,
        row.evidence,
        _amount(row.amount),
        row.note,
        prev,
    ]
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
    with op.batch_alter_table("purchaser") as batch:
        batch.add_column(sa.Column("head_seq", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("head_hash", sa.String(64), nullable=True))
    op.create_table(
        "verification",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("verified_at", MOMENT, nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_verification_deal_id", "verification", ["deal_id"])
    _chain_what_is_there()


def _chain_what_is_there() -> None:
    connection = op.get_bind()
    parties = connection.execute(
        sa.text(
            "SELECT purchaser.id, purchaser.slug, deal.slug FROM purchaser "
            "JOIN deal ON deal.id = purchaser.deal_id"
        )
    ).all()
    for party_id, party_slug, deal_slug in parties:
        rows = connection.execute(
            sa.text(
                "SELECT id, seq, kind, step, occurred_at, recorded_at, actor, host, "
                "evidence_kind, evidence, amount, note FROM event WHERE purchaser_id = :p "
                "ORDER BY seq"
            ),
            {"p": party_id},
        ).all()
        previous, seq = GENESIS, 0
        for row in rows:
            digest = _hash(deal_slug, party_slug, row, previous)
            connection.execute(
                sa.text("UPDATE event SET prev_hash = :prev, hash = :hash WHERE id = :id"),
                {"prev": previous, "hash": digest, "id": row.id},
            )
            previous, seq = digest, row.seq
        if rows:
            connection.execute(
                sa.text("UPDATE purchaser SET head_seq = :seq, head_hash = :hash WHERE id = :id"),
                {"seq": seq, "hash": previous, "id": party_id},
            )


def downgrade() -> None:
    op.drop_index("ix_verification_deal_id", "verification")
    op.drop_table("verification")
    with op.batch_alter_table("purchaser") as batch:
        batch.drop_column("head_hash")
        batch.drop_column("head_seq")
    with op.batch_alter_table("event") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
