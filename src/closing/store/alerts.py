"""Every statement of the alert side, as SQL on `closing.store.connection.Connection`: the ledger
and its deliveries (decide, claim, record, list, dismiss, retry), and the count of failing
deliveries the board shows. (The one-sender lock is `closing.store.sender_lease`; the deal files
the sender watches are read by `closing.store.deals`.)

Records are built from named columns: each SELECT lists the record's own fields, so a column added
to a table cannot shift them. The policy (what is due, when to retry, whose lease is alive) stays
with the callers in `closing.services.alerts`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

from closing.store.connection import Connection

if TYPE_CHECKING:
    from closing.domain.alert_plan import Key

DIGEST_STEP = "@digest"  # the step of a digest's own ledger row: no deal file step can be it
BATCH = 500  # ids (or rows) per statement: a bounded number of bound parameters
# A delivery left `sending` by a sender that stopped: its receiver may or may not have it.
MAY_HAVE_BEEN_SENT = "the attempt before may have been sent (its sender stopped mid-send)"


def _columns(fields: tuple[str, ...], sql: Mapping[str, str]) -> str:
    """The SELECT list of a record with these `fields`: one SQL expression per field, named and in
    the record's order (checked here, so a field added or moved on one side fails at import)."""
    if tuple(sql) != fields:
        raise RuntimeError(f"the columns {tuple(sql)} are not the record's {fields}")
    return ", ".join(sql.values())


def _marks(count: int) -> str:
    return ", ".join("?" * count)


# --- deciding: the ledger's keys, new alerts and their deliveries -------------------------------


def alert_keys(connection: Connection, deal_id: int) -> set[Key]:
    """The unique key (closing.domain.alert_plan.Key) of every occurrence in one deal's ledger
    (sent or superseded)."""
    moment = connection.moment
    rows = connection.rows(
        "SELECT purchaser_id, step, rule, deadline FROM alert WHERE deal_id = ?", (deal_id,)
    )
    return {(purchaser, step, rule, moment(deadline)) for purchaser, step, rule, deadline in rows}


class LedgerCache:
    """Each deal's ledger keys, kept by the sender between wake-ups. Only the sender holding the
    lock writes the ledger, so it reads it once and adds what it inserts; the unique key in the
    database still decides, and a conflict drops the cache."""

    def __init__(self) -> None:
        self._keys: dict[int, set[Key]] = {}
        self._plans = {}

    def keys(self, connection: Connection, deal_id: int) -> set[Key]:
        if deal_id not in self._keys:
            self._keys[deal_id] = alert_keys(connection, deal_id)
        return self._keys[deal_id]

    def add(self, deal_id: int, keys: list[Key]) -> None:
        if deal_id in self._keys:
            self._keys[deal_id].update(keys)

    def forget(self) -> None:
        """Read every deal's ledger again when it is next planned."""
        self._keys.clear()

    # Each deal's last plan: its change marker then and when its next alert falls due.
    _plans: dict[int, tuple[object, datetime | None]]

    def plan_of(self, deal_id: int, marker: object, now: datetime) -> tuple[datetime | None, bool]:
        """When the deal's next alert falls due as last planned, and whether that plan still
        holds: the deal has not changed since (`marker`) and nothing of it has fallen due."""
        found = self._plans.get(deal_id)
        if found is None or found[0] != marker:
            return None, False
        next_at = found[1]
        return next_at, next_at is None or now < next_at

    def planned(self, deal_id: int, marker: object, next_at: datetime | None) -> None:
        self._plans[deal_id] = (marker, next_at)

    def hold(self, deals: list[int]) -> None:
        """This sender now plans `deals`: what it knew of any other deal is dropped (another
        sender may write its ledger meanwhile, and hand it back later)."""
        for gone in set(self._plans) - set(deals):
            del self._plans[gone]
        for gone in set(self._keys) - set(deals):
            del self._keys[gone]


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


_ALERT_COLUMNS = tuple(NewAlert.__annotations__)  # the values of `_alert_values`, in order


