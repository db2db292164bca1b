"""The SQL of share links (`closing share`, `closing serve`) on
`closing.store.connection.Connection`: the `share` table, and what the live board polls to notice
that something changed (the change marker, the recent alerts). Records are the domain's
(`closing.domain.share_link`), built from named columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from closing.domain.share_link import RecentAlert, ShareRecord
from closing.store.connection import Connection

_SHARE_COLUMNS = {
    "id": "share.id",
    "deal_id": "share.deal_id",
    "purchaser_id": "share.purchaser_id",
    "purchaser_slug": "purchaser.slug",
    "purchaser_name": "purchaser.name",
    "token_sha256": "share.token_sha256",
    "token_start": "share.token_start",
    "created_at": "share.created_at",
    "created_by": "share.created_by",
    "revoked_at": "share.revoked_at",
    "revoked_by": "share.revoked_by",
    "can_act": "share.can_act",
}
_SELECT_SHARES = (
    f"SELECT {', '.join(_SHARE_COLUMNS.values())} FROM share "
    "LEFT JOIN purchaser ON purchaser.id = share.purchaser_id"
)


def _share(connection: Connection, row: Sequence[Any]) -> ShareRecord:
    values = dict(zip(_SHARE_COLUMNS, row, strict=True))
    values["created_at"] = connection.moment(values["created_at"])
    values["can_act"] = bool(values["can_act"])
    if values["revoked_at"] is not None:
        values["revoked_at"] = connection.moment(values["revoked_at"])
    return ShareRecord(**values)


def insert_share(
    connection: Connection,
    *,
    deal_id: int,
    purchaser_id: int | None,
    token_sha256: str,
    token_start: str,
    created_at: datetime,
    created_by: str,
    can_act: bool = False,
) -> int:
    share_id = connection.value(
        "INSERT INTO share (deal_id, purchaser_id, token_sha256, token_start, created_at, "
        "created_by, can_act) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            deal_id,
            purchaser_id,
            token_sha256,
            token_start,
            connection.bind_moment(created_at),
            created_by,
            can_act,
        ),
    )
    return int(share_id)


def shares_of(connection: Connection, deal_id: int, active_only: bool = False) -> list[ShareRecord]:
    """The deal's share links, oldest first."""
    sql = f"{_SELECT_SHARES} WHERE share.deal_id = ?"
    if active_only:
        sql += " AND share.revoked_at IS NULL"
    return [
        _share(connection, row) for row in connection.rows(sql + " ORDER BY share.id", (deal_id,))
    ]


def share_by_id(connection: Connection, share_id: int) -> ShareRecord | None:
    found = connection.rows(f"{_SELECT_SHARES} WHERE share.id = ?", (share_id,))
    return _share(connection, found[0]) if found else None


def share_deal_slug(connection: Connection, digest: str) -> str | None:
    """The slug of the deal whose active share link has this token hash (`closing serve` of
    several deals: which board a link opens)."""
    found = connection.value(
        "SELECT deal.slug FROM share JOIN deal ON deal.id = share.deal_id "
        "WHERE share.token_sha256 = ? AND share.revoked_at IS NULL",
        (digest,),
    )
    return None if found is None else str(found)


def revoke_share(connection: Connection, share_id: int, at: datetime, by: str) -> bool:
    """Mark the link revoked; False when it already was."""
    changed = connection.execute(
        "UPDATE share SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
        (connection.bind_moment(at), by, share_id),
    )
    return changed > 0


# --- what the live board polls ------------------------------------------------------------------


def change_marker(connection: Connection, deal_id: int) -> tuple[int, ...]:
    """A tuple that changes whenever the board or who may see it can have changed: the deal's
    newest event, alert and deal file revision, its newest share link and how many are revoked.
    Ids only grow, so one indexed `max` each is enough (a few hundred microseconds)."""
    newest = [
        f"(SELECT coalesce(max(id), 0) FROM {table} WHERE deal_id = ?)"
        for table in ("event", "alert", "deal_revision", "share")
    ]
    revoked = "(SELECT count(*) FROM share WHERE deal_id = ? AND revoked_at IS NOT NULL)"
    row = connection.rows(f"SELECT {', '.join([*newest, revoked])}", (deal_id,) * 5)[0]
    return tuple(int(value or 0) for value in row)


def recent_alerts(
    connection: Connection, deal_id: int, limit: int, until: datetime
) -> list[RecentAlert]:
    """The deal's latest alerts due by `until` (collapsed ones left out), newest first."""
    rows = connection.rows(
        "SELECT alert.due_at, alert.deadline, purchaser.slug, alert.step, alert.title FROM alert "
        "JOIN purchaser ON purchaser.id = alert.purchaser_id "
        "WHERE alert.deal_id = ? AND alert.superseded = ? AND alert.due_at <= ? "
        f"ORDER BY alert.due_at DESC, alert.id DESC LIMIT {int(limit)}",
        (deal_id, False, connection.bind_moment(until)),
    )
    moment = connection.moment
    return [
        RecentAlert(moment(due_at), moment(deadline), slug, step, title)
        for due_at, deadline, slug, step, title in rows
    ]
