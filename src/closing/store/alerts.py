"""Every statement of the alert side: the ledger and its deliveries (decide, claim, record, list),
the one-sender lock (the SQLite lease row, the PostgreSQL advisory lock) and the daemon's read of
the deal files it watches.

Statements are SQLAlchemy Core against the `Table` handles of `closing.store.schema`, run with
`session.execute`; rows come back as records built by column name. The policy (what is due, when
to retry, whose lease is alive) stays with the callers in `closing.services.alerts`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict, TypeVar

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.engine import Connection, Engine, Result
from sqlalchemy.orm import Session

from closing.store import connection as driver
from closing.store.schema import ALERTS, DEALS, DELIVERIES, PURCHASERS, SENDERS

if TYPE_CHECKING:
    from closing.domain.alert_plan import Key

DIGEST_STEP = "@digest"  # the step of a digest's own ledger row: no deal file step can be it
BATCH = 500  # ids per statement (SQLite allows a limited number of bound parameters)
R = TypeVar("R")


def _records(
    result: Result[Any], make: Callable[[Iterable[Any]], R], names: Sequence[str]
) -> list[R]:
    """The rows as records, matched by column name: the statement's columns must be the
    record's fields, by name and in order (checked once per statement, so a column added or moved
    on one side fails here), and each row is then built at the speed of a tuple (a first wake-up
    on a large deal reads tens of thousands of rows; `Record(**row._mapping)` costs 10x)."""
    columns = tuple(result.keys())
    if columns != tuple(names):
        raise RuntimeError(f"the statement's columns {columns} are not the record's {names}")
    return list(map(make, result))


# --- deciding: the ledger's keys, new alerts and their deliveries -------------------------------


class StoredDeal(NamedTuple):
    """The columns of a `deal` row that a `Deal` is built from."""

    id: int
    slug: str
    terms_json: str
    closures_json: str
    created_at: datetime


def stored_deal(session: Session, deal_id: int) -> StoredDeal | None:
    query = select(
        DEALS.c.id, DEALS.c.slug, DEALS.c.terms_json, DEALS.c.closures_json, DEALS.c.created_at
    ).where(DEALS.c.id == deal_id)
    found = _records(session.execute(query), StoredDeal._make, StoredDeal._fields)
    return found[0] if found else None


KEY_COLUMNS = ("purchaser_id", "step", "rule", "deadline")  # closing.domain.alert_plan.Key


def alert_keys(session: Session, deal_id: int) -> set[Key]:
    """The unique key of every occurrence in one deal's ledger (sent or superseded)."""
    query = select(*(ALERTS.c[name] for name in KEY_COLUMNS)).where(ALERTS.c.deal_id == deal_id)
    return set(_records(session.execute(query), tuple, KEY_COLUMNS))


class LedgerCache:
    """Each deal's ledger keys, kept by the sender between wake-ups. Only the sender holding the
    lock writes the ledger, so it reads it once and adds what it inserts; the unique key in the
    database still decides, and a conflict drops the cache."""

    def __init__(self) -> None:
        self._keys: dict[int, set[Key]] = {}

    def keys(self, session: Session, deal_id: int) -> set[Key]:
        if deal_id not in self._keys:
            self._keys[deal_id] = alert_keys(session, deal_id)
        return self._keys[deal_id]

    def add(self, deal_id: int, keys: list[Key]) -> None:
        if deal_id in self._keys:
            self._keys[deal_id].update(keys)

    def forget(self) -> None:
        self._keys.clear()


class NewAlert(TypedDict):
    """The values of one ledger row to insert."""

    deal_id: int
    purchaser_id: int
    step: str
    rule: str
    deadline: datetime
    due_at: datetime
    decided_at: datetime
    superseded: bool
    title: str
    body: str
    key: str
    fields_json: str


class InsertedAlert(NamedTuple):
    id: int
    superseded: bool


def insert_alerts(session: Session, alerts: list[NewAlert]) -> list[InsertedAlert]:
    """Insert ledger rows in bulk; their ids, in the order given. A key already in the ledger
    raises IntegrityError (another sender decided it first)."""
    inserted = session.execute(
        ALERTS.insert().returning(ALERTS.c.id, ALERTS.c.superseded, sort_by_parameter_order=True),
        alerts,
    )
    return _records(inserted, InsertedAlert._make, InsertedAlert._fields)


