"""The statements on a deal's team (`team_member`): its members and their roles, read by every
action that needs a role, written by `closing team` and the first `init`. On PostgreSQL the
database checks the same roles itself (migration 0008's triggers) and a login's privileges are
granted by `closing_team_grants`, a function of the tables' owner."""

from __future__ import annotations

from datetime import datetime

from closing.domain.team import ADMIN, Member, ordered
from closing.store.connection import Connection


def team_of(connection: Connection, deal_id: int) -> dict[str, Member]:
    """The deal's team by login (empty for a deal loaded before teams, or with none). On
    PostgreSQL the same round trip asks who is signed in (`closing.store.identity.actor` then
    has it): a mark pays one round trip for its identity and its role check together."""
    if connection.sqlite or connection.authenticated is not None:
        rows = connection.rows(
            "SELECT login, roles, name, email FROM team_member WHERE deal_id = ? ORDER BY login",
            (deal_id,),
        )
    else:
        found = connection.rows(
            "SELECT current_user, t.login, t.roles, t.name, t.email FROM (SELECT 1) AS one "
            "LEFT JOIN team_member t ON t.deal_id = ? ORDER BY t.login",
            (deal_id,),
        )
        connection.authenticated = str(found[0][0])
        rows = [row[1:] for row in found if row[1] is not None]
    return {
        login: Member(login, ordered(roles.split(",")) if roles else (), name, email)
        for login, roles, name, email in rows
    }


def member_change(connection: Connection, deal_id: int, login: str) -> tuple[str, datetime] | None:
    """`login`'s roles on the deal (comma-separated, '' for none) and when they last changed;
    None when it is not on the team."""
    rows = connection.rows(
        "SELECT roles, changed_at FROM team_member WHERE deal_id = ? AND login = ?",
        (deal_id, login),
    )
    return (str(rows[0][0] or ""), connection.moment(rows[0][1])) if rows else None


def admin_deals(connection: Connection) -> dict[int, tuple[set[str], set[str]]]:
    """Every deal with a team: its members' logins and its admins' (who may act on the web
    sessions of the members)."""
    found: dict[int, tuple[set[str], set[str]]] = {}
    for deal_id, login, roles in connection.rows("SELECT deal_id, login, roles FROM team_member"):
        members, admins = found.setdefault(int(deal_id), (set(), set()))
        members.add(str(login))
        if ADMIN in (roles or "").split(","):
            admins.add(str(login))
    return found


def put_member(connection: Connection, deal_id: int, member: Member, now: datetime) -> None:
    """Add `member`, or set its roles, name and e-mail when it is on the team already."""
    roles = ",".join(member.roles)
    changed = connection.execute(
        "UPDATE team_member SET roles = ?, name = coalesce(?, name), email = coalesce(?, email), "
        "changed_at = ? WHERE deal_id = ? AND login = ?",
        (roles, member.name, member.email, connection.bind_moment(now), deal_id, member.login),
    )
    if not changed:
        connection.execute(
            "INSERT INTO team_member (deal_id, login, roles, name, email, changed_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (deal_id, member.login, roles, member.name, member.email, connection.bind_moment(now)),
        )


def grant_database_role(connection: Connection, login: str, roles: tuple[str, ...]) -> None:
    """PostgreSQL: the login role exists (created if missing, without a password: the firm sets
    its password or certificate) and holds the privileges a team member needs, through the
    tables' owner's `closing_team_grants` (which checks that the caller is an admin)."""
    connection.execute("SELECT closing_team_grants(?, ?)", (login, ",".join(roles)))
