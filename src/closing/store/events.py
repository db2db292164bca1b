"""The statements on the event log and its chains, in SQL on a
`closing.store.connection.Connection`: appending events (one or thousands) and moving each
party's chain head, locking a party's head (or every party of a deal) for a writer, reading a
party's or a deal's events, the chains `closing verify` checks and the stray rows it names (its
results: `closing.store.verifications`). Never an update or a delete of an event: a correction is
a new one."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from sys import intern
from typing import Any

from closing.domain.chain import GENESIS, ChainedEvent, event_hash
from closing.domain.errors import DatabaseError, RecordBrokenError, RefusedError
from closing.domain.events import Event, Purchaser
from closing.domain.text import neutral
from closing.domain.timefmt import utc_text
from closing.store.connection import Connection
from closing.store.facts import fact_table, record_chain_start, record_facts
from closing.store.identity import actor
from closing.store.values import money

_EVENTS = ", ".join(Event._fields)
_APPENDED = ", ".join(Event._fields[1:])  # the row id is the database's
_MONEY_AT = Event._fields.index("amount")
_OCCURRED_AT, _RECORDED_AT = Event._fields.index("occurred_at"), Event._fields.index("recorded_at")
_REHEARSAL_AT = Event._fields.index("rehearsal_at")
REHEARSAL_GAP = timedelta(minutes=1)  # a clock this far from the machine's is a rehearsal's


# --- chain heads ---------------------------------------------------------------------------------


def lock_chain_head(connection: Connection, party_id: int) -> tuple[int, str]:
    """Serialise writers on one party (a row lock on PostgreSQL; SQLite holds the database lock
    from BEGIN IMMEDIATE); its chain head's seq and hash, which the next event links to."""
    sql = connection.for_update("SELECT head_seq, head_hash FROM purchaser WHERE id = ?")
    seq, head = connection.rows(sql, (party_id,))[0]
    return int(seq), head or GENESIS


def lock_deal_parties(connection: Connection, deal_id: int) -> dict[int, str]:
    """Serialise an import with every mark on the deal (row locks on PostgreSQL; SQLite holds
    the database lock from BEGIN IMMEDIATE); each party's chain head, which its next event links
    to."""
    sql = connection.for_update("SELECT id, head_hash FROM purchaser WHERE deal_id = ?")
    return {party: head or GENESIS for party, head in connection.rows(sql, (deal_id,))}


# --- reading events ------------------------------------------------------------------------------


def events_by_party(
    connection: Connection, deal_id: int, as_of: datetime | None = None
) -> dict[int, list[Event]]:
    """Each party's events in order; only those recorded by `as_of` when it is given."""
    # In the order of the (deal, party, seq) index, which spares the database a sort of the
    # deal's events; `as_of` is applied here, as a condition on recorded_at would make it read
    # them by that index instead (and sort them). Events after `as_of` are few.
    sql = f"SELECT {_EVENTS} FROM event WHERE deal_id = ? ORDER BY purchaser_id, seq"
    # In UTC, as the stored instants are read: instants of one zone compare without working out
    # offsets (working them out for each of 15,000 events costs 10 ms).
    until = None if as_of is None else as_of.astimezone(UTC)
    result: dict[int, list[Event]] = {}
    moment = connection.moment
    party: int | None = None
    found: list[Event] = []
    for row in connection.rows(sql, (deal_id,)):
        event = _event(moment, row)
        if until is not None and event.logged_at > until:
            continue
        if event.purchaser_id != party:  # a party's events come together
            party, found = event.purchaser_id, []
            result[party] = found
        found.append(event)
    return result


