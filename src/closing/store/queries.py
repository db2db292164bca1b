"""Every statement on deals, purchasers and the event log for a SQLAlchemy session (the alert
ledger's are in `closing.store.alerts`).

Those a board, a mark or a bank-file import runs are written once, as SQL on the driver's own
connection, in `closing.store.direct` (which `closing status` and the marks also run on a SQLite
file
without SQLAlchemy); the functions here hand them the session's connection (`reader`). The rest
are SQLAlchemy Core against the typed tables of `closing.store.schema`. Records are built from the
columns named by the record's own fields, so a column added to a table cannot shift them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from closing.domain.chain import Stored
from closing.domain.deal import Deal
from closing.domain.events import Event, Purchaser
from closing.store import direct, schema
from closing.store.connection import Connection
from closing.store.schema import DEALS, EVENTS, PURCHASERS, VERIFICATIONS

_DEAL_COLUMNS = [DEALS.c[name] for name in ("id", "slug", "terms_json", "closures_json")]
_EVENT_COLUMNS = [EVENTS.c[name] for name in Event._fields]


def reader(session: Session) -> Connection:
    """The session's driver connection, in its transaction, for the reads of `closing.store.direct`
    (which `closing status` also runs on a SQLite file without SQLAlchemy)."""
    connection = session.connection()
    return Connection(connection.connection.driver_connection, connection.dialect.name)


def _deal(row: Any) -> Deal:
    m = row._mapping
    return Deal.from_stored(
        m["id"], m["slug"], m["terms_json"], m["closures_json"], m["created_at"]
    )


def deals_where(
    session: Session, *where: ColumnElement[bool], limit: int | None = None
) -> list[Deal]:
    """The deals matching `where`, by slug."""
    query = select(*_DEAL_COLUMNS, DEALS.c.created_at).where(*where)
    return [_deal(row) for row in session.execute(query.order_by(DEALS.c.slug).limit(limit))]


def deal_by_id(session: Session, deal_id: int) -> Deal:
    return deals_where(session, DEALS.c.id == deal_id)[0]


@dataclass(frozen=True)
class StoredDeal:
    """A deal row as `closing init` compares it with the file."""

    id: int
    title: str
    terms_json: str
    source_path: str
    source_sha256: str


def stored_deal(session: Session, slug: str) -> StoredDeal | None:
    names = [f.name for f in fields(StoredDeal)]
    row = session.execute(
        select(*[DEALS.c[name] for name in names]).where(DEALS.c.slug == slug)
    ).first()
    return None if row is None else StoredDeal(**row._mapping)


def insert_deal(session: Session, **values: Any) -> int:
    deal_id: int = session.execute(
        DEALS.insert().values(**values).returning(DEALS.c.id)
    ).scalar_one()
    return deal_id


def update_deal(session: Session, deal_id: int, **values: Any) -> None:
    session.execute(DEALS.update().where(DEALS.c.id == deal_id).values(**values))


def insert_revision(
    session: Session, deal_id: int, loaded_at: datetime, source_sha256: str, changes: str
) -> None:
    session.execute(
        schema.DEAL_REVISIONS.insert().values(
            deal_id=deal_id, loaded_at=loaded_at, source_sha256=source_sha256, changes=changes
        )
    )


def counts_by_deal(session: Session) -> tuple[dict[int, int], dict[int, int]]:
    """Active purchasers and events, per deal id."""
    purchasers = session.execute(
        select(PURCHASERS.c.deal_id, func.count())
        .where(PURCHASERS.c.active, PURCHASERS.c.role == "purchaser")
        .group_by(PURCHASERS.c.deal_id)
    )
    events = session.execute(select(EVENTS.c.deal_id, func.count()).group_by(EVENTS.c.deal_id))
    return (
        {deal_id: count for deal_id, count in purchasers},
        {deal_id: count for deal_id, count in events},
    )


# --- purchasers --------------------------------------------------------------------------------


def purchasers_of(session: Session, deal_id: int, active_only: bool = True) -> list[Purchaser]:
    """The deal's purchasers in Schedule 1 order (not the company's row)."""
    return parties_of(session, deal_id, active_only)[0]


def parties_of(
    session: Session, deal_id: int, active_only: bool = True
) -> tuple[list[Purchaser], Purchaser | None]:
    """The deal's purchasers in Schedule 1 order (the active ones unless `active_only` is False)
    and the company's row, in one statement."""
    return direct.parties(reader(session), deal_id, active_only)


def company_of(session: Session, deal_id: int) -> Purchaser | None:
    """The row that holds the deal's own steps and their events."""
    return direct.party_where(reader(session), deal_id)


