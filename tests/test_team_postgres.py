"""On PostgreSQL the database itself knows who did what and enforces the team's roles: three
members made by `closing team add` (alice: admin, money; bob: verifier; carol: operator), each
connecting as their own database role, and dave, whom a test may add. Roles are cluster-wide:
each test makes uniquely named ones and drops them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import NO_POSTGRES, POSTGRES_URL, ROOT, Cli, as_owner, postgres_schema

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)

WIRES = ROOT / "tests" / "fixtures" / "neotherapeutics-wires.yaml"
SEED = ROOT / "workflows" / "neotherapeutics-2002-06-07.yaml"
VERIFY = ["wire-instructions", "verify", "--callback-number", "+1 949 788 6700"]


def as_role(url: str, role: str) -> str:
    """The URL of the same database and schema, logged in as `role` (trust authentication on
    the test server; a firm's members use passwords or certificates)."""
    scheme, rest = url.split("://", 1)
    host = rest.split("@", 1)[1]
    return f"{scheme}://{role}@{host}"


@dataclass
class Team:
    cli: Cli
    owner_url: str
    alice: str
    bob: str
    carol: str
    dave: str  # on no team until a test adds him

    def run(self, who: str | None, *args: str) -> tuple[int, str, str]:
        """`closing ARGS` connected as `who` (None: the schema's owner, who loaded the deal)."""
        url = self.owner_url if who is None else as_role(self.owner_url, who)
        self.cli.monkeypatch.setenv("CLOSING_DATABASE_URL", url)
        result = self.cli(*args)
        return result.code, result.out, result.err

    def sql(self, who: str, statement: str, params: tuple[object, ...] = ()) -> None:
        """A statement typed by `who` at psql, in a transaction of its own."""
        import psycopg

        conninfo = as_role(self.owner_url, who).replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(statement, params)  # type: ignore[arg-type]


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Team]:
    from closing.store.connection import close_databases

    for name, value in {"COLUMNS": "100", "LINES": "40", "NO_COLOR": "1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("CLOSING_OPERATOR", "CLOSING_DEAL", "CLOSING_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    suffix = uuid.uuid4().hex[:8]
    names = [f"alice_{suffix}", f"bob_{suffix}", f"carol_{suffix}", f"dave_{suffix}"]
    with postgres_schema() as schema_url:
        url = as_owner(schema_url)  # the schema's owner, who loads the deal
        found = Team(Cli(url, monkeypatch, capsys, accounts=False), url, *names)
        try:
            assert found.run(None, "init", str(SEED))[0] == 0
            given = (["money", "admin"], ["verifier"], ["operator"])
            for name, roles in zip(names[:3], given, strict=True):
                code, out, err = found.run(
                    None, "team", "add", name, *[w for r in roles for w in ("--role", r)]
                )
                assert code == 0, err
                assert f"{name} added as {', '.join(roles)}" in out
            # alice brings the company's wire instructions with a reload of the deal file
            code, out, err = found.run(found.alice, "init", str(WIRES))
            assert code == 0, err
            assert f"entered by {found.alice}: NOT VERIFIED" in out
            yield found
        finally:
            close_databases()
            import psycopg

            owner = url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(owner, autocommit=True) as connection:
                for name in names:
                    exists = connection.execute(
                        "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)
                    ).fetchone()
                    if exists:
                        connection.execute(f'DROP OWNED BY "{name}"')
                        connection.execute(f'DROP ROLE "{name}"')


def refused(team: Team, who: str, statement: str, params: tuple[object, ...] = ()) -> str:
    import psycopg

    with pytest.raises(psycopg.Error) as error:
        team.sql(who, statement, params)
    return str(error.value)


def test_team_add_creates_each_login_role_with_the_roles_given(team: Team) -> None:
    """`closing team add` made the three database roles; `team list --json` shows their roles
    (and the owner who loaded the deal, its first admin)."""
    import json

    code, out, _ = team.run(None, "team", "list", "--json")
    assert code == 0
    roles = {m["login"]: m["roles"] for m in json.loads(out)}
    assert roles[team.alice] == ["money", "admin"]
    assert roles[team.bob] == ["verifier"]
    assert roles[team.carol] == ["operator"]


def test_an_operator_marks_but_mark_wired_needs_the_money_role(team: Team) -> None:
    """carol (operator) records a signature; her `mark-wired` is refused naming `money`, exit 4,
    nothing written."""
    code, out, err = team.run(team.carol, "mark-signed", "stonestreet")
    assert code == 0, err
    assert f"by {team.carol}." in out
    code, _, err = team.run(team.carol, "mark-wired", "stonestreet", "--unverified-instructions-ok")
    assert code == 4
    assert "needs the money role" in err and len(err.strip().splitlines()) == 1
    _, history, _ = team.run(None, "history", "stonestreet")
    assert "mark wired" not in history


def test_a_viewer_is_refused_a_mark_or_an_undo_naming_the_role(team: Team) -> None:
    """A viewer's login may read but not lock a party's row: its mark and its undo are refused
    naming the role it lacks (exit 4), not with the database's permission error (exit 6)."""
    import psycopg

    viewer = f"{team.alice}_viewer"
    try:
        code, _, err = team.run(None, "team", "add", viewer, "--role", "viewer")
        assert code == 0, err
        for args in (("mark-signed", "bnc"), ("undo", "bnc", "signed", "--reason", "x")):
            code, _, err = team.run(viewer, *args)
            assert code == 4, err
            assert f"{viewer} needs the operator role" in err and "permission denied" not in err
    finally:
        owner = team.owner_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(owner, autocommit=True) as connection:
            if connection.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (viewer,)
            ).fetchone():
                connection.execute(f'DROP OWNED BY "{viewer}"')
                connection.execute(f'DROP ROLE "{viewer}"')


