"""Alert senders that share the deals (PostgreSQL): a lease row per deal (`alert_deal_lease`,
whose sender holds it and when it last said so), which sender claimed a delivery
(`alert_delivery.claimed_by`, so a crashed sender's are taken over at once, not after the claim
timeout), and `(deal_id, id)` indexes on the event and alert tables (a deal's newest event or
alert is one index probe, whatever other deals wrote since).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

# Column types as they were at this revision, pinned here.
MOMENT = sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")  # UTC text on SQLite

_BEFORE = importlib.import_module("closing.store.migrations.versions.0011_web_sessions")
# A member who may append may also take and renew a deal's lease, as a sender sharing the deals.
_TEAM_GRANTS = _BEFORE._TEAM_GRANTS.replace(
    "EXECUTE format('GRANT INSERT, DELETE ON alert_sender TO %I', login);  -- its lease",
    "EXECUTE format('GRANT INSERT, DELETE ON alert_sender TO %I', login);  -- its lease\n"
    "        EXECUTE format('GRANT INSERT, UPDATE ON alert_deal_lease TO %I', login);",
)
# Members made before this revision: what the new grants give them.
_EXISTING_MEMBERS = """
    DO $$
    DECLARE member record;
    BEGIN
        FOR member IN SELECT DISTINCT t.login, t.roles FROM team_member t
            JOIN pg_roles r ON r.rolname = t.login
        LOOP
            EXECUTE format('GRANT SELECT ON alert_deal_lease TO %I', member.login);
            IF NOT string_to_array(member.roles, ',') <@ ARRAY['viewer'] THEN
                EXECUTE format('GRANT INSERT, UPDATE ON alert_deal_lease TO %I', member.login);
            END IF;
        END LOOP;
    END $$
"""

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_deal_lease",
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), primary_key=True),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("heartbeat_at", MOMENT, nullable=False),
    )
    with op.batch_alter_table("alert_delivery") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(), nullable=True))
    op.create_index("ix_event_deal_id", "event", ["deal_id", "id"])
    op.create_index("ix_alert_deal_id", "alert", ["deal_id", "id"])
    if op.get_bind().dialect.name == "postgresql":
        assert _TEAM_GRANTS != _BEFORE._TEAM_GRANTS, "0011's grants changed: update this"
        for statement in (_TEAM_GRANTS, _EXISTING_MEMBERS):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_BEFORE._TEAM_GRANTS)
    op.drop_index("ix_alert_deal_id", table_name="alert")
    op.drop_index("ix_event_deal_id", table_name="event")
    with op.batch_alter_table("alert_delivery") as batch:
        batch.drop_column("claimed_by")
    op.drop_table("alert_deal_lease")
