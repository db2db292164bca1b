"""Web sessions and sign-in links by the clock (closing.services.web_auth), on each backend:
a link works once and for 15 minutes; a session ends after 30 minutes unused, after 12 hours
whatever, at sign-out, or when an admin takes a role away; its use is noted at most once a
minute. The clock is injected: no test waits."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from closing.services.passkeys import MOST_CHALLENGES, SIGN_IN
from closing.services.web_auth import (
    live_sessions,
    session_of,
    sign_in_with_link,
    sign_out,
)
from closing.store.connection import Database
from closing.store.passkeys import add_challenge
from tests.helpers import Cli, as_owner
from tests.team_web import serve_team

T0 = datetime.fromisoformat("2002-06-07T10:00:00-07:00")


def link_token(cli: Cli, login: str, at: datetime) -> str:
    """An invitation made by alice at `at`: its token."""
    result = cli("team", "invite", login, "--print", now=at.isoformat())
    assert result.code == 0, result.err
    return result.out.strip().rsplit("/", 1)[1]


def test_a_link_works_once_and_for_fifteen_minutes(seeded: Cli) -> None:
    server = Database(as_owner(seeded.database_url))  # the web server's own role
    token = link_token(seeded, "alice", T0)
    assert sign_in_with_link(server, token, T0 + timedelta(minutes=15)) is None  # expired
    fresh = link_token(seeded, "alice", T0)
    made = sign_in_with_link(server, fresh, T0 + timedelta(minutes=14, seconds=59))
    assert made is not None and made[1].login == "alice"
    assert made[1].how.startswith("sign-in link #")
    assert sign_in_with_link(server, fresh, T0 + timedelta(minutes=1)) is None  # used


def test_a_session_ends_idle_after_30_minutes_and_in_any_case_after_12_hours(
    seeded: Cli,
) -> None:
    server = Database(as_owner(seeded.database_url))
    made = sign_in_with_link(server, link_token(seeded, "alice", T0), T0)
    assert made is not None
    token = made[0]
    moment = T0
    for _ in range(24):  # used every 29 minutes: it holds for 12 hours, no longer
        moment += timedelta(minutes=29)
        if moment - T0 >= timedelta(hours=12):
            break
        assert session_of(server, token, moment) is not None
    assert session_of(server, token, T0 + timedelta(hours=12)) is None
    idle = sign_in_with_link(server, link_token(seeded, "alice", T0), T0)
    assert idle is not None
    assert session_of(server, idle[0], T0 + timedelta(minutes=29)) is not None
    assert session_of(server, idle[0], T0 + timedelta(minutes=59)) is None  # 30 unused
    assert live_sessions(server, T0 + timedelta(hours=12)) == []


def test_signing_out_and_a_revoked_role_end_sessions(seeded: Cli) -> None:
    server = Database(as_owner(seeded.database_url))
    assert seeded("team", "add", "bob", "--role", "operator", "--role", "verifier").code == 0
    mine = sign_in_with_link(server, link_token(seeded, "alice", T0), T0)
    bobs = sign_in_with_link(server, link_token(seeded, "bob", T0), T0)
    assert mine is not None and bobs is not None
    assert {s.login for s in live_sessions(server, T0)} == {"alice", "bob"}
    sign_out(server, mine[1], T0)
    assert session_of(server, mine[0], T0) is None
    revoked = seeded("team", "revoke", "bob", "verifier", now=T0.isoformat())
    assert "Ended bob's 1 web session: sign in again." in revoked.out
    assert session_of(server, bobs[0], T0) is None
    assert live_sessions(server, T0) == []
    kept = seeded("team", "sessions", "--all", now=T0.isoformat()).out.splitlines()
    assert kept[0].startswith("#1  alice  by sign-in link #1  signed in 2002-06-07 17:00 UTC")
    assert kept[0].endswith("ended: signed out at 2002-06-07 17:00 UTC")
    assert kept[1].endswith("ended: role verifier revoked at 2002-06-07 17:00 UTC")
    assert kept[2] == "2 web sessions."


def test_only_an_admin_invites_and_only_a_member_of_the_team(seeded: Cli) -> None:
    assert seeded("team", "add", "bob", "--role", "operator").code == 0
    refused = seeded("@bob", "team", "invite", "alice", "--print", now=T0.isoformat())
    assert refused.code == 4 and "bob needs the admin role" in refused.err
    stranger = seeded("team", "invite", "mallory", "--print", now=T0.isoformat())
    assert stranger.code == 4 and "mallory: not on the team" in stranger.err
    server = Database(as_owner(seeded.database_url))
    assert live_sessions(server, T0) == []


def test_an_admin_sets_the_deals_passkey_rule_and_the_record_says_so(seeded: Cli) -> None:
    from closing.domain.web_session import WebSession
    from closing.services.web_auth import passkey_refusal_for

    assert seeded("team", "add", "carol", "--role", "operator").code == 0
    assert seeded("team", "passkeys", "required", now=T0.isoformat()).code == 0
    server = Database(as_owner(seeded.database_url))
    by_link = sign_in_with_link(server, link_token(seeded, "alice", T0), T0)
    assert by_link is not None
    slug = "neotherapeutics-2002-06-07"
    assert "sign in with a passkey" in (passkey_refusal_for(server, slug, by_link[1]) or "")
    carols = sign_in_with_link(server, link_token(seeded, "carol", T0), T0)
    assert carols is not None and passkey_refusal_for(server, slug, carols[1]) is None
    with_passkey = WebSession(9, "alice", "passkey #1", "x", T0, T0, T0, None, None)
    assert passkey_refusal_for(server, slug, with_passkey) is None
    assert seeded("team", "passkeys", "optional", now=T0.isoformat()).code == 0
    assert passkey_refusal_for(server, slug, by_link[1]) is None
    history = seeded("history", "company", now=T0.isoformat()).out
    assert "passkeys no longer required in the browser" in history


def test_a_link_asked_for_by_email_is_made_by_the_server_once_per_five_minutes(
    seeded: Cli,
) -> None:
    """The server's own role (on PostgreSQL: on no team, so the trigger lets it) makes the link;
    without a mail channel nothing goes, and nothing says so to the asker."""
    from closing.services.web_auth import link_by_email

    assert seeded("team", "add", "bob", "--role", "viewer", "--email", "bob@firm.example").code == 0
    server = Database(as_owner(seeded.database_url))
    assert link_by_email(server, "bob@firm.example", "http://localhost:1", T0) is False  # no mail
    with server.transaction(write=False) as connection:
        made = connection.rows("SELECT login, created_by FROM web_signin_link")
    assert made == [("bob", "asked by e-mail")]
    assert link_by_email(server, "nobody@firm.example", "http://localhost:1", T0) is False
    assert link_by_email(server, "bob@firm.example", "http://x", T0 + timedelta(minutes=4)) is False
    with server.transaction(write=False) as connection:
        assert connection.value("SELECT count(*) FROM web_signin_link") == 1  # rate-limited


def test_only_an_admin_ends_sessions_and_a_member_lists_only_their_own(seeded: Cli) -> None:
    """`closing team sessions --end LOGIN`: only an admin of a deal LOGIN is on; anyone else
    (LOGIN itself too: it signs out in the browser) is refused and nothing ends. A member who
    is not an admin lists only their own sessions."""
    server = Database(as_owner(seeded.database_url))
    assert seeded("team", "add", "bob", "--role", "operator").code == 0
    assert seeded("team", "add", "carol", "--role", "operator").code == 0
    alices = sign_in_with_link(server, link_token(seeded, "alice", T0), T0)
    bobs = sign_in_with_link(server, link_token(seeded, "bob", T0), T0)
    carols = sign_in_with_link(server, link_token(seeded, "carol", T0), T0)
    assert alices is not None and bobs is not None and carols is not None
    at = T0.isoformat()
    refused = seeded("@bob", "team", "sessions", "--end", "alice", now=at)
    assert refused.code == 4, refused.err
    assert refused.err.strip() == (
        "Error: cannot end alice's web sessions: bob needs the admin role on a deal alice is "
        "on (a member signs out in the browser); nothing ended"
    )
    assert session_of(server, alices[0], T0) is not None
    listed = seeded("@bob", "team", "sessions", now=at).out
    assert "bob  by sign-in link" in listed and "alice" not in listed and "carol" not in listed
    own = seeded("@bob", "team", "sessions", "--end", "bob", now=at)
    assert own.code == 4 and "bob needs the admin role" in own.err
    assert session_of(server, bobs[0], T0) is not None
    ended = seeded("team", "sessions", "--end", "carol", now=at)  # alice, the deal's admin
    assert ended.code == 0 and ended.out == "Ended 1 web session of carol.\n"
    assert session_of(server, carols[0], T0) is None
    everyone = seeded("team", "sessions", now=at).out
    assert "alice  by sign-in link" in everyone


def test_an_admin_revoking_their_own_admin_role_ends_their_sessions(seeded: Cli) -> None:
    """With a second admin on the deal, alice takes her own admin role away: the change and the
    end of her sessions are one transaction (she is no longer an admin once it is recorded)."""
    server = Database(as_owner(seeded.database_url))
    assert seeded("team", "add", "bob", "--role", "admin").code == 0
    alices = sign_in_with_link(server, link_token(seeded, "alice", T0), T0)
    assert alices is not None
    revoked = seeded("team", "revoke", "alice", "admin", now=T0.isoformat())
    assert revoked.code == 0, revoked.err
    assert "Ended alice's 1 web session: sign in again." in revoked.out
    assert session_of(server, alices[0], T0) is None


def test_passkey_challenges_are_bounded_and_the_expired_ones_go_when_one_is_made(
    seeded: Cli,
) -> None:
    """Anyone may ask for a passkey sign-in's challenge (an Origin header is all it takes): the
    expired ones are deleted as one is made, and past MOST_CHALLENGES unanswered ones the ask is
    refused, 429 with one line, and nothing kept."""
    server = Database(as_owner(seeded.database_url))  # the web server's own role
    with server.transaction() as connection:
        for n in range(MOST_CHALLENGES - 1):
            add_challenge(connection, f"out-{n}", SIGN_IN, None, T0 + timedelta(minutes=5))
        for n in range(50):
            add_challenge(connection, f"expired-{n}", SIGN_IN, None, T0)
    with serve_team(as_owner(seeded.database_url), T0) as served:
        url = f"{served.base}/passkeys/signin/options"
        made = httpx.post(url, headers={"origin": served.base})
        assert made.status_code == 200 and made.json()["challenge"]
        refused = httpx.post(url, headers={"origin": served.base})
    assert refused.status_code == 429
    assert refused.json() == {
        "error": f"{MOST_CHALLENGES:,} passkey sign-ins are under way, the most there may be; "
        "try again in a few minutes, or sign in with a one-time link (closing team invite)"
    }
    with server.transaction(write=False) as connection:
        kept = [row[0] for row in connection.rows("SELECT challenge FROM web_challenge")]
    assert len(kept) == MOST_CHALLENGES
    assert not [challenge for challenge in kept if challenge.startswith("expired-")]