def test_the_two_person_rule_cannot_be_passed_by_one_person(team: Team) -> None:
    """alice entered the instructions: she cannot verify them, with `--by bob`, with
    CLOSING_OPERATOR=bob, or by writing the database herself; bob can."""
    assert team.run(team.alice, "team", "grant", team.alice, "verifier")[0] == 0
    code, _, err = team.run(team.alice, *VERIFY, "--spoke-with", "CFO", "--by", team.bob)
    assert code == 5 and f"{team.alice} entered this change" in err
    team.cli.monkeypatch.setenv("CLOSING_OPERATOR", team.bob)
    code, _, err = team.run(team.alice, *VERIFY, "--spoke-with", "CFO")
    assert code == 5 and "two-person rule" in err
    team.cli.monkeypatch.delenv("CLOSING_OPERATOR")
    for who in (team.alice, team.bob):  # her own name, or bob's
        why = refused(
            team,
            team.alice,
            "UPDATE wire_instructions SET verified_by = %s, verified_at = now()",
            (who,),
        )
        assert "two-person rule" in why or "by the role that verifies" in why
    code, out, err = team.run(team.bob, *VERIFY, "--spoke-with", "Samuel Gulko")
    assert code == 0, err
    assert f"by {team.bob}: called" in out


def test_the_event_log_is_append_only_and_no_one_appends_as_someone_else(team: Team) -> None:
    """carol's own UPDATE, DELETE and TRUNCATE of events, an INSERT in alice's name and a chain
    head moved by hand are refused by the server; every event's actor is the role that appended
    it."""
    assert team.run(team.carol, "mark-signed", "bnc")[0] == 0
    assert "permission denied" in refused(team, team.carol, "UPDATE event SET note = 'x'")
    assert "permission denied" in refused(team, team.carol, "DELETE FROM event")
    assert "append-only" in refused(team, "postgres", "DELETE FROM event")  # the owner too
    forged = refused(
        team,
        team.carol,
        "INSERT INTO event (deal_id, purchaser_id, seq, kind, step, occurred_at, recorded_at, "
        "actor, host, actor_declared) SELECT deal_id, id, head_seq + 1, 'mark', 'wired', now(), "
        "now(), %s, 'x', false FROM purchaser WHERE slug = 'bnc-bach'",
        (team.alice,),
    )
    assert "actor is the role that appends it" in forged
    moved = refused(team, team.carol, "UPDATE purchaser SET head_seq = 9, head_hash = 'f'")
    assert "chain head moves only" in moved
    import psycopg

    owner = team.owner_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(owner) as connection:
        actors = dict(
            connection.execute(
                "SELECT e.kind || ' ' || e.step || ' ' || p.slug, e.actor FROM event e "
                "JOIN purchaser p ON p.id = e.purchaser_id"
            ).fetchall()
        )
    assert actors["mark signed bnc-bach"] == team.carol
    assert actors["instructions  @company"] == team.alice
    assert set(actors.values()) == {"postgres", team.alice, team.carol}
    assert team.run(None, "verify")[0] == 0


