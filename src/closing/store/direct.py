"""The statements of a board, a mark and a bank-file import, in SQL through the database driver
itself (sqlite3, psycopg), and how values are stored.

One implementation serves two callers. A SQLAlchemy session hands over its driver connection
(`closing.store.queries.reader`), inside its own transaction, on SQLite and PostgreSQL alike. And
`closing status`, the marks and `wires import` on a plain SQLite file open it with the standard
library's sqlite3 (`on_sqlite_file`) and never import SQLAlchemy or SQLModel: importing them is
most of the time a small command takes. Anything out of the ordinary (an old schema, a URL with
options, a file that is not there, a driver error) is left to the SQLAlchemy path, which knows how
to upgrade, explain and refuse.

Values are stored and read back by the same functions the column types of `closing.store.schema`
call: UTC-aware datetimes (UTC text on SQLite), exact Decimal money (text on SQLite, NUMERIC on
PostgreSQL) and booleans; a test holds the two paths to the same records.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from closing.domain.chain import GENESIS, event_hash
from closing.domain.deal import Deal
from closing.domain.errors import DatabaseError
from closing.domain.events import Event, Purchaser
from closing.store.connection import HEAD, Connection
from closing.store.values import money

T = TypeVar("T")

# The Alembic revisions, oldest first (closing/migrations/versions). Kept here so that checking
# the schema on every command imports neither Alembic nor SQLAlchemy; a test keeps the two in step.

_PURCHASER_NAMES = [f.name for f in fields(Purchaser)]
_PURCHASERS = ", ".join(_PURCHASER_NAMES)
_EVENTS = ", ".join(Event._fields)
_APPENDED = ", ".join(Event._fields[1:])  # the row id is the database's
_MONEY_AT = Event._fields.index("amount")
_OCCURRED_AT, _RECORDED_AT = Event._fields.index("occurred_at"), Event._fields.index("recorded_at")
_PRICE_AT, _ACTIVE_AT = _PURCHASER_NAMES.index("purchase_price"), _PURCHASER_NAMES.index("active")


# --- opening a SQLite file without SQLAlchemy ---------------------------------------------------


LOCK_WAIT = 30.0  # seconds a writer waits for another's lock, as the store's busy_timeout


def _locked(url: str, error: sqlite3.Error) -> DatabaseError | None:
    """The store's own refusal for a database another writer held past the wait (the store,
    tried next, would only wait as long again)."""
    if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
        return DatabaseError.failed(url, str(error))
    return None


def open_sqlite(url: str, write: bool = False) -> Connection | None:
    """A reader on the SQLite file of a plain `sqlite:///PATH` URL, in a transaction, when the
    file is there and at this closing's schema; None for anything else (the SQLAlchemy path then
    opens it, upgrades it or says what is wrong). Never creates a file. A writer begins with
    `BEGIN IMMEDIATE`, as the store's writers do: two marks at once are serialised."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :]
    if not path or path == ":memory:" or any(c in path for c in "?#%") or path.startswith("file:"):
        return None
    if not Path(path).is_file():
        return None
    try:
        connection = sqlite3.connect(
            f"file:{quote(path)}?mode=rw", uri=True, timeout=LOCK_WAIT, isolation_level=None
        )
    except sqlite3.Error:
        return None
    try:
        connection.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT * 1000)}")
        if write:
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA journal_mode=WAL")  # as the store's writers set it
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        if [row[0] for row in revision] == [HEAD]:
            return Connection(connection, "sqlite")
    except sqlite3.Error as error:
        locked = _locked(url, error)
        if locked is not None:
            connection.close()
            raise locked from None
    connection.close()  # ends the transaction: nothing was written
    return None


def close(reader: Connection, commit: bool = False) -> None:
    """End the transaction of a connection `open_sqlite` opened (committed, or rolled back) and
    close it; again does nothing. A failed commit raises: what it would have written is not
    there."""
    connection = reader.driver
    if getattr(reader, "closed", False):
        return
    reader.closed = True  # type: ignore[attr-defined]
    try:
        if commit:
            connection.execute("COMMIT")
    finally:
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # a failed statement ended it already
                connection.execute("ROLLBACK")
        connection.close()


