"""The statements on the team's passkeys (`web_passkey`) and the WebAuthn challenges handed to
browsers (`web_challenge`, each taken once)."""

from __future__ import annotations

from datetime import datetime

from closing.store.connection import Connection


def add_passkey(
    connection: Connection,
    login: str,
    credential_id: str,
    public_key: str,
    count: int,
    now: datetime,
) -> int:
    connection.execute(
        "INSERT INTO web_passkey (login, credential_id, public_key, sign_count, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (login, credential_id, public_key, count, connection.bind_moment(now)),
    )
    return int(
        connection.value("SELECT id FROM web_passkey WHERE credential_id = ?", (credential_id,))
    )


def passkey(connection: Connection, credential_id: str) -> tuple[int, str, str, int] | None:
    """(id, login, public key, signature counter) of the passkey with this credential id."""
    rows = connection.rows(
        connection.for_update(
            "SELECT id, login, public_key, sign_count FROM web_passkey WHERE credential_id = ?"
        ),
        (credential_id,),
    )
    return (int(rows[0][0]), str(rows[0][1]), str(rows[0][2]), int(rows[0][3])) if rows else None


def credential_ids(connection: Connection, login: str) -> list[str]:
    rows = connection.rows(
        "SELECT credential_id FROM web_passkey WHERE login = ? ORDER BY id", (login,)
    )
    return [str(row[0]) for row in rows]


def used_passkey(connection: Connection, passkey_id: int, count: int, now: datetime) -> None:
    connection.execute(
        "UPDATE web_passkey SET sign_count = ?, last_used_at = ? WHERE id = ?",
        (count, connection.bind_moment(now), passkey_id),
    )


def add_challenge(
    connection: Connection, challenge: str, purpose: str, login: str | None, expires: datetime
) -> None:
    connection.execute(
        "INSERT INTO web_challenge (challenge, purpose, login, expires_at) VALUES (?, ?, ?, ?)",
        (challenge, purpose, login, connection.bind_moment(expires)),
    )


def forget_expired_challenges(connection: Connection, now: datetime) -> None:
    connection.execute(
        "DELETE FROM web_challenge WHERE expires_at <= ?", (connection.bind_moment(now),)
    )


def challenges_out(connection: Connection) -> int:
    """How many challenges are kept (handed out, not yet answered)."""
    return int(connection.value("SELECT count(*) FROM web_challenge") or 0)


def take_challenge(
    connection: Connection, challenge: str, purpose: str, now: datetime
) -> tuple[str | None] | None:
    """The challenge's login (as a 1-tuple) if it was handed out for `purpose` and has not
    expired; it is deleted either way (a challenge is used once; the expired ones go when the
    next is handed out)."""
    rows = connection.rows(
        "SELECT purpose, login, expires_at FROM web_challenge WHERE challenge = ?", (challenge,)
    )
    connection.execute("DELETE FROM web_challenge WHERE challenge = ?", (challenge,))
    if not rows or rows[0][0] != purpose or connection.moment(rows[0][2]) <= now:
        return None
    return (rows[0][1],)
