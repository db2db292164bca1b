"""The SQL of share links (`closing share`, `closing serve`): the `share` table, and what the live
board polls to notice that something changed. SQLAlchemy Core on the typed Table handles of
`closing.store.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, Table, func, select, update
from sqlalchemy.orm import Session

from closing.store.schema import ALERTS, DEAL_REVISIONS, EVENTS, PURCHASERS, SHARES


@dataclass(frozen=True)
class ShareRecord:
    """One share link as stored: never its token, only the token's SHA-256 and first characters."""

    id: int
    deal_id: int
    purchaser_id: int | None  # None: the whole deal, for the team
    purchaser_slug: str | None
    purchaser_name: str | None
    token_sha256: str
    token_start: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def team(self) -> bool:
        return self.purchaser_id is None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


_COLUMNS = (
    SHARES.c.id,
    SHARES.c.deal_id,
    SHARES.c.purchaser_id,
    PURCHASERS.c.slug,
    PURCHASERS.c.name,
    SHARES.c.token_sha256,
    SHARES.c.token_start,
    SHARES.c.created_at,
    SHARES.c.created_by,
    SHARES.c.revoked_at,
    SHARES.c.revoked_by,
)
_FROM = SHARES.outerjoin(PURCHASERS, PURCHASERS.c.id == SHARES.c.purchaser_id)


def insert_share(
    session: Session,
    *,
    deal_id: int,
    purchaser_id: int | None,
    token_sha256: str,
    token_start: str,
    created_at: datetime,
    created_by: str,
) -> int:
    insert = (
        SHARES.insert()
        .values(
            deal_id=deal_id,
            purchaser_id=purchaser_id,
            token_sha256=token_sha256,
            token_start=token_start,
            created_at=created_at,
            created_by=created_by,
        )
        .returning(SHARES.c.id)
    )
    share_id: int = session.execute(insert).scalar_one()
    return share_id


def shares_of(session: Session, deal_id: int, active_only: bool = False) -> list[ShareRecord]:
    """The deal's share links, oldest first."""
    query = select(*_COLUMNS).select_from(_FROM).where(SHARES.c.deal_id == deal_id)
    if active_only:
        query = query.where(SHARES.c.revoked_at.is_(None))
    return [ShareRecord(*row) for row in session.execute(query.order_by(SHARES.c.id))]


def share_by_id(session: Session, share_id: int) -> ShareRecord | None:
    query = select(*_COLUMNS).select_from(_FROM).where(SHARES.c.id == share_id)
    row = session.execute(query).first()
    return None if row is None else ShareRecord(*row)


def revoke_share(session: Session, share_id: int, at: datetime, by: str) -> bool:
    """Mark the link revoked; False when it already was."""
    revoked = session.execute(
        update(SHARES)
        .where(SHARES.c.id == share_id, SHARES.c.revoked_at.is_(None))
        .values(revoked_at=at, revoked_by=by)
        .returning(SHARES.c.id)
    ).first()
    return revoked is not None


# --- what the live board polls ------------------------------------------------------------------


def change_marker(session: Session, deal_id: int) -> tuple[int, ...]:
    """A tuple that changes whenever the board or who may see it can have changed: the deal's
    newest event, alert and deal file revision, its newest share link and how many are revoked.
    Ids only grow, so one indexed `max` each is enough (a few hundred microseconds)."""

    def newest(table: Table) -> ScalarSelect[Any]:
        query = select(func.coalesce(func.max(table.c.id), 0)).where(table.c.deal_id == deal_id)
        return query.scalar_subquery()

    query = select(
        newest(EVENTS),
        newest(ALERTS),
        newest(DEAL_REVISIONS),
        newest(SHARES),
        select(func.count())
        .where(SHARES.c.deal_id == deal_id, SHARES.c.revoked_at.is_not(None))
        .scalar_subquery(),
    )
    row = session.execute(query).one()
    return tuple(int(value or 0) for value in row)


@dataclass(frozen=True)
class RecentAlert:
    due_at: datetime
    purchaser_slug: str
    step: str
    title: str


def recent_alerts(session: Session, deal_id: int, limit: int) -> list[RecentAlert]:
    """The deal's latest alerts (collapsed ones left out), newest first."""
    query = (
        select(ALERTS.c.due_at, PURCHASERS.c.slug, ALERTS.c.step, ALERTS.c.title)
        .select_from(ALERTS.join(PURCHASERS, PURCHASERS.c.id == ALERTS.c.purchaser_id))
        .where(ALERTS.c.deal_id == deal_id, ALERTS.c.superseded.is_(False))
        .order_by(ALERTS.c.due_at.desc(), ALERTS.c.id.desc())
        .limit(limit)
    )
    return [RecentAlert(*row) for row in session.execute(query)]