def _event(moment: Callable[[Any], datetime], row: Sequence[Any]) -> Event:
    """An event from its row (`moment`: the connection's, which reads a stored instant)."""
    # Unpacked at once (a board reads every event of the deal); the columns are Event's fields.
    (
        id_,
        party,
        seq,
        kind,
        step,
        occurred,
        recorded,
        actor,
        host,
        proof,
        evidence,
        amount,
        note,
        behalf,
        declared,
        rehearsal,
    ) = row
    at = moment(occurred)
    # _make: a tuple in one step (Event(...) passes 15 arguments through its __new__).
    return Event._make(
        (
            id_,
            party,
            seq,
            intern(kind),
            intern(step),
            at,
            at if recorded == occurred else moment(recorded),  # mostly the same
            intern(actor),
            intern(host),
            proof,
            evidence,
            None if amount is None else money(amount),
            note,
            behalf,
            bool(declared),
            None if rehearsal is None else moment(rehearsal),
        )
    )


def _events(connection: Connection, rows: list[tuple[Any, ...]]) -> list[Event]:
    moment = connection.moment
    return [_event(moment, row) for row in rows]


# The deal's events are those of its deal and of one of its parties: a row naming the deal and
# another party, or a party of the deal and another deal (sqlite3 checks no foreign key), is a
# stray, which no reader sees and `closing verify` names (`stray_events`).
_OF_DEAL = "deal_id = ? AND purchaser_id IN (SELECT id FROM purchaser WHERE deal_id = ?)"


def party_events(connection: Connection, party_id: int) -> list[Event]:
    """One party's events in order (those of its deal)."""
    sql = (
        f"SELECT {_EVENTS} FROM event WHERE purchaser_id = ? "
        "AND deal_id = (SELECT deal_id FROM purchaser WHERE id = ?) ORDER BY seq"
    )
    return _events(connection, connection.rows(sql, (party_id, party_id)))


def first_logged_after(connection: Connection, deal_id: int, moment: datetime) -> datetime | None:
    """When the first of the deal's events logged after `moment` was (a clock set back), or
    None."""
    logged = "coalesce(rehearsal_at, recorded_at)"
    found = connection.value(
        f"SELECT min({logged}) FROM event WHERE deal_id = ? AND {logged} > ?",
        (deal_id, connection.bind_moment(moment)),
    )
    return None if found is None else connection.moment(found)


def deal_events(connection: Connection, deal_id: int) -> list[Event]:
    """Every event of the deal in the order it was appended."""
    sql = f"SELECT {_EVENTS} FROM event WHERE {_OF_DEAL} ORDER BY id"
    return _events(connection, connection.rows(sql, (deal_id, deal_id)))


def event_numbers(connection: Connection, deal_id: int) -> dict[int, int]:
    """Each event's number in its deal, by its id: its place in the deal's log (in the order
    appended, from 1). What people are shown; ids run across every deal of the database."""
    rows = connection.rows(f"SELECT id FROM event WHERE {_OF_DEAL} ORDER BY id", (deal_id, deal_id))
    return {event_id: number for number, (event_id,) in enumerate(rows, start=1)}


@dataclass(frozen=True)
class Stray:
    """An event row that names the deal or one of its parties but is not the deal's: its row
    id, seq, the deal id it names, and the party it names (its slug when the deal's, else its
    id)."""

    id: int
    seq: int
    deal_id: int
    party: str | None
    party_id: int


def stray_events(connection: Connection, deal_id: int) -> list[Stray]:
    """The deal's stray event rows (added or changed behind closing's back), by id: under the
    deal but naming none of its parties, or naming one of them but another deal."""
    rows = connection.rows(
        "SELECT e.id, e.seq, e.deal_id, NULL, e.purchaser_id FROM event e WHERE e.deal_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM purchaser p WHERE p.id = e.purchaser_id "
        "AND p.deal_id = e.deal_id) "
        "UNION ALL SELECT e.id, e.seq, e.deal_id, p.slug, p.id FROM purchaser p "
        "JOIN event e ON e.purchaser_id = p.id WHERE p.deal_id = ? AND e.deal_id <> p.deal_id "
        "ORDER BY 1",
        (deal_id, deal_id),
    )
    return [
        Stray(int(i), int(seq), int(deal), party, int(pid)) for i, seq, deal, party, pid in rows
    ]


# --- appending -----------------------------------------------------------------------------------

_INSERT_EVENT = (
    f"INSERT INTO event ({_APPENDED}, deal_id, prev_hash, hash) "
    f"VALUES ({', '.join('?' * (len(Event._fields) + 2))})"
)
_MOVE_HEAD = "UPDATE purchaser SET head_seq = ?, head_hash = ? WHERE id = ?"