SLUG = "neotherapeutics-2002-06-07"
OTHER = "other-2002-06-07"


def other_deal(team: Team, tmp_path: Path) -> None:
    """A second deal (the seed under another slug), loaded by the owner, its first admin."""
    other = tmp_path / "other.yaml"
    other.write_text(SEED.read_text().replace(f"slug: {SLUG}", f"slug: {OTHER}"))
    code, _, err = team.run(None, "init", str(other))
    assert code == 0, err


def forged_mark(deal: str) -> str:
    """An INSERT of a `signed` mark on Stonestreet's chain of `deal` by whoever runs it."""
    return (
        "INSERT INTO event (deal_id, purchaser_id, seq, kind, step, occurred_at, recorded_at, "
        "actor, host, actor_declared) SELECT p.deal_id, p.id, p.head_seq + 1, 'mark', 'signed', "
        "now(), now(), current_user, 'x', false FROM purchaser p JOIN deal d ON d.id = p.deal_id "
        f"WHERE d.slug = '{deal}' AND p.slug = 'stonestreet'"
    )


def test_a_team_change_on_one_deal_keeps_what_the_logins_other_deals_give(
    team: Team, tmp_path: Path
) -> None:
    """carol, an operator of the seed deal, is made a viewer of a second deal: she still marks
    and undoes on the first (her login's rights are those of every deal she is on), and the
    database still refuses her a mark on the second (its role, checked per deal). Once her
    operator role is taken away, her login appends nothing."""
    other_deal(team, tmp_path)
    code, _, err = team.run(None, "team", "add", team.carol, "--role", "viewer", "--deal", OTHER)
    assert code == 0, err
    code, _, err = team.run(team.carol, "mark-signed", "stonestreet", "--deal", SLUG)
    assert code == 0, err
    undo = ("undo", "stonestreet", "signed", "--reason", "wrong page", "--deal", SLUG)
    code, _, err = team.run(team.carol, *undo)
    assert code == 0, err
    assert "needs the operator role" in refused(team, team.carol, forged_mark(OTHER))
    code, _, err = team.run(None, "team", "revoke", team.carol, "operator", "--deal", SLUG)
    assert code == 0, err
    assert "permission denied for table event" in refused(team, team.carol, forged_mark(SLUG))


def test_an_admin_of_another_deal_neither_lifts_this_ones_passkey_rule_nor_revives_sessions(
    team: Team, tmp_path: Path
) -> None:
    """dave, admin of a second deal only, may not switch off the seed deal's passkey rule nor
    write it in someone else's name; nobody but the tables' owner brings back an ended web
    session (alice, the seed deal's admin, neither); sessions are ended by their member or an
    admin of a deal their member is on (alice ends carol's; dave may not end alice's)."""
    from closing.services.web_auth import open_session, sign_out
    from closing.store.connection import Database

    other_deal(team, tmp_path)
    code, _, err = team.run(None, "team", "add", team.dave, "--role", "admin", "--deal", OTHER)
    assert code == 0, err
    code, _, err = team.run(team.alice, "team", "passkeys", "required", "--deal", SLUG)
    assert code == 0, err
    lift = (
        "UPDATE web_deal_policy SET passkeys_required = false, changed_by = %s "
        "WHERE deal_id = (SELECT id FROM deal WHERE slug = %s)"
    )
    assert "needs the admin role" in refused(team, team.dave, lift, ("nobody", SLUG))
    assert "needs the admin role" in refused(team, team.dave, lift, (team.dave, SLUG))
    assert "not nobody" in refused(team, team.alice, lift, ("nobody", SLUG))
    code, _, err = team.run(team.dave, "team", "passkeys", "required", "--deal", OTHER)
    assert code == 0, err

    server = Database(team.owner_url)  # the web server's own role
    now = datetime.now(UTC)
    with server.transaction() as connection:
        for login in (team.alice, team.carol, team.dave):
            open_session(connection, login, "sign-in link #1", now)
        signed_out = open_session(connection, team.carol, "sign-in link #2", now)[1]
    sign_out(server, signed_out, now)
    revive = "UPDATE web_session SET ended_at = NULL, ended_how = NULL"
    assert "it stays ended" in refused(team, team.dave, revive)
    assert "it stays ended" in refused(team, team.alice, revive)
    end = "UPDATE web_session SET ended_at = now(), ended_how = 'x' WHERE login = %s"
    assert "needs the admin role on a deal" in refused(team, team.dave, end, (team.alice,))
    team.sql(team.dave, end, (team.dave,))  # his own
    code, out, err = team.run(team.alice, "team", "sessions", "--end", team.carol)
    assert code == 0, err
    assert out == f"Ended 1 web session of {team.carol}.\n"
    with server.transaction(write=False) as connection:
        left = connection.rows(
            "SELECT login, ended_how FROM web_session WHERE ended_at IS NULL OR ended_how = 'x'"
        )
        rule = connection.value(
            "SELECT passkeys_required FROM web_deal_policy WHERE deal_id = (SELECT id FROM deal "
            "WHERE slug = ?)",
            (SLUG,),
        )
    assert sorted(left) == [(team.alice, None), (team.dave, "x")]
    assert rule is True