def on_sqlite_file(url: str, work: Callable[[Connection], T], write: bool = False) -> T | None:
    """`work(reader)` in one transaction on a plain SQLite file, opened with the standard
    library's driver, committed when it returns (a writer's) and rolled back when it raises;
    None, with nothing written, when the database is not one it can use that way (not SQLite,
    another schema, a driver error): the caller then goes through the store. A lock another
    writer held past `LOCK_WAIT` is refused here (`DatabaseError`), not waited for twice."""
    reader = open_sqlite(url, write=write)
    if reader is None:
        return None
    try:
        done = work(reader)
        close(reader, commit=write)
    except sqlite3.Error as error:
        close(reader)
        locked = _locked(url, error)
        if locked is not None:
            raise locked from None
        return None
    except BaseException:
        close(reader)
        raise
    return done


# --- deals ---------------------------------------------------------------------------------------


def deals(
    reader: Connection,
    slug: str | None = None,
    slug_prefix: str | None = None,
    limit: int | None = None,
) -> list[Deal]:
    """The deals with this slug, or whose slug starts with this prefix (any case), or all; by
    slug."""
    sql = "SELECT id, slug, terms_json, closures_json, created_at FROM deal"
    params: list[Any] = []
    if slug is not None:
        sql += " WHERE slug = ?"
        params.append(slug)
    elif slug_prefix is not None:
        sql += " WHERE lower(slug) LIKE ? ESCAPE '\\'"
        params.append(like_prefix(slug_prefix))
    sql += " ORDER BY slug"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [
        Deal.from_stored(id_, slug_, terms, closures, reader.moment(created))
        for id_, slug_, terms, closures, created in reader.rows(sql, params)
    ]


def deal_slugs(reader: Connection, limit: int) -> list[str]:
    sql = f"SELECT slug FROM deal ORDER BY slug LIMIT {int(limit)}"
    return [row[0] for row in reader.rows(sql)]


def like_prefix(text: str) -> str:
    """A LIKE pattern matching what starts with `text`, in lower case, wildcards escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


# --- purchasers and events -----------------------------------------------------------------------


def parties(
    reader: Connection, deal_id: int, active_only: bool = True
) -> tuple[list[Purchaser], Purchaser | None]:
    """The deal's purchasers in Schedule 1 order (the active ones unless `active_only` is False)
    and the company's row, in one statement."""
    sql = f"SELECT {_PURCHASERS} FROM purchaser WHERE deal_id = ?"
    if active_only:
        sql += " AND (active OR role = 'company')"
    purchasers, company = [], None
    for row in reader.rows(sql + " ORDER BY position", (deal_id,)):
        party = _party(row)
        if party.role == "company":
            company = party
        else:
            purchasers.append(party)
    return purchasers, company


def _party(row: Sequence[Any]) -> Purchaser:
    values = list(row)
    values[_PRICE_AT] = money(values[_PRICE_AT])
    values[_ACTIVE_AT] = bool(values[_ACTIVE_AT])
    return Purchaser(*values)


def party_where(reader: Connection, deal_id: int, slug: str | None = None) -> Purchaser | None:
    """The deal's party with this slug, or its company row (slug None)."""
    sql = f"SELECT {_PURCHASERS} FROM purchaser WHERE deal_id = ? AND "
    if slug is None:
        found = reader.rows(sql + "role = 'company'", (deal_id,))
    else:
        found = reader.rows(sql + "slug = ?", (deal_id, slug))
    return _party(found[0]) if found else None