def _event_row(
    connection: Connection,
    deal_id: int,
    deal_slug: str,
    party: Purchaser,
    event: Event,
    prev_hash: str,
) -> tuple[tuple[Any, ...], str]:
    """The values `_INSERT_EVENT` stores for `event` chained to `prev_hash`, and its hash. Its
    actor must be the authenticated one (PostgreSQL's trigger checks it again)."""
    if event.actor_declared or event.actor != actor(connection):
        raise DatabaseError(
            f"cannot record an event as {neutral(event.actor)}: the actor is who is signed in "
            f"({neutral(actor(connection))}); nothing recorded"
        )
    digest = event_hash(deal_slug, party.slug, event, prev_hash)
    values = list(event)
    values[_OCCURRED_AT] = connection.bind_moment(event.occurred_at)
    values[_RECORDED_AT] = connection.bind_moment(event.recorded_at)
    values[_MONEY_AT] = connection.bind_money(event.amount)
    if event.rehearsal_at is not None:
        values[_REHEARSAL_AT] = connection.bind_moment(event.rehearsal_at)
    return (*values[1:], deal_id, prev_hash, digest), digest


def machine_time(connection: Connection, deal_id: int, events: Sequence[Event]) -> list[Event]:
    """The events as recorded: `recorded_at` the machine's time (the database server's clock on
    PostgreSQL, the system clock on SQLite), never the rehearsal clock, whose time is kept
    beside it (`rehearsal_at`) when `CLOSING_NOW` is set or the clock given is more than a
    minute from the machine's. A machine time earlier than the deal's last recorded one (a
    clock moved back) is refused."""
    if connection.sqlite:
        machine = datetime.now(UTC)
    else:
        machine = connection.moment(connection.value("SELECT clock_timestamp()"))
    last = connection.value("SELECT max(recorded_at) FROM event WHERE deal_id = ?", (deal_id,))
    if last is not None and connection.moment(last) > machine:
        raise RefusedError(
            f"the machine's clock reads {utc_text(machine)} UTC, earlier than the last event "
            f"recorded in this deal ({utc_text(connection.moment(last))} UTC): was the clock "
            "moved back? nothing recorded"
        )
    rehearsing = bool(os.environ.get("CLOSING_NOW", "").strip())
    return [
        event._replace(
            recorded_at=machine,
            rehearsal_at=event.recorded_at
            if rehearsing or abs(event.recorded_at - machine) > REHEARSAL_GAP
            else None,
        )
        for event in events
    ]


def append_event(
    connection: Connection,
    deal_id: int,
    deal_slug: str,
    party: Purchaser,
    event: Event,
    prev_hash: str,
) -> Event:
    """Append one event (never update, never delete), chained to `prev_hash`, and move the
    party's head to it; returns it with its id. The unique (purchaser, seq) key refuses a second
    writer that read the same history."""
    (event,) = machine_time(connection, deal_id, [event])
    _refuse_strays(connection, deal_id, {(party.id, event.seq): party.slug})
    row, digest = _event_row(connection, deal_id, deal_slug, party, event, prev_hash)
    ((new_id,),) = connection.rows(_INSERT_EVENT + " RETURNING id", row)
    connection.execute(_MOVE_HEAD, (event.seq, digest, party.id))
    if event.seq == 1:  # the party's chain has begun: the record of facts knows it from now on
        record_chain_start(connection, deal_id, party.slug, event.logged_at)
    return event._replace(id=int(new_id))


