"""The files of the closing set (`closing attach`): one row per distinct file, keyed by the
SHA-256 of its bytes (BLOB on SQLite, BYTEA on PostgreSQL). On PostgreSQL a team member may read
and add files (never change or remove one), and an `attach` or `release` event needs the
`operator` role, as closing.domain.team says.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

# Column types as they were at this revision, pinned here.
MOMENT = sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")  # UTC text on SQLite

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


_IDENTITY = importlib.import_module("closing.store.migrations.versions.0008_identity")
_ROLE_NEEDED = _IDENTITY._ROLE_NEEDED.replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
).replace(
    "WHEN kind = 'withdraw' THEN 'money'",
    "WHEN kind = 'withdraw' THEN 'money'\n"
    "            WHEN kind IN ('attach', 'release') THEN 'operator'",
)
_TEAM_GRANTS = _IDENTITY._TEAM_GRANTS.replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
).replace("'team_member, alert,", "'team_member, stored_file, alert,")
# Members made before this revision: what the new grants give them.
_EXISTING_MEMBERS = """
    DO $$
    DECLARE member record;
    BEGIN
        FOR member IN SELECT DISTINCT t.login, t.roles FROM team_member t
            JOIN pg_roles r ON r.rolname = t.login
        LOOP
            EXECUTE format('GRANT SELECT ON stored_file TO %I', member.login);
            IF NOT string_to_array(member.roles, ',') <@ ARRAY['viewer'] THEN
                EXECUTE format('GRANT INSERT ON stored_file TO %I', member.login);
            END IF;
        END LOOP;
    END $$
"""


def upgrade() -> None:
    op.create_table(
        "stored_file",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", MOMENT, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in (_ROLE_NEEDED, _TEAM_GRANTS, _EXISTING_MEMBERS):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in (_IDENTITY._ROLE_NEEDED, _IDENTITY._TEAM_GRANTS):
            op.execute(statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.drop_table("stored_file")
