"""Who did it, proven: each event's actor is the identity the system authenticated (the OS account
on SQLite, the database role on PostgreSQL), and the text typed with `--by` is kept beside it as
`on_behalf_of`. Events recorded before keep their actor text, marked `actor_declared`.

Each deal gets a team (`team_member`): logins and their roles (closing.domain.team).

On PostgreSQL the database checks it all itself: an event records `current_user` as its actor
(a trigger refuses any other) and needs the role its kind needs on the deal's team; no event is
ever updated or deleted (a trigger, even for the owner); a chain head moves only to an event
appended after it; a wire-instruction version is entered and verified by `current_user`, the
verifier holding `verifier` and another role than the one who entered it (the two-person rule);
only an admin changes the team; and `closing_team_grants` (the owner's) creates a member's login
role if missing and grants it reading and appending, never updating or deleting events.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_MOMENT = sa.String(32).with_variant(sa.DateTime(timezone=True), "postgresql")  # UTC text on SQLite

# The role an event needs, as closing.domain.team decides it; the database's own check.
_ROLE_NEEDED = """
    CREATE FUNCTION closing_role_needed(deal integer, kind text, step text) RETURNS text
    LANGUAGE sql STABLE AS $$
        SELECT CASE
            WHEN kind = 'instructions_verified' THEN 'verifier'
            WHEN kind IN ('revision', 'instructions', 'team') THEN 'admin'
            WHEN kind = 'withdraw' THEN 'money'
            WHEN step = '' THEN 'viewer'
            WHEN EXISTS (
                SELECT 1 FROM deal d, jsonb_array_elements(d.terms_json::jsonb -> 'steps') s
                WHERE d.id = deal AND s ->> 'id' = step AND s -> 'payment' <> 'false'::jsonb
            ) THEN 'money'
            ELSE 'operator'
        END
    $$
"""

_HAS_ROLE = """
    CREATE FUNCTION closing_has_role(deal integer, who text, role text) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT NOT EXISTS (SELECT 1 FROM team_member t WHERE t.deal_id = deal)
            OR EXISTS (
                SELECT 1 FROM team_member t WHERE t.deal_id = deal AND t.login = who
                AND (role = 'viewer' OR role = ANY (string_to_array(t.roles, ',')))
            )
    $$
"""

_EVENT_APPEND = """
    CREATE FUNCTION closing_event_append() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        needed text := closing_role_needed(NEW.deal_id, NEW.kind, NEW.step);
    BEGIN
        IF NEW.actor_declared OR NEW.actor IS DISTINCT FROM current_user::text THEN
            RAISE EXCEPTION 'an event''s actor is the role that appends it (%), not %',
                current_user, NEW.actor USING ERRCODE = '42501';
        END IF;
        IF NOT closing_has_role(NEW.deal_id, current_user::text, needed) THEN
            RAISE EXCEPTION '% needs the % role on this deal''s team', current_user, needed
                USING ERRCODE = '42501';
        END IF;
        RETURN NEW;
    END $$
"""

_EVENT_KEPT = """
    CREATE FUNCTION closing_event_kept() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the event log is append-only: no % of an event', lower(TG_OP)
            USING ERRCODE = '42501';
    END $$
"""

# A chain head moves only with an append: to the hash of an event of its party, whose chain
# starts right after the old head.
_HEAD_MOVES = """
    CREATE FUNCTION closing_head_moves() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.head_seq <= OLD.head_seq
            OR NOT EXISTS (
                SELECT 1 FROM event e WHERE e.purchaser_id = NEW.id AND e.seq = NEW.head_seq
                AND e.hash = NEW.head_hash
            )
            OR NOT EXISTS (
                SELECT 1 FROM event e WHERE e.purchaser_id = NEW.id AND e.seq = OLD.head_seq + 1
                AND e.prev_hash = coalesce(OLD.head_hash, repeat('0', 64))
            )
        THEN
            RAISE EXCEPTION 'a chain head moves only to an event appended after it'
                USING ERRCODE = '42501';
        END IF;
        RETURN NEW;
    END $$
"""

_WIRE_PEOPLE = """
    CREATE FUNCTION closing_wire_instructions_people() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.entered_by IS DISTINCT FROM current_user::text THEN
                RAISE EXCEPTION 'wire instructions are entered by the role that enters them (%)',
                    current_user USING ERRCODE = '42501';
            END IF;
        ELSIF NEW.verified_by IS DISTINCT FROM OLD.verified_by THEN
            IF OLD.verified_by IS NOT NULL OR NEW.verified_by IS DISTINCT FROM current_user::text
            THEN
                RAISE EXCEPTION 'wire instructions are verified once, by the role that verifies'
                    ' them (%)', current_user USING ERRCODE = '42501';
            END IF;
            IF lower(NEW.verified_by) = lower(OLD.entered_by) THEN
                RAISE EXCEPTION '% entered these wire instructions; another role must verify'
                    ' them (two-person rule)', OLD.entered_by USING ERRCODE = '42501';
            END IF;
            IF NOT closing_has_role(NEW.deal_id, current_user::text, 'verifier') THEN
                RAISE EXCEPTION '% needs the verifier role on this deal''s team', current_user
                    USING ERRCODE = '42501';
            END IF;
        END IF;
        RETURN NEW;
    END $$
