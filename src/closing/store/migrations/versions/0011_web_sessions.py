"""The team's sign-in to the web board: one-time sign-in links (kept as SHA-256 hashes), web
sessions (hashed tokens, their CSRF secret, who signed in how, when they ended and why), the
members' passkeys (WebAuthn public keys) and their one-time challenges, whether a deal requires
passkeys of its money, verifier and admin members, and the server's own secrets (the
cookie-signing key): all in the database, so that several `closing serve` processes on one
database work as one. On PostgreSQL an admin may add a sign-in link for a member of the deal's
team (a trigger checks both) and set the deal's passkey rule; the server's own role writes the
rest; and every change the live board shows is notified on `closing_change`.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

MOMENT = sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")  # UTC text on SQLite

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_FILES = importlib.import_module("closing.store.migrations.versions.0009_stored_files")
_TEAM_GRANTS = _FILES._TEAM_GRANTS.replace(
    "GRANT INSERT, UPDATE ON deal, purchaser, team_member TO %I",
    "GRANT INSERT, UPDATE ON deal, purchaser, team_member TO %I', login);\n"
    "            EXECUTE format('GRANT INSERT ON web_signin_link TO %I', login);\n"
    "            EXECUTE format('GRANT INSERT, UPDATE ON web_deal_policy TO %I', login);\n"
    "            EXECUTE format('GRANT UPDATE (ended_at, ended_how) ON web_session TO %I",
)
_LINK_CHECK = """
    CREATE FUNCTION closing_signin_link_check() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- An admin's invitation, or one a member asked for by e-mail through the web server
        -- (whose own role is on no team).
        IF NOT EXISTS (SELECT 1 FROM team_member t
                       WHERE t.deal_id = NEW.deal_id AND t.login = NEW.login)
            OR NOT (
                (NEW.created_by = current_user::text
                 AND closing_has_role(NEW.deal_id, current_user::text, 'admin'))
                OR (NEW.created_by = 'asked by e-mail'
                    AND NOT EXISTS (SELECT 1 FROM team_member t
                                    WHERE t.login = current_user::text))
            ) THEN
            RAISE EXCEPTION 'only an admin of the deal signs in one of its members'
                USING ERRCODE = '42501';
        END IF;
        RETURN NEW;
    END $$
"""
_LINK_TRIGGER = """
    CREATE TRIGGER closing_signin_link_check BEFORE INSERT ON web_signin_link
    FOR EACH ROW EXECUTE FUNCTION closing_signin_link_check()
"""
# Every change the live board shows wakes the web servers' pollers at once (LISTEN/NOTIFY on
# `closing_change`; polling stays the fallback).
_NOTIFY = """
    CREATE FUNCTION closing_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('closing_change', TG_TABLE_NAME);
        RETURN NULL;
    END $$
"""
_NOTIFIED = ("event", "alert", "deal_revision", "share")
_NOTIFY_TRIGGERS = [
    f"CREATE TRIGGER closing_notify_change AFTER INSERT OR UPDATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION closing_notify_change()"
    for table in _NOTIFIED
]
# Members read every table, these too (as `closing verify` and a DBA's dump do): a session's
# token is kept only as its hash, so reading them signs nobody in.
_EXISTING_ADMINS = """
    DO $$
    DECLARE member record;
    BEGIN
        FOR member IN SELECT DISTINCT t.login FROM team_member t
            JOIN pg_roles r ON r.rolname = t.login
        LOOP
            EXECUTE format(
                'GRANT SELECT ON web_signin_link, web_session, web_passkey, web_challenge, '
                'web_deal_policy, web_secret TO %I', member.login);
        END LOOP;
        FOR member IN SELECT DISTINCT t.login FROM team_member t
            JOIN pg_roles r ON r.rolname = t.login
            WHERE 'admin' = ANY (string_to_array(t.roles, ','))
        LOOP
            EXECUTE format('GRANT INSERT ON web_signin_link TO %I', member.login);
            EXECUTE format('GRANT INSERT, UPDATE ON web_deal_policy TO %I', member.login);
            EXECUTE format('GRANT UPDATE (ended_at, ended_how) ON web_session TO %I',
                member.login);
        END LOOP;
    END $$
"""


def upgrade() -> None:
    op.create_table(
        "web_signin_link",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("login", sa.String(200), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("expires_at", MOMENT, nullable=False),
        sa.Column("used_at", MOMENT, nullable=True),
    )
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("login", sa.String(200), nullable=False),
        sa.Column("how", sa.String(200), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("signed_in_at", MOMENT, nullable=False),
        sa.Column("last_seen_at", MOMENT, nullable=False),
        sa.Column("expires_at", MOMENT, nullable=False),
        sa.Column("ended_at", MOMENT, nullable=True),
        sa.Column("ended_how", sa.String(200), nullable=True),
    )
    op.create_index("ix_web_session_login", "web_session", ["login"])
    op.create_table(
        "web_passkey",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("login", sa.String(200), nullable=False),
        sa.Column("credential_id", sa.String(1400), nullable=False, unique=True),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("last_used_at", MOMENT, nullable=True),
    )
    op.create_table(
        "web_challenge",
        sa.Column("challenge", sa.String(100), primary_key=True),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("login", sa.String(200), nullable=True),
        sa.Column("expires_at", MOMENT, nullable=False),
    )
    op.create_table(
        "web_deal_policy",
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), primary_key=True),
        sa.Column("passkeys_required", sa.Boolean(), nullable=False),
        sa.Column("changed_at", MOMENT, nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "web_secret",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in (_TEAM_GRANTS, _LINK_CHECK, _LINK_TRIGGER, _EXISTING_ADMINS, _NOTIFY):
            op.execute(statement)
        for statement in _NOTIFY_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION closing_signin_link_check CASCADE")
        op.execute("DROP FUNCTION closing_notify_change CASCADE")
        op.execute(_FILES._TEAM_GRANTS)
    op.drop_table("web_secret")
    op.drop_table("web_deal_policy")
    op.drop_table("web_challenge")
    op.drop_table("web_passkey")
    op.drop_index("ix_web_session_login", "web_session")
    op.drop_table("web_session")
    op.drop_table("web_signin_link")