def insert_deliveries(
    session: Session, alert_ids: list[int], channels: Sequence[tuple[str, str]], now: datetime
) -> None:
    """One pending delivery of each alert to each channel, given as (key, masked name)."""
    if not alert_ids or not channels:
        return  # an empty list would be an INSERT of one row of defaults
    session.execute(
        DELIVERIES.insert(),
        [
            {
                "alert_id": alert_id,
                "channel_key": key,
                "channel": name,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for alert_id in alert_ids
            for key, name in channels
        ],
    )


# --- delivering: claims and outcomes -----------------------------------------------------------


class Claimable(NamedTuple):
    """A delivery nobody is sending, with what its alert says."""

    delivery_id: int
    channel_key: str
    channel: str
    attempts: int
    alert_id: int
    title: str
    body: str
    fields_json: str
    deal_id: int
    deadline: datetime


def _claimable(now: datetime, stale_before: datetime) -> ColumnElement[bool]:
    """New, due for a retry, or left mid-send by a sender that claimed it before `stale_before`
    (a killed one)."""
    return or_(
        DELIVERIES.c.status.in_(["pending", "retrying"]) & (DELIVERIES.c.next_attempt_at <= now),
        (DELIVERIES.c.status == "sending") & (DELIVERIES.c.claimed_at <= stale_before),
    )


def claimable(session: Session, now: datetime, stale_before: datetime) -> list[Claimable]:
    """Every claimable delivery, oldest alert first."""
    query = (
        select(
            DELIVERIES.c.id.label("delivery_id"),
            DELIVERIES.c.channel_key,
            DELIVERIES.c.channel,
            DELIVERIES.c.attempts,
            ALERTS.c.id.label("alert_id"),
            ALERTS.c.title,
            ALERTS.c.body,
            ALERTS.c.fields_json,
            ALERTS.c.deal_id,
            ALERTS.c.deadline,
        )
        .select_from(DELIVERIES.join(ALERTS))
        .where(_claimable(now, stale_before))
        .order_by(ALERTS.c.due_at, DELIVERIES.c.id)
    )
    return _records(session.execute(query), Claimable._make, Claimable._fields)


def claim(session: Session, ids: list[int], now: datetime, stale_before: datetime) -> set[int]:
    """Mark deliveries as being sent; only those still claimable are taken (their ids are
    returned), so two senders can never both send one."""
    claimed: set[int] = set()
    for start in range(0, len(ids), BATCH):
        result = session.execute(
            DELIVERIES.update()
            .where(DELIVERIES.c.id.in_(ids[start : start + BATCH]), _claimable(now, stale_before))
            .values(status="sending", claimed_at=now)
            .returning(DELIVERIES.c.id)
        )
        claimed.update(row.id for row in result)
    return claimed


def record_attempt(
    session: Session,
    ids: list[int],
    status: str,
    attempts: int,
    last_error: str | None,
    delivered_at: datetime | None,
    next_attempt_at: datetime,
) -> None:
    """The outcome of one attempt on each of these deliveries."""
    for start in range(0, len(ids), BATCH):
        session.execute(
            DELIVERIES.update()
            .where(DELIVERIES.c.id.in_(ids[start : start + BATCH]))
            .values(
                status=status,
                attempts=attempts,
                last_error=last_error,
                delivered_at=delivered_at,
                next_attempt_at=next_attempt_at,
            )
        )


def next_attempt_at(session: Session) -> datetime | None:
    """When the earliest pending or retrying delivery is next due."""
    query = select(func.min(DELIVERIES.c.next_attempt_at)).where(
        DELIVERIES.c.status.in_(["pending", "retrying"])
    )
    moment: datetime | None = session.execute(query).scalar_one_or_none()
    return moment


# --- listing the ledger ------------------------------------------------------------------------


class ListedAlert(NamedTuple):
    id: int
    deal: str
    purchaser: str
    step: str
    rule: str
    deadline: datetime
    due_at: datetime
    decided_at: datetime
    title: str
    key: str
    superseded: bool
    fields_json: str


class ListedDelivery(NamedTuple):
    alert_id: int
    channel: str
    status: str
    attempts: int
    delivered_at: datetime | None
    last_error: str | None


def listed_alerts(session: Session, include_superseded: bool) -> list[ListedAlert]:
    """Every alert in the ledger with its deal's and purchaser's slugs, by due time."""
    query = (
        select(
            ALERTS.c.id,
            DEALS.c.slug.label("deal"),
            PURCHASERS.c.slug.label("purchaser"),
            ALERTS.c.step,
            ALERTS.c.rule,
            ALERTS.c.deadline,
            ALERTS.c.due_at,
            ALERTS.c.decided_at,
            ALERTS.c.title,
            ALERTS.c.key,
            ALERTS.c.superseded,
            ALERTS.c.fields_json,
        )
        .join(DEALS, DEALS.c.id == ALERTS.c.deal_id)
        .join(PURCHASERS, PURCHASERS.c.id == ALERTS.c.purchaser_id)
        .order_by(ALERTS.c.due_at, ALERTS.c.id)
    )
    if not include_superseded:
        query = query.where(ALERTS.c.superseded.is_(False))
    return _records(session.execute(query), ListedAlert._make, ListedAlert._fields)


def listed_deliveries(session: Session) -> list[ListedDelivery]:
    """Every delivery, in the order they were created."""
    query = select(
        DELIVERIES.c.alert_id,
        DELIVERIES.c.channel,
        DELIVERIES.c.status,
        DELIVERIES.c.attempts,
        DELIVERIES.c.delivered_at,
        DELIVERIES.c.last_error,
    ).order_by(DELIVERIES.c.id)
    return _records(session.execute(query), ListedDelivery._make, ListedDelivery._fields)


# --- a person's word on a delivery: dismiss, retry ---------------------------------------------


class AlertDelivery(NamedTuple):
    id: int
    channel: str
    status: str


def alert_exists(session: Session, alert_id: int) -> bool:
    return session.execute(select(ALERTS.c.id).where(ALERTS.c.id == alert_id)).first() is not None


def deliveries_of(session: Session, alert_id: int) -> list[AlertDelivery]:
    query = (
        select(DELIVERIES.c.id, DELIVERIES.c.channel, DELIVERIES.c.status)
        .where(DELIVERIES.c.alert_id == alert_id)
        .order_by(DELIVERIES.c.id)
    )
    return _records(session.execute(query), AlertDelivery._make, AlertDelivery._fields)


def dismiss_deliveries(session: Session, ids: list[int], why: str) -> None:
    """These deliveries are `dismissed` (no longer tried, nor counted as failing), saying why."""
    session.execute(
        DELIVERIES.update()
        .where(DELIVERIES.c.id.in_(ids))
        .values(status="dismissed", last_error=why)
    )


def restart_deliveries(session: Session, ids: list[int], now: datetime) -> None:
    """These deliveries start over: pending, no attempts yet, due `now`."""
    session.execute(
        DELIVERIES.update()
        .where(DELIVERIES.c.id.in_(ids))
        .values(status="pending", attempts=0, next_attempt_at=now, last_error=None)
    )


# --- the one-sender lock -----------------------------------------------------------------------


class Sender(NamedTuple):
    """Who sends alerts for this database: the lease row (SQLite), or the record kept next to the
    advisory lock (PostgreSQL)."""

    name: str
    holder: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


def sender(session: Session, name: str) -> Sender | None:
    query = select(*(SENDERS.c[field] for field in Sender._fields)).where(SENDERS.c.name == name)
    found = _records(session.execute(query), Sender._make, Sender._fields)
    return found[0] if found else None


def write_sender(session: Session, record: Sender, exists: bool) -> None:
    """The lock's row now says `record`: inserted, or the existing row of that name replaced."""
    if exists:
        statement = SENDERS.update().where(SENDERS.c.name == record.name)
        session.execute(statement.values(**record._asdict()))
    else:
        session.execute(SENDERS.insert().values(**record._asdict()))


def renew_sender(session: Session, name: str, now: datetime) -> None:
    session.execute(SENDERS.update().where(SENDERS.c.name == name).values(heartbeat_at=now))


def delete_sender(session: Session, name: str) -> None:
    session.execute(SENDERS.delete().where(SENDERS.c.name == name))


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock, held on a connection of its own for as long as
    that connection lives: it goes when the process or the connection dies."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def try_take(self, key: int) -> bool:
        """Take the lock without waiting; False when another connection holds it. One sender
        per closing database, which is a schema: two schemas of one PostgreSQL database must not
        hold each other off."""
        if self._connection is None:
            self._connection = self._engine.connect()
        got = self._connection.execute(
            text("SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))"), {"key": key}
        ).scalar_one()
        self._connection.commit()
        return bool(got)

    def alive(self) -> bool:
        """Whether the connection, and so the lock, is still there."""
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Close the connection, which releases the lock."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# --- the daemon's watch on deal files ----------------------------------------------------------


class DealSource(NamedTuple):
    slug: str
    source_path: str
    source_sha256: str


def deal_sources(session: Session) -> list[DealSource]:
    """Each deal's file and the digest of the text it was last loaded from."""
    query = select(DEALS.c.slug, DEALS.c.source_path, DEALS.c.source_sha256)
    return _records(session.execute(query), DealSource._make, DealSource._fields)


def failing_deliveries(reader: driver.Connection, deal_id: int) -> int:
    """Alert deliveries of this deal that failed and have not gone out since."""
    (count,) = reader.rows(
        "SELECT count(*) FROM alert_delivery JOIN alert ON alert.id = alert_delivery.alert_id "
        "WHERE alert.deal_id = ? AND alert_delivery.status IN ('retrying', 'failed')",
        (deal_id,),
    )[0]
    return int(count)