"""

_TEAM_CHANGES = """
    CREATE FUNCTION closing_team_changes() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        deal integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.deal_id ELSE NEW.deal_id END;
    BEGIN
        IF EXISTS (SELECT 1 FROM team_member t WHERE t.deal_id = deal)
            AND NOT EXISTS (
                SELECT 1 FROM team_member t WHERE t.deal_id = deal
                AND t.login = current_user::text AND 'admin' = ANY (string_to_array(t.roles, ','))
            )
        THEN
            RAISE EXCEPTION '% needs the admin role on this deal''s team', current_user
                USING ERRCODE = '42501';
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END $$
"""

# What a member's login may do, granted by the tables' owner (SECURITY DEFINER) for a login the
# calling transaction itself wrote into the team table (which only an admin, or the first member
# of a new deal, can write): read everything; append (events, versions, verifications, credits,
# links, alerts' deliveries); never update or delete an event.
_TEAM_GRANTS = """
    CREATE FUNCTION closing_team_grants(login text, wanted text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    DECLARE
        here text := current_schema();
        roles text[] := string_to_array(wanted, ',');
    BEGIN
        IF NOT EXISTS (  -- written by this transaction, which the team's trigger let write it
            SELECT 1 FROM team_member t WHERE t.login = closing_team_grants.login
            AND t.roles = wanted AND age(t.xmin) = 0
        ) THEN
            RAISE EXCEPTION 'no team member % with roles %', login, wanted
                USING ERRCODE = '42501';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = login) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', login);
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', here, login);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', here, login);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', here, login);
        IF roles <@ ARRAY['viewer'] THEN
            RETURN;
        END IF;
        EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO %I', here, login);
        EXECUTE format(
            'GRANT INSERT ON event, wire_instructions, verification, bank_credit, share, '
            'team_member, alert, alert_delivery, deal_revision TO %I', login);
        EXECUTE format('GRANT UPDATE (head_seq, head_hash) ON purchaser TO %I', login);
        EXECUTE format(
            'GRANT UPDATE (verified_event_id, verified_by, verified_at, callback_number, '
            'spoke_with) ON wire_instructions TO %I', login);
        EXECUTE format('GRANT UPDATE ON alert, alert_delivery, alert_sender TO %I', login);
        EXECUTE format('GRANT INSERT, DELETE ON alert_sender TO %I', login);  -- its lease
        EXECUTE format('GRANT UPDATE (status, reason, purchaser_id, event_id) ON bank_credit TO %I',
            login);
        IF 'admin' = ANY (roles) THEN
            EXECUTE format('GRANT INSERT, UPDATE ON deal, purchaser, team_member TO %I', login);
            EXECUTE format('GRANT UPDATE (revoked_at, revoked_by) ON share TO %I', login);
        END IF;
    END $$
"""

_POSTGRESQL_CHECKS = [
    _ROLE_NEEDED,
    _HAS_ROLE,
    _EVENT_APPEND,
    "CREATE TRIGGER event_append BEFORE INSERT ON event "
    "FOR EACH ROW EXECUTE FUNCTION closing_event_append()",
    _EVENT_KEPT,
    "CREATE TRIGGER event_kept BEFORE UPDATE OR DELETE ON event "
    "FOR EACH ROW EXECUTE FUNCTION closing_event_kept()",
    "CREATE TRIGGER event_not_truncated BEFORE TRUNCATE ON event "
    "FOR EACH STATEMENT EXECUTE FUNCTION closing_event_kept()",
    _HEAD_MOVES,
    "CREATE TRIGGER purchaser_head_moves BEFORE UPDATE ON purchaser FOR EACH ROW "
    "WHEN (OLD.head_seq IS DISTINCT FROM NEW.head_seq "
    "OR OLD.head_hash IS DISTINCT FROM NEW.head_hash) "
    "EXECUTE FUNCTION closing_head_moves()",
    _WIRE_PEOPLE,
    "CREATE TRIGGER wire_instructions_people BEFORE INSERT OR UPDATE ON wire_instructions "
    "FOR EACH ROW EXECUTE FUNCTION closing_wire_instructions_people()",
    _TEAM_CHANGES,
    "CREATE TRIGGER team_changes BEFORE INSERT OR UPDATE OR DELETE ON team_member "
    "FOR EACH ROW EXECUTE FUNCTION closing_team_changes()",
    _TEAM_GRANTS,
]
_FUNCTIONS = [
    "closing_team_grants(text, text)",
    "closing_team_changes()",
    "closing_wire_instructions_people()",
    "closing_head_moves()",
    "closing_event_kept()",
    "closing_event_append()",
    "closing_has_role(integer, text, text)",
    "closing_role_needed(integer, text, text)",
]


def upgrade() -> None:
    op.create_table(
        "team_member",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deal_id", sa.Integer(), sa.ForeignKey("deal.id"), nullable=False),
        sa.Column("login", sa.String(200), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("changed_at", _MOMENT, nullable=False),
        sa.UniqueConstraint("deal_id", "login"),
    )
    op.add_column("event", sa.Column("on_behalf_of", sa.String(), nullable=True))
    op.add_column(
        "event",
        sa.Column("actor_declared", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    event = sa.table("event", sa.column("actor_declared", sa.Boolean()))
    op.execute(event.update().values(actor_declared=True))  # recorded before: typed text
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRESQL_CHECKS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in _FUNCTIONS:
            op.execute(f"DROP FUNCTION {function} CASCADE")  # and its triggers
    op.drop_table("team_member")
    with op.batch_alter_table("event") as batch:
        batch.drop_column("actor_declared")
        batch.drop_column("on_behalf_of")
