"""A deal's team (`closing team list|add|grant|revoke`), the first admin of a deal, and the
check every action makes for the role it needs. Each change of the team is a `team` event on
the deal's chain. On SQLite the program checks the roles (the database file's owner can bypass
them); on PostgreSQL the database checks them too (migration 0008), and adding a member creates
its login role if missing and grants it what a member may do."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from closing.domain.deal import Deal
from closing.domain.errors import RefusedError, UsageError
from closing.domain.events import TEAM, deal_event, on_behalf
from closing.domain.team import ADMIN, FIRST_ADMIN_ROLES, Member, check, ordered
from closing.services.deals import open_deal
from closing.store import deals as deal_store
from closing.store import events as event_store
from closing.store.connection import Connection, Database
from closing.store.facts import fact_table, record_facts
from closing.store.identity import actor
from closing.store.sessions import end_sessions_of
from closing.store.team import grant_database_role, put_member, team_of

_LOGIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.@-]{0,62}")  # an OS account or a database role


def require(connection: Connection, deal_id: int, role: str, what: str) -> None:
    """Refuse (exit 4, naming the role) unless whoever is signed in has `role` on the deal."""
    team = team_of(connection, deal_id)  # first: on PostgreSQL it also asks who is signed in
    check(team, actor(connection), role, what)


@dataclass(frozen=True)
class TeamChange:
    """`closing team add|grant|revoke`: who, and the roles to give or take away."""

    login: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    name: str | None = None
    email: str | None = None
    new_member: bool = False  # `team add`: the member may be new
    host: str = "unknown"
    on_behalf_of: str | None = None


def team(database: Database, deal_name: str | None) -> tuple[Deal, list[Member]]:
    """`closing team list`: the deal's members by login."""
    with database.transaction(write=False) as connection:
        deal = open_deal(connection, deal_name)
        return deal, list(team_of(connection, deal.id).values())


def change_team(
    database: Database, deal_name: str | None, change: TeamChange, now: datetime
) -> tuple[Deal, Member, str, int]:
    """Add a member, or grant or revoke roles (an admin only); the member as it is now, the
    `team` event's words, and how many of the member's web sessions a revoked role ended (in
    the same transaction: an admin revoking their own admin role still ends their sessions)."""
    with database.transaction() as connection:
        deal = open_deal(connection, deal_name)
        members = team_of(connection, deal.id)
        login = change.login.strip()
        what = f"change the team of {deal.slug}"
        if not _LOGIN.fullmatch(login):
            raise UsageError(
                f"cannot {what}: {login!r} is not a login (letters, digits, '_', '.', '-', '@'; "
                "at most 63)"
            )
        check(members, actor(connection), ADMIN, what)
        before = members.get(login)
        if before is None and not change.new_member:
            raise RefusedError(
                f"cannot {what}: {login} is not on the team; add them: closing team add "
                f"{login} --role ROLE"
            )
        held = before.roles if before else ()
        roles = ordered([r for r in (*held, *change.add) if r not in change.remove])
        if ADMIN in held and ADMIN not in roles and login == actor(connection):
            others = [m for m in members.values() if ADMIN in m.roles and m.login != login]
            if not others:
                raise RefusedError(f"cannot {what}: {login} is its only admin")
        member = Member(
            login,
            roles,
            change.name or (before.name if before else None),
            change.email or (before.email if before else None),
        )
        note = _words(before, member)
        # Sessions first, as the event (`_record`): while the one acting is still an admin.
        taken = [role for role in held if role not in roles]
        ended = end_sessions_of(connection, login, now, f"role {taken[0]} revoked") if taken else 0
        _record(connection, deal, member, note, now, change.host, change.on_behalf_of)
        return deal, member, note, ended


def first_admin(
    connection: Connection, deal: Deal, now: datetime, host: str, on_behalf_of: str | None
) -> None:
    """The operator of a deal's first `init` runs it: every role (the two-person rule still keeps
    them from verifying wire instructions they entered)."""
    member = Member(actor(connection), FIRST_ADMIN_ROLES)
    note = f"{member.login} added as {', '.join(member.roles)} (the deal's first load)"
    _record(connection, deal, member, note, now, host, on_behalf_of)


def _words(before: Member | None, after: Member) -> str:
    roles = ", ".join(after.roles) or "no role"
    if before is None:
        return f"{after.login} added as {roles}"
    granted = [r for r in after.roles if r not in before.roles]
    revoked = [r for r in before.roles if r not in after.roles]
    changes = [f"granted {', '.join(granted)}"] if granted else []
    changes += [f"revoked {', '.join(revoked)}"] if revoked else []
    return f"{after.login}: {'; '.join(changes) or 'unchanged'} (now {roles})"


def _record(
    connection: Connection,
    deal: Deal,
    member: Member,
    note: str,
    now: datetime,
    host: str,
    on_behalf_of: str | None,
) -> None:
    """The `team` event, the member written and its database role granted (PostgreSQL). The
    event first, while the one acting holds the admin role it appends with (PostgreSQL checks it
    at each statement): an admin may be taking away their own admin role."""
    company = deal_store.party_where(connection, deal.id)
    assert company is not None
    seq, head = event_store.lock_chain_head(connection, company.id)
    who = actor(connection)
    event = deal_event(
        company, seq + 1, TEAM, now, who, host, note, on_behalf_of=on_behalf(who, on_behalf_of)
    )
    event_store.append_event(connection, deal.id, deal.slug, company, event, head)
    put_member(connection, deal.id, member, now)
    if not connection.sqlite:
        grant_database_role(connection, member.login, member.roles)
    record_facts(connection, deal.id, now, fact_table("team_member"))