def _refuse_strays(connection: Connection, deal_id: int, slots: dict[tuple[int, int], str]) -> None:
    """Refuse (exit 8) to append where a stray row (a party's event naming another deal, added
    behind closing's back) holds the place: (party id, seq) -> the party's slug. One probe for
    one event; for many, one statement over the deal's parties."""
    if len(slots) == 1:
        ((party, seq),) = slots
        sql = "SELECT id, deal_id, purchaser_id, seq FROM event WHERE purchaser_id = ? AND seq = ?"
        rows = connection.rows(sql, (party, seq))
    else:
        rows = connection.rows(
            "SELECT e.id, e.deal_id, e.purchaser_id, e.seq FROM purchaser p JOIN event e "
            "ON e.purchaser_id = p.id WHERE p.deal_id = ? AND e.deal_id <> p.deal_id",
            (deal_id,),
        )
    for id_, other, party, seq in rows:
        slug = slots.get((int(party), int(seq)))
        if slug is not None and int(other) != deal_id:
            raise RecordBrokenError(
                f"cannot record event #{seq} of {neutral(slug)}: a stray event row (id {id_}, "
                f"naming deal id {other}) holds its place; nothing recorded (closing verify)"
            )


def append_events(
    connection: Connection,
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
    timed = machine_time(connection, deal_id, [event for _, event, _ in chained])
    chained = [
        (party, event, given) for (party, _, given), event in zip(chained, timed, strict=True)
    ]
    _refuse_strays(connection, deal_id, {(p.id, e.seq): p.slug for p, e, _ in chained})
    for party, event, given in chained:
        prev_hash = heads[party.id][1] if party.id in heads else given
        row, digest = _event_row(connection, deal_id, deal_slug, party, event, prev_hash)
        rows.append(row)
        heads[party.id] = (event.seq, digest)
    # One executemany, then the new ids read back by (party, seq), which is unique: RETURNING
    # in parameter order makes SQLite insert the rows one statement at a time. The ids are
    # above every id there was (a range of the primary key; another deal's rows are skipped).
    before = connection.value("SELECT coalesce(max(id), 0) FROM event")
    connection.executemany(_INSERT_EVENT, rows)
    new_ids = {
        (party, seq): id_
        for id_, party, seq in connection.rows(
            "SELECT id, purchaser_id, seq FROM event WHERE id > ? AND deal_id = ?",
            (before, deal_id),
        )
    }
    connection.executemany(
        _MOVE_HEAD, [(seq, digest, party) for party, (seq, digest) in heads.items()]
    )
    firsts = [event.logged_at for _, event, _ in chained if event.seq == 1]
    if firsts:
        record_facts(connection, deal_id, max(firsts), fact_table("event"))
    # Event(id, *the rest): what _replace(id=...) makes, without its per-field work.
    return [Event(int(new_ids[party.id, event.seq]), *event[1:]) for party, event, _ in chained]


# --- the chains and their verification -----------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    """One party's chain as stored: its events with their hashes, and the head it records."""

    party: str
    head_seq: int
    head_hash: str | None
    events: list[ChainedEvent]


def chains(connection: Connection, deal_id: int) -> list[Chain]:
    """Every party's chain of the deal (the company's first), for `closing verify`."""
    parties = connection.rows(
        "SELECT id, slug, head_seq, head_hash FROM purchaser WHERE deal_id = ? ORDER BY position",
        (deal_id,),
    )
    rows = connection.rows(
        f"SELECT {_EVENTS}, prev_hash, hash FROM event WHERE deal_id = ? "
        "ORDER BY purchaser_id, seq",
        (deal_id,),
    )
    width = len(Event._fields)
    by_party: dict[int, list[ChainedEvent]] = {}
    for row in rows:
        event = _event(connection.moment, row[:width])
        by_party.setdefault(event.purchaser_id, []).append(
            ChainedEvent(event, row[width], row[width + 1])
        )
    return [
        Chain(slug, int(head_seq), head_hash, by_party.get(party_id, []))
        for party_id, slug, head_seq, head_hash in parties
    ]


def chain_lengths(connection: Connection, deal_id: int) -> tuple[int, int]:
    """A cheap look on every board: how many event rows the deal has, and how many its chains'
    heads count (the same when all is well)."""
    events = connection.value("SELECT count(*) FROM event WHERE deal_id = ?", (deal_id,))
    heads = connection.value(
        "SELECT coalesce(sum(head_seq), 0) FROM purchaser WHERE deal_id = ?", (deal_id,)
    )
    return int(events), int(heads)