class InsertedAlert(NamedTuple):
    id: int
    superseded: bool


def insert_alerts(connection: Connection, alerts: list[NewAlert]) -> list[InsertedAlert]:
    """Insert ledger rows in bulk; their ids, in the order given (the ids a statement assigns
    follow its rows). A key already in the ledger raises `UniqueViolation` (another sender
    decided it first); the transaction is then rolled back."""
    bind = connection.bind_moment
    rows_per_statement = BATCH // 4  # 12 values a row
    inserted: list[InsertedAlert] = []
    for start in range(0, len(alerts), rows_per_statement):
        some = alerts[start : start + rows_per_statement]
        values = [value for alert in some for value in _alert_values(alert, bind)]
        row = f"({_marks(len(_ALERT_COLUMNS))})"
        sql = (
            f"INSERT INTO alert ({', '.join(_ALERT_COLUMNS)}) VALUES "
            f"{', '.join([row] * len(some))} RETURNING id"
        )
        ids = sorted(int(found) for (found,) in connection.rows(sql, values))
        inserted += [
            InsertedAlert(id_, alert["superseded"]) for id_, alert in zip(ids, some, strict=True)
        ]
    return inserted


def _alert_values(alert: NewAlert, bind: Any) -> tuple[Any, ...]:
    return (
        alert["deal_id"],
        alert["purchaser_id"],
        alert["step"],
        alert["rule"],
        bind(alert["deadline"]),
        bind(alert["due_at"]),
        bind(alert["decided_at"]),
        alert["superseded"],
        alert["title"],
        alert["body"],
        alert["key"],
        alert["fields_json"],
    )


