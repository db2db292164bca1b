"""The record of facts: every stored fact the board, the memo or a mark relies on (the deal's
terms, Schedule 1, the wire instructions and their verification, bank credits, share links, the
team, each party's first event) hashed row by row into a chain of its own per deal, whose head
joins the record digest. A deal loaded before this revision gets one `@adopt` row: its facts as
they stand are adopted by the next write or `closing verify`.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

# Column types as they were at this revision, pinned here.
MOMENT = sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")  # UTC text on SQLite

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Members made before this revision, and every member from now on: read and append facts.
_EXISTING_MEMBERS = """
    DO $$
    DECLARE member record;
    BEGIN
        FOR member IN SELECT DISTINCT t.login, t.roles FROM team_member t
            JOIN pg_roles r ON r.rolname = t.login
        LOOP
            EXECUTE format('GRANT SELECT ON fact, judgement TO %I', member.login);
            IF NOT string_to_array(member.roles, ',') <@ ARRAY['viewer'] THEN
                EXECUTE format('GRANT INSERT ON fact, judgement TO %I', member.login);
            END IF;
        END LOOP;
    END $$
"""
_FACT_KEPT = """
    CREATE FUNCTION closing_fact_kept() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the record of facts is append-only' USING ERRCODE = '42501';
    END $$
"""


_BEFORE = importlib.import_module("closing.store.migrations.versions.0012_shared_senders")
_TEAM_GRANTS = _BEFORE._TEAM_GRANTS.replace(
    "stored_file, alert,", "stored_file, fact, judgement, alert,"
)


def upgrade() -> None:
    op.create_table(
        "fact",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recorded_at", MOMENT, nullable=False),
        sa.Column("tbl", sa.String(60), nullable=False),
        sa.Column("row_key", sa.Text(), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(64), nullable=True),
        sa.UniqueConstraint("deal_id", "seq"),
    )
    op.create_index("ix_fact_deal_key", "fact", ["deal_id", "tbl", "row_key"])
    op.create_table(
        "judgement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("event.id"), nullable=False),
        sa.Column("deadline", MOMENT, nullable=False),
        sa.Column("recorded_at", MOMENT, nullable=False),
        sa.UniqueConstraint("deal_id", "event_id"),
    )
    op.add_column("event", sa.Column("rehearsal_at", MOMENT, nullable=True))
    op.execute(
        "INSERT INTO fact (deal_id, seq, recorded_at, tbl, row_key) "
        "SELECT id, 0, updated_at, '@adopt', '' FROM deal"
    )
    if op.get_bind().dialect.name == "postgresql":
        assert _TEAM_GRANTS != _BEFORE._TEAM_GRANTS, "0012's grants changed: update this"
        op.execute(_TEAM_GRANTS)
        op.execute(_EXISTING_MEMBERS)
        op.execute(_FACT_KEPT)
        op.execute(
            "CREATE TRIGGER fact_kept BEFORE UPDATE OR DELETE ON fact "
            "FOR EACH ROW EXECUTE FUNCTION closing_fact_kept()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION closing_fact_kept() CASCADE")
        op.execute(_BEFORE._TEAM_GRANTS)
    with op.batch_alter_table("event") as batch:
        batch.drop_column("rehearsal_at")
    op.drop_table("judgement")
    op.drop_table("fact")
