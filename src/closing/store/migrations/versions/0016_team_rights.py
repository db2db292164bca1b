"""A login's database rights are those of every deal it is on (PostgreSQL): a team change on one
deal recomputes the login's grants from the union of its roles on every deal's team, where
before it reset them to the roles of the deal being changed alone (an operator of one deal made
a viewer of another could no longer mark the first). The triggers still check the role each
write needs on its own deal.

`closing_team_grants` (the owner's, called by an admin's team change) checks the change and
creates the login; `closing_login_grants` (the owner's alone) grants what the login's roles give.
It leaves the tables' owner alone: an owner that loaded a deal (its first admin) took its own
rights away before, the web server's writes among them, and gets them back. Members made before
this revision get their grants recomputed.

An admin's rights on the web tables are checked per deal too: only an admin of a deal changes
its passkey rule (`web_deal_policy`), in their own name; a web session is ended only by its
member or an admin of a deal its member is on, and an ended session stays ended. The tables'
owner (the web server's role) is not held to these.

No member reads the web server's secrets any more: the cookie-signing key (`web_secret`), the
passkey challenges (`web_challenge`), and a session's token hash and CSRF secret (of
`web_session`, a member reads the columns `closing team sessions` lists).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_BEFORE = importlib.import_module("closing.store.migrations.versions.0013_facts")

# What a login may do in this schema, from the union of its roles on every deal's team: read
# everything but the web server's secrets; append (events, versions, verifications, credits,
# links, alerts' deliveries) unless it is a viewer everywhere; an admin of any deal, change the
# team and the deals (the triggers check that it is an admin of the deal it changes). Run by the
# tables' owner only, who never takes its own rights away (it may be a deal's first admin).
_LOGIN_GRANTS = """
    CREATE FUNCTION closing_login_grants(login text) RETURNS void
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    DECLARE
        here text := current_schema();
        held text[] := ARRAY(
            SELECT DISTINCT r.role FROM team_member t,
                unnest(string_to_array(t.roles, ',')) AS r(role)
            WHERE t.login = closing_login_grants.login
        );
    BEGIN
        IF pg_has_role(login, (SELECT c.relowner FROM pg_class c
                               WHERE c.oid = 'team_member'::regclass), 'USAGE') THEN
            RETURN;  -- the tables' owner (a deal's first admin when it loaded it) keeps its own
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', here, login);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', here, login);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', here, login);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', here, login);
        -- but the web server's own: its cookie key, the passkey challenges, and each session's
        -- token hash and CSRF secret (a member lists the sessions: `closing team sessions`)
        EXECUTE format('REVOKE SELECT ON web_secret, web_challenge, web_session FROM %I', login);
        EXECUTE format(
            'GRANT SELECT (id, login, how, signed_in_at, last_seen_at, expires_at, ended_at, '
            'ended_how, deal_id, link_by) ON web_session TO %I', login);
        IF held <@ ARRAY['viewer'] THEN
            RETURN;
        END IF;
        EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO %I', here, login);
        EXECUTE format(
            'GRANT INSERT ON event, wire_instructions, verification, bank_credit, share, '
            'team_member, stored_file, fact, judgement, alert, alert_delivery, deal_revision '
            'TO %I', login);
        EXECUTE format('GRANT UPDATE (head_seq, head_hash) ON purchaser TO %I', login);
        EXECUTE format(
            'GRANT UPDATE (verified_event_id, verified_by, verified_at, callback_number, '
            'spoke_with) ON wire_instructions TO %I', login);
        EXECUTE format('GRANT UPDATE ON alert, alert_delivery, alert_sender TO %I', login);
        EXECUTE format('GRANT INSERT, DELETE ON alert_sender TO %I', login);  -- its lease
        EXECUTE format('GRANT INSERT, UPDATE ON alert_deal_lease TO %I', login);
        EXECUTE format('GRANT UPDATE (status, reason, purchaser_id, event_id) ON bank_credit TO %I',
            login);
        IF 'admin' = ANY (held) THEN
            EXECUTE format('GRANT INSERT, UPDATE ON deal, purchaser, team_member TO %I', login);
            EXECUTE format('GRANT INSERT ON web_signin_link TO %I', login);
            EXECUTE format('GRANT INSERT, UPDATE ON web_deal_policy TO %I', login);
            EXECUTE format('GRANT UPDATE (ended_at, ended_how) ON web_session TO %I', login);
            EXECUTE format('GRANT UPDATE (revoked_at, revoked_by) ON share TO %I', login);
        END IF;
    END $$