def insert_purchasers(session: Session, deal_id: int, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(PURCHASERS.insert(), [{"deal_id": deal_id, **row} for row in rows])


def update_purchaser(session: Session, purchaser_id: int, **values: Any) -> None:
    session.execute(PURCHASERS.update().where(PURCHASERS.c.id == purchaser_id).values(**values))


def lock_purchaser(session: Session, purchaser_id: int) -> str:
    """Serialise writers on one purchaser (a row lock on PostgreSQL; SQLite already holds the
    database lock from BEGIN IMMEDIATE and ignores FOR UPDATE); returns the head hash of its
    event chain, which the next event links to."""
    return lock_chain_head(session, purchaser_id)[1]


def lock_chain_head(session: Session, purchaser_id: int) -> tuple[int, str]:
    """`lock_purchaser`, returning the head's seq too (for a writer that need not replay)."""
    return direct.lock_chain_head(reader(session), purchaser_id)


# --- the event log -----------------------------------------------------------------------------


def events_by_purchaser(
    session: Session, deal_id: int, as_of: datetime | None = None
) -> dict[int, list[Event]]:
    """Each purchaser's events in order; only those recorded by `as_of` when it is given."""
    return direct.events_by_party(reader(session), deal_id, as_of)


def purchaser_events(session: Session, purchaser_id: int) -> list[Event]:
    return direct.party_events(reader(session), purchaser_id)


def deal_events(session: Session, deal_id: int) -> list[Event]:
    """Every event of the deal in the order it was appended."""
    return direct.deal_events(reader(session), deal_id)


def append_event(
    session: Session, deal: Deal, party: Purchaser, event: Event, prev_hash: str
) -> Event:
    """Append one event (never update, never delete), chained to `prev_hash`, and move the
    party's head to it; returns it with its id."""
    return direct.append_event(reader(session), deal.id, deal.slug, party, event, prev_hash)


def append_events(
    session: Session, deal: Deal, chained: Sequence[tuple[Purchaser, Event, str]]
) -> list[Event]:
    """`append_event` for many events in a few statements (an import of a bank file records
    thousands of wires), each chained to the hash given with it, or to the event before it in
    `chained` for the same party."""
    return direct.append_events(reader(session), deal.id, deal.slug, chained)


@dataclass(frozen=True)
class Chain:
    """One party's chain as stored: its events with their hashes, and the head it records."""

    party: str
    head_seq: int
    head_hash: str | None
    events: list[Stored]


def chains(session: Session, deal_id: int) -> list[Chain]:
    """Every party's chain of the deal (the company's first), for `closing verify`."""
    parties = session.execute(
        select(PURCHASERS.c.id, PURCHASERS.c.slug, PURCHASERS.c.head_seq, PURCHASERS.c.head_hash)
        .where(PURCHASERS.c.deal_id == deal_id)
        .order_by(PURCHASERS.c.position)
    ).all()
    rows = session.execute(
        select(*_EVENT_COLUMNS, EVENTS.c.prev_hash, EVENTS.c.hash)
        .where(EVENTS.c.deal_id == deal_id)
        .order_by(EVENTS.c.purchaser_id, EVENTS.c.seq)
    )
    width = len(_EVENT_COLUMNS)
    by_party: dict[int, list[Stored]] = {}
    for row in rows:
        event = Event._make(row[:width])
        stored = Stored(event, row[width], row[width + 1])
        by_party.setdefault(event.purchaser_id, []).append(stored)
    return [
        Chain(slug, head_seq, head_hash, by_party.get(pid, []))
        for pid, slug, head_seq, head_hash in parties
    ]


def record_verification(
    session: Session, deal_id: int, at: datetime, ok: bool, events: int, detail: str
) -> None:
    session.execute(
        VERIFICATIONS.insert().values(
            deal_id=deal_id, verified_at=at, ok=ok, events=events, detail=detail
        )
    )


# --- what the board needs of the alert ledger --------------------------------------------------


# --- the record for the closing memo and the binder export -------------------------------------


def deal_revisions(session: Session, deal_id: int) -> list[tuple[datetime, str, str]]:
    """(loaded at, the file's SHA-256, the changes as a JSON list) of each load that changed the
    deal, oldest first."""
    query = (
        select(
            schema.DEAL_REVISIONS.c.loaded_at,
            schema.DEAL_REVISIONS.c.source_sha256,
            schema.DEAL_REVISIONS.c.changes,
        )
        .where(schema.DEAL_REVISIONS.c.deal_id == deal_id)
        .order_by(schema.DEAL_REVISIONS.c.id)
    )
    return [(row[0], row[1], row[2]) for row in session.execute(query)]