def test_no_member_reads_the_web_servers_secrets_and_each_lists_what_it_may(team: Team) -> None:
    """Neither bob (a verifier) nor alice (an admin) reads the cookie-signing key, the passkey
    challenges, or a session's token hash or CSRF secret; `closing team sessions` still lists
    alice everyone's sessions and bob his own."""
    from closing.services.passkeys import signin_options
    from closing.services.web_auth import cookie_key, open_session
    from closing.store.connection import Database

    server = Database(team.owner_url)  # the web server's own role
    now = datetime.fromisoformat(team.cli.now)
    cookie_key(server)
    signin_options(server, "localhost", now)
    with server.transaction() as connection:
        for login in (team.alice, team.bob):
            open_session(connection, login, "sign-in link #1", now)
    for who in (team.alice, team.bob):
        for secret in (
            "SELECT value FROM web_secret",
            "SELECT challenge FROM web_challenge",
            "SELECT csrf FROM web_session",
            "SELECT token_sha256 FROM web_session",
        ):
            assert "permission denied" in refused(team, who, secret), (who, secret)
    code, out, err = team.run(team.bob, "team", "sessions")
    assert code == 0, err
    assert f"#2  {team.bob}  by sign-in link #1" in out and team.alice not in out
    code, out, err = team.run(team.alice, "team", "sessions", "--all")
    assert code == 0, err
    assert out.endswith("\n2 web sessions.\n") and team.bob in out


def test_an_owner_that_loads_a_deal_keeps_its_own_rights(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tables' owner (not a superuser) runs `closing db upgrade` then `closing init`, as
    README's first steps have it: the deal's first admin, it still keeps the web server's cookie
    key and sessions, which a member's grants would not let it write."""
    import psycopg

    from closing.services.web_auth import cookie_key, open_session
    from closing.store.connection import Database, close_databases

    owner = f"owner_{uuid.uuid4().hex[:8]}"
    server = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE ROLE "{owner}" LOGIN')
        connection.execute(f'CREATE SCHEMA "{owner}" AUTHORIZATION "{owner}"')
    try:
        login = as_role(POSTGRES_URL, owner)
        url = f"{login}{'&' if '?' in login else '?'}options=-csearch_path%3D{owner}"
        Database(url).upgrade()
        cli = Cli(url, monkeypatch, capsys, accounts=False)
        monkeypatch.setenv("CLOSING_DATABASE_URL", url)
        loaded = cli("init", str(SEED))
        assert loaded.code == 0, loaded.err
        assert f"{owner}: operator, money, verifier, admin" in cli("team", "list").out
        web = Database(url)
        assert cookie_key(web)
        with web.transaction() as connection:
            assert open_session(connection, owner, "sign-in link #1", datetime.now(UTC))[0]
    finally:
        close_databases()
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{owner}" CASCADE')
            connection.execute(f'DROP OWNED BY "{owner}"')
            connection.execute(f'DROP ROLE "{owner}"')