def purchasers_by_prefix(
    reader: Connection, deal_id: int, prefix: str, limit: int
) -> list[Purchaser]:
    """Purchasers whose slug or name starts with `prefix` (any case), in Schedule 1 order."""
    pattern = like_prefix(prefix)
    sql = (
        f"SELECT {_PURCHASERS} FROM purchaser WHERE deal_id = ? AND role = 'purchaser' AND "
        "(lower(slug) LIKE ? ESCAPE '\\' OR lower(name) LIKE ? ESCAPE '\\') "
        f"ORDER BY position LIMIT {int(limit)}"
    )
    return [_party(row) for row in reader.rows(sql, (deal_id, pattern, pattern))]


def active_purchaser_slugs(reader: Connection, deal_id: int, limit: int) -> list[str]:
    sql = (
        "SELECT slug FROM purchaser WHERE deal_id = ? AND active AND role = 'purchaser' "
        f"ORDER BY position LIMIT {int(limit)}"
    )
    return [row[0] for row in reader.rows(sql, (deal_id,))]


def lock_chain_head(reader: Connection, party_id: int) -> tuple[int, str]:
    """Serialise writers on one party (a row lock on PostgreSQL; SQLite holds the database lock
    from BEGIN IMMEDIATE); its chain head's seq and hash, which the next event links to."""
    sql = reader.for_update("SELECT head_seq, head_hash FROM purchaser WHERE id = ?")
    seq, head = reader.rows(sql, (party_id,))[0]
    return int(seq), head or GENESIS


def events_by_party(
    reader: Connection, deal_id: int, as_of: datetime | None = None
) -> dict[int, list[Event]]:
    """Each party's events in order; only those recorded by `as_of` when it is given."""
    sql = f"SELECT {_EVENTS} FROM event WHERE deal_id = ?"
    params: list[Any] = [deal_id]
    if as_of is not None:
        sql += " AND recorded_at <= ?"
        params.append(reader.bind_moment(as_of))
    result: dict[int, list[Event]] = {}
    for event in _events(reader, reader.rows(sql + " ORDER BY purchaser_id, seq", params)):
        found = result.get(event.purchaser_id)
        if found is None:
            result[event.purchaser_id] = [event]
        else:
            found.append(event)
    return result


def _events(reader: Connection, rows: list[tuple[Any, ...]]) -> list[Event]:
    moment, make = reader.moment, Event._make
    found = []
    for row in rows:
        values = list(row)
        values[_OCCURRED_AT] = moment(values[_OCCURRED_AT])
        values[_RECORDED_AT] = moment(values[_RECORDED_AT])
        if values[_MONEY_AT] is not None:
            values[_MONEY_AT] = money(values[_MONEY_AT])
        found.append(make(values))
    return found


def party_events(reader: Connection, party_id: int) -> list[Event]:
    """One party's events in order."""
    sql = f"SELECT {_EVENTS} FROM event WHERE purchaser_id = ? ORDER BY seq"
    return _events(reader, reader.rows(sql, (party_id,)))


def deal_events(reader: Connection, deal_id: int) -> list[Event]:
    """Every event of the deal in the order it was appended."""
    sql = f"SELECT {_EVENTS} FROM event WHERE deal_id = ? ORDER BY id"
    return _events(reader, reader.rows(sql, (deal_id,)))


_INSERT_EVENT = (
    f"INSERT INTO event ({_APPENDED}, deal_id, prev_hash, hash) "
    f"VALUES ({', '.join('?' * (len(Event._fields) + 2))})"
)
_MOVE_HEAD = "UPDATE purchaser SET head_seq = ?, head_hash = ? WHERE id = ?"


def _event_row(
    reader: Connection, deal_id: int, deal_slug: str, party: Purchaser, event: Event, prev_hash: str
) -> tuple[tuple[Any, ...], str]:
    """The values `_INSERT_EVENT` stores for `event` chained to `prev_hash`, and its hash."""
    digest = event_hash(deal_slug, party.slug, event, prev_hash)
    values = list(event)
    values[_OCCURRED_AT] = reader.bind_moment(event.occurred_at)
    values[_RECORDED_AT] = reader.bind_moment(event.recorded_at)
    values[_MONEY_AT] = reader.bind_money(event.amount)
    return (*values[1:], deal_id, prev_hash, digest), digest


