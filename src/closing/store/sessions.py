"""The statements on the web board's sign-in: one-time sign-in links, web sessions and the
server's secrets (`web_signin_link`, `web_session`, `web_secret`, migration 0011). Tokens are
kept as SHA-256 hashes only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from closing.domain.web_session import SigninLink, WebSession
from closing.store.connection import Connection

_LINK = "id, deal_id, login, created_at, created_by, expires_at, used_at"
_SESSION = (
    "id, login, how, csrf, signed_in_at, last_seen_at, expires_at, ended_at, ended_how, deal_id, "
    "link_by"
)
# A list of sessions (`closing team sessions`, which any member runs): without their CSRF
# secrets, which only the web server's role may read (on PostgreSQL, migration 0016).
_LISTED = _SESSION.replace("csrf", "'' AS csrf")


def add_link(
    connection: Connection,
    deal_id: int,
    login: str,
    digest: str,
    created_by: str,
    now: datetime,
    expires_at: datetime,
) -> int:
    connection.execute(
        "INSERT INTO web_signin_link (deal_id, login, token_sha256, created_at, created_by, "
        "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            deal_id,
            login,
            digest,
            connection.bind_moment(now),
            created_by,
            connection.bind_moment(expires_at),
        ),
    )
    return int(connection.value("SELECT id FROM web_signin_link WHERE token_sha256 = ?", (digest,)))


def _link(connection: Connection, row: tuple[Any, ...]) -> SigninLink:
    used = row[6]
    return SigninLink(
        row[0],
        row[1],
        row[2],
        connection.moment(row[3]),
        row[4],
        connection.moment(row[5]),
        None if used is None else connection.moment(used),
    )


def link_by_digest(connection: Connection, digest: str, lock: bool = False) -> SigninLink | None:
    sql = f"SELECT {_LINK} FROM web_signin_link WHERE token_sha256 = ?"
    rows = connection.rows(connection.for_update(sql) if lock else sql, (digest,))
    return _link(connection, rows[0]) if rows else None


def use_link(connection: Connection, link_id: int, now: datetime) -> bool:
    """Mark the link used; False when another request used it first."""
    changed = connection.execute(
        "UPDATE web_signin_link SET used_at = ? WHERE id = ? AND used_at IS NULL",
        (connection.bind_moment(now), link_id),
    )
    return changed == 1


def add_session(
    connection: Connection,
    digest: str,
    login: str,
    how: str,
    csrf: str,
    now: datetime,
    expires_at: datetime,
    deal_id: int | None = None,
    link_by: str | None = None,
) -> int:
    """A new session; `deal_id` and `link_by` those of the sign-in link that opened it."""
    moment = connection.bind_moment(now)
    connection.execute(
        "INSERT INTO web_session (token_sha256, login, how, csrf, signed_in_at, last_seen_at, "
        "expires_at, deal_id, link_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            digest,
            login,
            how,
            csrf,
            moment,
            moment,
            connection.bind_moment(expires_at),
            deal_id,
            link_by,
        ),
    )
    return int(connection.value("SELECT id FROM web_session WHERE token_sha256 = ?", (digest,)))


def _session(connection: Connection, row: tuple[Any, ...]) -> WebSession:
    ended = row[7]
    return WebSession(
        row[0],
        row[1],
        row[2],
        row[3],
        connection.moment(row[4]),
        connection.moment(row[5]),
        connection.moment(row[6]),
        None if ended is None else connection.moment(ended),
        row[8],
        None if row[9] is None else int(row[9]),
        row[10],
    )


def session_by_digest(connection: Connection, digest: str) -> WebSession | None:
    rows = connection.rows(f"SELECT {_SESSION} FROM web_session WHERE token_sha256 = ?", (digest,))
    return _session(connection, rows[0]) if rows else None


def touch_session(connection: Connection, session_id: int, now: datetime) -> None:
    connection.execute(
        "UPDATE web_session SET last_seen_at = ? WHERE id = ? AND ended_at IS NULL",
        (connection.bind_moment(now), session_id),
    )


def end_session(connection: Connection, session_id: int, now: datetime, how: str) -> None:
    connection.execute(
        "UPDATE web_session SET ended_at = ?, ended_how = ? WHERE id = ? AND ended_at IS NULL",
        (connection.bind_moment(now), how, session_id),
    )


def end_sessions_of(connection: Connection, login: str, now: datetime, how: str) -> int:
    """End every open session of `login`; how many."""
    return connection.execute(
        "UPDATE web_session SET ended_at = ?, ended_how = ? WHERE login = ? AND ended_at IS NULL",
        (connection.bind_moment(now), how, login),
    )


def open_sessions(connection: Connection, now: datetime | None) -> list[WebSession]:
    """The sessions not ended and not past their absolute end (idle ones included: the caller
    tells them apart), oldest first; with no `now`, every session ever opened. Their `csrf` is
    left empty."""
    where = "WHERE ended_at IS NULL AND expires_at > ? " if now is not None else ""
    rows = connection.rows(
        f"SELECT {_LISTED} FROM web_session {where}ORDER BY signed_in_at, id",
        (connection.bind_moment(now),) if now is not None else (),
    )
    return [_session(connection, row) for row in rows]


def secret(connection: Connection, name: str, made: str) -> str:
    """The server's secret `name`, stored as `made` by whichever server asks first."""
    found = connection.value("SELECT value FROM web_secret WHERE name = ?", (name,))
    if found is not None:
        return str(found)
    # Two servers starting at once: one insert loses (UniqueViolation); its caller asks again.
    connection.execute("INSERT INTO web_secret (name, value) VALUES (?, ?)", (name, made))
    return made