def insert_deliveries(
    connection: Connection,
    alert_ids: list[int],
    channels: Sequence[tuple[str, str]],
    now: datetime,
) -> None:
    """One pending delivery of each alert to each channel, given as (key, masked name)."""
    at = connection.bind_moment(now)
    connection.executemany(
        "INSERT INTO alert_delivery (alert_id, channel_key, channel, status, attempts, "
        "next_attempt_at) VALUES (?, ?, ?, 'pending', 0, ?)",
        [(alert_id, key, name, at) for alert_id in alert_ids for key, name in channels],
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
    purchaser_id: int
    step: str
    rule: str


_CLAIMABLE = _columns(
    Claimable._fields,
    {
        "delivery_id": "alert_delivery.id",
        "channel_key": "alert_delivery.channel_key",
        "channel": "alert_delivery.channel",
        "attempts": "alert_delivery.attempts",
        "alert_id": "alert.id",
        "title": "alert.title",
        "body": "alert.body",
        "fields_json": "alert.fields_json",
        "deal_id": "alert.deal_id",
        "deadline": "alert.deadline",
        "purchaser_id": "alert.purchaser_id",
        "step": "alert.step",
        "rule": "alert.rule",
    },
)


class Claiming(NamedTuple):
    """Whose deliveries a sender may claim: `deals` (None: every deal's) and, when senders share
    the deals, `live` (the senders alive: a delivery left `sending` by any other is taken over at
    once) and `holder` (this sender, recorded as the claimer)."""

    deals: Sequence[int] | None = None
    live: Sequence[str] | None = None
    holder: str | None = None


EVERY_DEAL = Claiming()  # a single sender: every deal's deliveries


def _is_claimable(claiming: Claiming) -> tuple[str, tuple[Any, ...]]:
    """New, due for a retry, or left mid-send by a sender that claimed it before the second
    moment (a killed one) or that is no longer alive. Two parameters come first: now, and the
    stale-before moment; the rest are returned."""
    sql = (
        "((alert_delivery.status IN ('pending', 'retrying') "
        "AND alert_delivery.next_attempt_at <= ?) "
        "OR (alert_delivery.status = 'sending' AND alert_delivery.claimed_at <= ?)"
    )
    params: tuple[Any, ...] = ()
    if claiming.live is not None:
        sql += (
            " OR (alert_delivery.status = 'sending' AND alert_delivery.claimed_by NOT IN "
            f"({_marks(len(claiming.live) or 1)}))"
        )
        params += tuple(claiming.live) or ("",)
    return sql + ")", params


def claimable(
    connection: Connection, now: datetime, stale_before: datetime, claiming: Claiming = EVERY_DEAL
) -> list[Claimable]:
    """Every claimable delivery (of `claiming.deals`), oldest alert first."""
    bind, moment = connection.bind_moment, connection.moment
    where, more = _is_claimable(claiming)
    params: tuple[Any, ...] = (bind(now), bind(stale_before), *more)
    if claiming.deals is not None:
        where += f" AND alert.deal_id IN ({_marks(len(claiming.deals) or 1)})"
        params += tuple(claiming.deals) or (0,)
    rows = connection.rows(
        f"SELECT {_CLAIMABLE} FROM alert_delivery JOIN alert ON alert.id = alert_delivery.alert_id "
        f"WHERE {where} ORDER BY alert.due_at, alert_delivery.id",
        params,
    )
    # The columns are Claimable's fields; the deadline read as an instant.
    return [
        Claimable._make((*row[:9], moment(row[9]), int(row[10]), str(row[11]), str(row[12])))
        for row in rows
    ]


def claim(
    connection: Connection,
    ids: list[int],
    now: datetime,
    stale_before: datetime,
    claiming: Claiming = EVERY_DEAL,
) -> set[int]:
    """Mark deliveries as being sent, an attempt more, before they are sent (their ids are
    returned): only those still claimable are taken, so two senders can never both send one. A
    delivery taken over from a sender that stopped mid-send keeps a note that its last attempt
    may have been sent (the receiver drops the repeat by the alert's key)."""
    at, stale = connection.bind_moment(now), connection.bind_moment(stale_before)
    where, more = _is_claimable(claiming)
    claimed: set[int] = set()
    for start in range(0, len(ids), BATCH):
        some = ids[start : start + BATCH]
        rows = connection.rows(
            "UPDATE alert_delivery SET status = 'sending', claimed_at = ?, claimed_by = ?, "
            "attempts = attempts + 1, last_error = CASE WHEN status = 'sending' THEN "
            f"'{MAY_HAVE_BEEN_SENT}' ELSE last_error END "
            f"WHERE id IN ({_marks(len(some))}) AND {where} RETURNING id",
            (at, claiming.holder, *some, at, stale, *more),
        )
        claimed.update(int(found) for (found,) in rows)
    return claimed


def record_attempt(
    connection: Connection,
    ids: list[int],
    status: str,
    attempts: int,
    last_error: str | None,
    delivered_at: datetime | None,
    next_attempt_at: datetime,
) -> None:
    """The outcome of one attempt on each of these deliveries."""
    bind = connection.bind_moment
    delivered = None if delivered_at is None else bind(delivered_at)
    for start in range(0, len(ids), BATCH):
        some = ids[start : start + BATCH]
        connection.execute(
            "UPDATE alert_delivery SET status = ?, attempts = ?, last_error = ?, "
            f"delivered_at = ?, next_attempt_at = ? WHERE id IN ({_marks(len(some))})",
            (status, attempts, last_error, delivered, bind(next_attempt_at), *some),
        )


def next_attempt_at(connection: Connection) -> datetime | None:
    """When the earliest pending or retrying delivery is next due."""
    found = connection.value(
        "SELECT min(next_attempt_at) FROM alert_delivery WHERE status IN ('pending', 'retrying')"
    )
    return None if found is None else connection.moment(found)


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


_LISTED_ALERT = _columns(
    ListedAlert._fields,
    {
        "id": "alert.id",
        "deal": "deal.slug",
        "purchaser": "purchaser.slug",
        "step": "alert.step",
        "rule": "alert.rule",
        "deadline": "alert.deadline",
        "due_at": "alert.due_at",
        "decided_at": "alert.decided_at",
        "title": "alert.title",
        "key": "alert.key",
        "superseded": "alert.superseded",
        "fields_json": "alert.fields_json",
    },
)


class ListedDelivery(NamedTuple):
    alert_id: int
    channel: str
    status: str
    attempts: int
    delivered_at: datetime | None
    last_error: str | None


def listed_alerts(connection: Connection, include_superseded: bool) -> list[ListedAlert]:
    """Every alert in the ledger with its deal's and purchaser's slugs, by due time."""
    sql = (
        f"SELECT {_LISTED_ALERT} FROM alert JOIN deal ON deal.id = alert.deal_id "
        "JOIN purchaser ON purchaser.id = alert.purchaser_id"
    )
    params: tuple[Any, ...] = ()
    if not include_superseded:
        sql += " WHERE alert.superseded = ?"
        params = (False,)
    moment = connection.moment
    return [
        ListedAlert(
            id_,
            deal,
            purchaser,
            step,
            rule,
            moment(deadline),
            moment(due_at),
            moment(decided_at),
            title,
            key,
            bool(superseded),
            fields_json,
        )
        for (
            id_,
            deal,
            purchaser,
            step,
            rule,
            deadline,
            due_at,
            decided_at,
            title,
            key,
            superseded,
            fields_json,
        ) in connection.rows(sql + " ORDER BY alert.due_at, alert.id", params)
    ]


def listed_deliveries(connection: Connection) -> list[ListedDelivery]:
    """Every delivery, in the order they were created."""
    moment = connection.moment
    rows = connection.rows(
        f"SELECT {', '.join(ListedDelivery._fields)} FROM alert_delivery ORDER BY id"
    )
    return [
        ListedDelivery(
            alert_id,
            channel,
            status,
            attempts,
            None if delivered_at is None else moment(delivered_at),
            last_error,
        )
        for alert_id, channel, status, attempts, delivered_at, last_error in rows
    ]


# --- a person's word on a delivery: dismiss, retry ---------------------------------------------


class AlertDelivery(NamedTuple):
    id: int
    channel: str
    status: str


def alert_exists(connection: Connection, alert_id: int) -> bool:
    return bool(connection.rows("SELECT 1 FROM alert WHERE id = ?", (alert_id,)))


def deliveries_of(connection: Connection, alert_id: int) -> list[AlertDelivery]:
    rows = connection.rows(
        f"SELECT {', '.join(AlertDelivery._fields)} FROM alert_delivery WHERE alert_id = ? "
        "ORDER BY id",
        (alert_id,),
    )
    return [AlertDelivery(*row) for row in rows]


def dismiss_deliveries(connection: Connection, ids: list[int], why: str) -> None:
    """These deliveries are `dismissed` (no longer tried, nor counted as failing), saying why."""
    for start in range(0, len(ids), BATCH):
        some = ids[start : start + BATCH]
        connection.execute(
            "UPDATE alert_delivery SET status = 'dismissed', last_error = ? "
            f"WHERE id IN ({_marks(len(some))})",
            (why, *some),
        )


def restart_deliveries(connection: Connection, ids: list[int], now: datetime) -> None:
    """These deliveries start over: pending, no attempts yet, due `now`."""
    at = connection.bind_moment(now)
    for start in range(0, len(ids), BATCH):
        some = ids[start : start + BATCH]
        connection.execute(
            "UPDATE alert_delivery SET status = 'pending', attempts = 0, next_attempt_at = ?, "
            f"last_error = NULL WHERE id IN ({_marks(len(some))})",
            (at, *some),
        )


# --- what the board counts -------------------------------


def failing_deliveries(connection: Connection, deal_id: int) -> int:
    """Alert deliveries of this deal that failed and have not gone out since."""
    count = connection.value(
        "SELECT count(*) FROM alert_delivery JOIN alert ON alert.id = alert_delivery.alert_id "
        "WHERE alert.deal_id = ? AND alert_delivery.status IN ('retrying', 'failed')",
        (deal_id,),
    )
    return int(count)