def append_event(
    reader: Connection, deal_id: int, deal_slug: str, party: Purchaser, event: Event, prev_hash: str
) -> Event:
    """Append one event (never update, never delete), chained to `prev_hash`, and move the
    party's head to it; returns it with its id. The unique (purchaser, seq) key refuses a second
    writer that read the same history."""
    row, digest = _event_row(reader, deal_id, deal_slug, party, event, prev_hash)
    ((new_id,),) = reader.rows(_INSERT_EVENT + " RETURNING id", row)
    reader.execute(_MOVE_HEAD, (event.seq, digest, party.id))
    return event._replace(id=int(new_id))


def append_events(
    reader: Connection,
    deal_id: int,
    deal_slug: str,
    chained: Sequence[tuple[Purchaser, Event, str]],
) -> list[Event]:
    """`append_event` for many events in a few statements (an import of a bank file records
    thousands of wires), hashed the same way: each chained to the hash given with it, or to the
    event before it in `chained` for the same party."""
    if not chained:
        return []
    rows: list[tuple[Any, ...]] = []
    heads: dict[int, tuple[int, str]] = {}
    for party, event, given in chained:
        prev_hash = heads[party.id][1] if party.id in heads else given
        row, digest = _event_row(reader, deal_id, deal_slug, party, event, prev_hash)
        rows.append(row)
        heads[party.id] = (event.seq, digest)
    # One executemany, then the new ids read back by (party, seq), which is unique: RETURNING
    # in parameter order makes SQLite insert the rows one statement at a time. The ids are
    # above every id there was (a range of the primary key; another deal's rows are skipped).
    ((before,),) = reader.rows("SELECT coalesce(max(id), 0) FROM event")
    reader.executemany(_INSERT_EVENT, rows)
    new_ids = {
        (party, seq): id_
        for id_, party, seq in reader.rows(
            "SELECT id, purchaser_id, seq FROM event WHERE id > ? AND deal_id = ?",
            (before, deal_id),
        )
    }
    reader.executemany(_MOVE_HEAD, [(seq, digest, party) for party, (seq, digest) in heads.items()])
    # Event(id, *the rest): what _replace(id=...) makes, without its per-field work.
    return [Event(int(new_ids[party.id, event.seq]), *event[1:]) for party, event, _ in chained]


def lock_deal_parties(reader: Connection, deal_id: int) -> dict[int, str]:
    """Serialise an import with every mark on the deal (row locks on PostgreSQL; SQLite holds
    the database lock from BEGIN IMMEDIATE); each party's chain head, which its next event links
    to."""
    sql = reader.for_update("SELECT id, head_hash FROM purchaser WHERE deal_id = ?")
    found = reader.rows(sql, (deal_id,))
    return {party: head or GENESIS for party, head in found}


# --- the record's health, the alert ledger, the wire instructions --------------------------------


def last_verification(reader: Connection, deal_id: int) -> tuple[datetime, bool, str] | None:
    """When the last `closing verify` ran, whether the log held, and its first break."""
    found = reader.rows(
        "SELECT verified_at, ok, detail FROM verification WHERE deal_id = ? "
        "ORDER BY id DESC LIMIT 1",
        (deal_id,),
    )
    if not found:
        return None
    at, ok, detail = found[0]
    return reader.moment(at), bool(ok), detail


def chain_lengths_agree(reader: Connection, deal_id: int) -> bool:
    """A cheap look on every board: the events the chains' heads count are all there."""
    (events,) = reader.rows("SELECT count(*) FROM event WHERE deal_id = ?", (deal_id,))[0]
    (heads,) = reader.rows(
        "SELECT coalesce(sum(head_seq), 0) FROM purchaser WHERE deal_id = ?", (deal_id,)
    )[0]
    return int(events) == int(heads)