def deal_slugs_of(connection: Connection, login: str) -> list[tuple[str, str, str]]:
    """The deals whose team `login` is on with a role: (slug, title, roles), by slug."""
    rows = connection.rows(
        "SELECT d.slug, d.title, t.roles FROM team_member t JOIN deal d ON d.id = t.deal_id "
        "WHERE t.login = ? AND t.roles <> '' ORDER BY d.slug",
        (login,),
    )
    return [(str(slug), str(title), str(roles)) for slug, title, roles in rows]


def passkeys_required(connection: Connection, deal_id: int) -> bool:
    found = connection.value(
        "SELECT passkeys_required FROM web_deal_policy WHERE deal_id = ?", (deal_id,)
    )
    return bool(found)


def set_passkeys_required(
    connection: Connection, deal_id: int, required: bool, now: datetime, by: str
) -> None:
    moment = connection.bind_moment(now)
    changed = connection.execute(
        "UPDATE web_deal_policy SET passkeys_required = ?, changed_at = ?, changed_by = ? "
        "WHERE deal_id = ?",
        (required, moment, by, deal_id),
    )
    if not changed:
        connection.execute(
            "INSERT INTO web_deal_policy (deal_id, passkeys_required, changed_at, changed_by) "
            "VALUES (?, ?, ?, ?)",
            (deal_id, required, moment, by),
        )


def members_by_email(connection: Connection, address: str) -> list[tuple[int, str]]:
    """(deal id, login) of the team members with this e-mail address (any case), by deal slug."""
    rows = connection.rows(
        "SELECT t.deal_id, t.login FROM team_member t JOIN deal d ON d.id = t.deal_id "
        "WHERE lower(t.email) = ? ORDER BY d.slug, t.login",
        (address.strip().lower(),),
    )
    return [(int(deal_id), str(login)) for deal_id, login in rows]


def links_since(connection: Connection, since: datetime, login: str | None = None) -> int:
    """How many sign-in links were made since `since` (for `login`, or for anyone)."""
    sql = "SELECT count(*) FROM web_signin_link WHERE created_at > ?"
    params: list[object] = [connection.bind_moment(since)]
    if login is not None:
        sql += " AND login = ?"
        params.append(login)
    return int(connection.value(sql, params) or 0)