"""

# Called in the transaction of a team change, for a login that transaction itself wrote into the
# team table (which only an admin, or the first member of a new deal, can write).
_TEAM_GRANTS = """
    CREATE OR REPLACE FUNCTION closing_team_grants(login text, wanted text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
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
        PERFORM closing_login_grants(login);
    END $$
"""

# Members made before this revision: the grants of every deal they are on; the tables' owner,
# its own rights back.
_EXISTING_MEMBERS = """
    DO $$
    DECLARE member record;
    BEGIN
        EXECUTE format('GRANT ALL ON ALL TABLES IN SCHEMA %I TO %s', current_schema(),
            (SELECT c.relowner::regrole FROM pg_class c WHERE c.oid = 'team_member'::regclass));
        FOR member IN SELECT DISTINCT t.login FROM team_member t
            JOIN pg_roles r ON r.rolname = t.login
        LOOP
            PERFORM closing_login_grants(member.login);
        END LOOP;
    END $$
"""

# Whether the one acting is the owner of table `tbl` (or acts with its rights): the web server's
# role, or whoever runs `closing db upgrade`. The rules below hold the members' own logins.
_OWNER_ACTS = """
    CREATE FUNCTION closing_owner_acts(tbl oid) RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = tbl
    $$
"""
_POLICY_CHANGES = """
    CREATE FUNCTION closing_deal_policy_changes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF closing_owner_acts(TG_RELID) THEN
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END IF;
        IF TG_OP <> 'INSERT' AND NOT closing_has_role(OLD.deal_id, current_user::text, 'admin')
            OR TG_OP <> 'DELETE' AND NOT closing_has_role(NEW.deal_id, current_user::text, 'admin')
        THEN
            RAISE EXCEPTION '% needs the admin role on this deal''s team to change its passkey '
                'rule', current_user USING ERRCODE = '42501';
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.changed_by IS DISTINCT FROM current_user::text THEN
            RAISE EXCEPTION 'a deal''s passkey rule is changed by the role that changes it (%), '
                'not %', current_user, NEW.changed_by USING ERRCODE = '42501';
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END $$
"""
_SESSION_ENDS = """
    CREATE FUNCTION closing_web_session_ends() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF closing_owner_acts(TG_RELID) THEN
            RETURN NEW;
        END IF;
        IF OLD.ended_at IS NOT NULL THEN
            RAISE EXCEPTION 'web session #% ended at %: it stays ended', OLD.id, OLD.ended_at
                USING ERRCODE = '42501';
        END IF;
        IF OLD.login IS DISTINCT FROM current_user::text AND EXISTS (SELECT 1 FROM team_member)
            AND NOT EXISTS (
                SELECT 1 FROM team_member theirs JOIN team_member mine
                    ON mine.deal_id = theirs.deal_id
                WHERE theirs.login = OLD.login AND mine.login = current_user::text
                AND 'admin' = ANY (string_to_array(mine.roles, ','))
            )
        THEN
            RAISE EXCEPTION '% needs the admin role on a deal % is on to end their web sessions',
                current_user, OLD.login USING ERRCODE = '42501';
        END IF;
        RETURN NEW;
    END $$
"""
_CHECKS = [
    _OWNER_ACTS,
    _POLICY_CHANGES,
    "CREATE TRIGGER web_deal_policy_changes BEFORE INSERT OR UPDATE OR DELETE ON web_deal_policy "
    "FOR EACH ROW EXECUTE FUNCTION closing_deal_policy_changes()",
    _SESSION_ENDS,
    "CREATE TRIGGER web_session_ends BEFORE UPDATE ON web_session FOR EACH ROW "
    "WHEN (OLD.ended_at IS DISTINCT FROM NEW.ended_at "
    "OR OLD.ended_how IS DISTINCT FROM NEW.ended_how) "
    "EXECUTE FUNCTION closing_web_session_ends()",
]
# Back to 0015: members read the web tables whole again (its `closing team sessions` reads them).
_MEMBERS_READ_AGAIN = """
    DO $$
    DECLARE member record;
    BEGIN
        FOR member IN SELECT DISTINCT t.login FROM team_member t
            JOIN pg_roles r ON r.rolname = t.login
        LOOP
            EXECUTE format('GRANT SELECT ON web_secret, web_challenge, web_session TO %I',
                member.login);
        END LOOP;
    END $$
"""
_FUNCTIONS = [  # and their triggers
    "closing_web_session_ends()",
    "closing_deal_policy_changes()",
    "closing_owner_acts(oid)",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_LOGIN_GRANTS)
        op.execute("REVOKE EXECUTE ON FUNCTION closing_login_grants(text) FROM PUBLIC")
        op.execute(_TEAM_GRANTS)
        op.execute(_EXISTING_MEMBERS)
        for statement in _CHECKS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in _FUNCTIONS:
            op.execute(f"DROP FUNCTION {function} CASCADE")
        op.execute(_BEFORE._TEAM_GRANTS)
        op.execute("DROP FUNCTION closing_login_grants(text)")
        op.execute(_MEMBERS_READ_AGAIN)
