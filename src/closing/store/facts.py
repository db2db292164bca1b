"""The record of facts in SQL: which stored tables and columns are facts (`FACT_TABLES`, the one
list a new fact table joins), reading them as plain values, reading the fact chain, and appending
what a write changed (`record_facts`, called in the write's own transaction).

A column kept for speed that only events change (a chain's head) is not a fact: `closing verify`
checks it against its chain. Everything else the board, the memo or a mark reads is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from closing.domain.chain import GENESIS, Break
from closing.domain.errors import RecordBrokenError
from closing.domain.facts import (
    ADOPT,
    FactEntry,
    adopting,
    check_facts,
    check_rows,
    fact_hash,
    latest,
    links_break,
    plain,
    plain_row_hash,
    row_hash,
    to_record,
)
from closing.store.connection import Connection
from closing.store.values import money, stored_moment


@dataclass(frozen=True)
class FactTable:
    """A table of facts: its name, what `verify` calls a row of it, the SQL naming a row, and
    the columns hashed (name, kind: text, int, money, moment, bool; or a row id naming another
    row, hashed as what it names: `party`, a purchaser's slug, `event`, an event's party and
    seq; see `_IDENTITY`)."""

    table: str
    label: str
    key: str
    columns: tuple[tuple[str, str], ...]
    deal_column: str = "deal_id"
    where: str = ""
    # SQL of a table's rows as the deal's events say they stand (key, columns; the deal's id),
    # for a deal whose chain began before the table was a fact (`earlier_facts`).
    before: str = ""


def _text(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, "text") for name in names)


FACT_TABLES: tuple[FactTable, ...] = (
    FactTable(
        "deal",
        "the deal's terms",
        "slug",
        _text("slug", "title", "terms_json", "closures_json", "source_path", "source_sha256"),
        deal_column="id",
    ),
    FactTable(
        "deal_revision",
        "deal file load",
        "id",
        (("loaded_at", "moment"), *_text("source_sha256", "changes")),
    ),
    FactTable(
        "purchaser",
        "Schedule 1",
        "slug",
        (
            *_text("slug", "name"),
            ("position", "int"),
            ("shares", "int"),
            ("purchase_price", "money"),
            ("warrant_shares", "int"),
            ("details_json", "text"),
            ("active", "bool"),
            ("role", "text"),
        ),
    ),
    FactTable(
        "wire_instructions",
        "wire instructions version",
        "version",
        (
            ("version", "int"),
            ("event_id", "event"),
            *_text("fingerprint", "bank", "aba", "account_masked", "account_name", "swift"),
            *_text("reference", "callback_numbers", "entered_by"),
            ("entered_at", "moment"),
            ("verified_event_id", "event"),
            ("verified_by", "text"),
            ("verified_at", "moment"),
            *_text("callback_number", "spoke_with"),
        ),
    ),
    FactTable(
        "bank_credit",
        "bank credit",
        "id",
        (
            *_text("bank_reference", "file_name", "file_sha256", "file_format"),
            ("line", "int"),
            ("amount", "money"),
            *_text("currency", "value_date", "ordering_customer", "imad", "details"),
            ("account_masked", "text"),
            ("imported_at", "moment"),
            *_text("imported_by", "status", "reason"),
            ("purchaser_id", "party"),
            ("event_id", "event"),
        ),
    ),
    FactTable(
        "share",
        "share link",
        "token_start",
        (
            ("purchaser_id", "party"),
            *_text("token_sha256", "token_start"),
            ("created_at", "moment"),
            ("created_by", "text"),
            ("revoked_at", "moment"),
            ("revoked_by", "text"),
            ("can_act", "bool"),
        ),
    ),
    FactTable(
        "team_member",
        "team member",
        "login",
        (*_text("login", "roles", "name", "email"), ("changed_at", "moment")),
    ),
    FactTable(
        "judgement",
        "judgement kept of event",
        "event_id",
        (("event_id", "event"), ("deadline", "moment"), ("recorded_at", "moment")),
    ),
    # Whether the team must sign in to the web board with a passkey (`closing team passkeys`,
    # whose team event says how: a rule from before it was a fact is checked against that).
    FactTable(
        "web_deal_policy",
        "the web passkey rule of",
        "(SELECT d.slug FROM deal d WHERE d.id = web_deal_policy.deal_id)",
        (("passkeys_required", "bool"), ("changed_at", "moment"), ("changed_by", "text")),
        before="SELECT d.slug, CASE WHEN e.note LIKE 'passkeys required %' THEN 1 ELSE 0 END, "
        "e.occurred_at, e.actor FROM event e JOIN deal d ON d.id = e.deal_id "
        "JOIN purchaser p ON p.id = e.purchaser_id AND p.deal_id = e.deal_id "
        "WHERE e.deal_id = ? AND p.slug = '@company' AND e.kind = 'team' "
        "AND e.note LIKE 'passkeys %' ORDER BY e.seq DESC LIMIT 1",
    ),
    # A failed `closing verify`, and the first good one after (closing.store.verifications).
    FactTable(
        "verification",
        "verify result",
        "id",
        (("verified_at", "moment"), ("ok", "bool"), ("events", "int"), ("detail", "text")),
        where="CAST(id AS TEXT) IN (SELECT f.row_key FROM fact f "
        "WHERE f.deal_id = verification.deal_id AND f.tbl = 'verification')",
    ),
    # A party's chain is known to have begun: deleting every event of it is a break (its first
    # event's content is the chain's to prove, and a seal's). A stray row is verify's to name.
    FactTable(
        "event",
        "the chain of",
        "(SELECT p.slug FROM purchaser p WHERE p.id = event.purchaser_id)",
        (("seq", "int"),),
        where="seq = 1 AND purchaser_id IN (SELECT p.id FROM purchaser p "
        "WHERE p.deal_id = event.deal_id)",
    ),
)
LABELS = {table.table: table.label for table in FACT_TABLES}

# A row id naming another row of the deal, as the row's hash reads it: what the id names (a
# purchaser's slug; an event's party slug and seq, `stonestreet #2`; `id N`: no row of the deal),
# so that ids swapped in the database change the hash. Older entries hashed the bare integer: a
# row not matching is tried that way too (`current_facts`).
_IDENTITY = {
    "party": "(SELECT p.slug FROM purchaser p WHERE p.id = {column} AND p.deal_id = {deal})",
    "event": "(SELECT p.slug || ' #' || CAST(e.seq AS TEXT) FROM event e JOIN purchaser p "
    "ON p.id = e.purchaser_id WHERE e.id = {column} AND e.deal_id = {deal} "
    "AND p.deal_id = {deal})",
}


def _column_sql(table: FactTable, name: str, kind: str) -> str:
    """What a row's hash reads of column `name`: the column, or what the id in it names."""
    if kind not in _IDENTITY:
        return name
    column, deal = f"{table.table}.{name}", f"{table.table}.{table.deal_column}"
    named = _IDENTITY[kind].format(column=column, deal=deal)
    return f"coalesce({named}, 'id ' || CAST({column} AS TEXT))"


def _reader(kind: str) -> Callable[[Any], object]:
    """A stored value of `kind` as the row's hash reads it: `closing.domain.facts.plain` of the
    value read (an amount normalised, an instant in UTC text); what cannot be read, as
    `unreadable ...`."""

    def read(value: Any) -> object:
        if value is None:
            return None
        try:
            if kind == "int":
                return int(value)
            if kind == "bool":
                return bool(int(value))
            if kind == "money":
                return plain(money(value))
            if kind == "moment":
                return plain(stored_moment(value))
        except (TypeError, ValueError):
            return f"unreadable {value!r}"
        return value if isinstance(value, str) else str(value)

    if kind in ("money", "moment"):
        # Stored text (SQLite) read once per distinct value: a file's credits share their import
        # time, and many amounts repeat. Only text: values that are equal but read apart (a
        # Decimal -0 and 0) must not share a reading.
        once = functools.lru_cache(maxsize=4096)(read)
        return lambda value: once(value) if type(value) is str else read(value)
    return read


def current_facts(
    connection: Connection,
    deal_id: int,
    tables: tuple[FactTable, ...] = FACT_TABLES,
    recorded: Mapping[tuple[str, str], str | None] | None = None,
) -> dict[tuple[str, str], str]:
    """Every fact of the deal as it stands: (table, key) -> the row's hash. A row naming other
    rows by id whose `recorded` hash is not the one of what they name is hashed as entries
    written before were (the bare ids): when that is its recorded hash, it stands."""
    found: dict[tuple[str, str], str] = {}
    for table in tables:
        columns = [_column_sql(table, name, kind) for name, kind in table.columns]
        ids = [at for at, (_, kind) in enumerate(table.columns) if kind in _IDENTITY]
        columns += [table.columns[at][0] for at in ids]  # the bare ids, for an older entry
        where = f" AND {table.where}" if table.where else ""
        sql = (
            f"SELECT {table.key}, {', '.join(columns)} FROM {table.table} "
            f"WHERE {table.deal_column} = ?{where}"
        )
        _hash_rows(connection, table, sql, deal_id, found, recorded if ids else None)
    return found


def earlier_facts(
    connection: Connection,
    deal_id: int,
    entries: Sequence[FactEntry],
    tables: tuple[FactTable, ...] = FACT_TABLES,
) -> dict[tuple[str, str], str]:
    """The facts of each table that joined the record after the deal's chain began and has no
    entry in it yet, as the deal's events say they must stand (`FactTable.before`): what a check
    compares those rows with until a write records them."""
    found: dict[tuple[str, str], str] = {}
    entered = {entry.table for entry in entries}
    for table in tables:
        if table.before and table.table not in entered:
            _hash_rows(connection, table, table.before, deal_id, found)
    return found


def _hash_rows(
    connection: Connection,
    table: FactTable,
    sql: str,
    deal_id: int,
    found: dict[tuple[str, str], str],
    recorded: Mapping[tuple[str, str], str | None] | None = None,
) -> None:
    """Each row `sql` selects (its key, the table's columns as the hash reads them, then the
    bare ids of those naming rows) into `found`: (table, key) -> its hash."""
    # Text columns read as they are (most of a row); the others through their reader.
    kinds = ["text" if kind in _IDENTITY else kind for _, kind in table.columns]
    readers = [_reader(kind) for kind in kinds]
    text = [kind == "text" for kind in kinds]
    ids = [at for at, (_, kind) in enumerate(table.columns) if kind in _IDENTITY]
    name, width, bare = table.table, len(table.columns), _reader("int")
    for key, *values in connection.rows(sql, (deal_id,)):
        row = [
            value if is_text and (value is None or type(value) is str) else read(value)
            for is_text, read, value in zip(text, readers, values[:width], strict=True)
        ]
        digest = plain_row_hash(name, row)
        before = None if recorded is None else recorded.get((name, str(key)))
        if before is not None and before != digest:
            for at, value in zip(ids, values[width:], strict=True):
                row[at] = bare(value)
            digest = before if plain_row_hash(name, row) == before else digest
        found[name, str(key)] = digest


def fact_entries(
    connection: Connection, deal_id: int, where: str = "", values: tuple[object, ...] = ()
) -> list[FactEntry]:
    """The deal's fact chain, in order (only the entries `where` selects, when given)."""
    rows = connection.rows(
        "SELECT seq, recorded_at, tbl, row_key, row_hash, prev_hash, hash FROM fact "
        f"WHERE deal_id = ?{' AND ' + where if where else ''} ORDER BY seq",
        (deal_id, *values),
    )
    return [
        FactEntry(int(seq), stored_moment(at), tbl, key, row, prev, hash_)
        for seq, at, tbl, key, row, prev, hash_ in rows
    ]


def schedule_times(connection: Connection, deal_id: int) -> dict[str, tuple[datetime, datetime]]:
    """When each Schedule 1 row (by slug) was first recorded, and last changed, by its entries in
    the fact chain (none for a deal whose facts were adopted as they stood)."""
    rows = connection.rows(
        "SELECT row_key, MIN(recorded_at), MAX(recorded_at) FROM fact "
        "WHERE deal_id = ? AND tbl = 'purchaser' GROUP BY row_key",
        (deal_id,),
    )
    return {key: (stored_moment(first), stored_moment(last)) for key, first, last in rows}


def record_facts(
    connection: Connection,
    deal_id: int,
    at: datetime,
    tables: tuple[FactTable, ...] = FACT_TABLES,
) -> int:
    """Append to the deal's fact chain every fact of `tables` the transaction changed (new,
    changed, gone); how many. Writers of the deal's facts are serialised (an advisory lock on
    PostgreSQL; SQLite's BEGIN IMMEDIATE holds the database)."""
    if not connection.sqlite:
        connection.value("SELECT pg_advisory_xact_lock(?, ?)", (0x0C10, deal_id))
    last = connection.rows(
        "SELECT seq, hash FROM fact WHERE deal_id = ? AND hash IS NOT NULL ORDER BY seq DESC "
        "LIMIT 1",
        (deal_id,),
    )
    if not last:  # a new deal, or one loaded before facts were kept: every fact, as it stands
        tables = FACT_TABLES
    names = [table.table for table in tables]
    marks = ", ".join("?" * len(names))
    recorded = latest(
        [
            FactEntry(0, at, tbl, key, row, None, None)
            for tbl, key, row in connection.rows(
                f"SELECT tbl, row_key, row_hash FROM fact WHERE deal_id = ? AND tbl IN ({marks}) "
                "ORDER BY seq",
                (deal_id, *names),
            )
        ]
    )
    changes = to_record(recorded, current_facts(connection, deal_id, tables, recorded))
    if not changes:
        return 0
    seq, previous = (int(last[0][0]), str(last[0][1])) if last else (0, GENESIS)
    slug = str(connection.value("SELECT slug FROM deal WHERE id = ?", (deal_id,)))
    rows: list[tuple[Any, ...]] = []
    for table, key, row in sorted(changes, key=lambda change: (change[0], change[1])):
        seq += 1
        digest = fact_hash(slug, seq, at, table, key, row, previous)
        rows.append((deal_id, seq, connection.bind_moment(at), table, key, row, previous, digest))
        previous = digest
    connection.executemany(
        "INSERT INTO fact (deal_id, seq, recorded_at, tbl, row_key, row_hash, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def record_chain_start(connection: Connection, deal_id: int, party_slug: str, at: datetime) -> None:
    """`record_facts` of one party's first event (the `event` fact of its slug), in a few indexed
    reads whatever the size of the deal: a mark on a fresh party of 10,000 pays for one."""
    if not connection.sqlite:
        connection.value("SELECT pg_advisory_xact_lock(?, ?)", (0x0C10, deal_id))
    known = connection.rows(
        "SELECT 1 FROM fact WHERE deal_id = ? AND tbl = 'event' AND row_key = ?",
        (deal_id, party_slug),
    )
    if known:
        return
    if append_fact(connection, deal_id, at, "event", party_slug, row_hash("event", [1])) is None:
        record_facts(connection, deal_id, at)  # a new deal, or one loaded before facts were kept


def append_fact(
    connection: Connection, deal_id: int, at: datetime, table: str, key: str, row: str
) -> tuple[int, str] | None:
    """Append one fact's entry (`row`, its row's hash) to the deal's chain, after its last entry
    and linked to its last hash: its seq and hash (None, nothing appended: the deal has no chain
    yet)."""
    if not connection.sqlite:
        connection.value("SELECT pg_advisory_xact_lock(?, ?)", (0x0C10, deal_id))
    last = connection.rows(
        "SELECT seq, hash FROM fact WHERE deal_id = ? AND hash IS NOT NULL ORDER BY seq DESC "
        "LIMIT 1",
        (deal_id,),
    )
    if not last:
        return None
    previous = str(last[0][1])
    # After the last entry, hashed or not (one added without a hash is verify's to name).
    seq = int(connection.value("SELECT max(seq) FROM fact WHERE deal_id = ?", (deal_id,))) + 1
    slug = str(connection.value("SELECT slug FROM deal WHERE id = ?", (deal_id,)))
    digest = fact_hash(slug, seq, at, table, key, row, previous)
    connection.execute(
        "INSERT INTO fact (deal_id, seq, recorded_at, tbl, row_key, row_hash, prev_hash, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (deal_id, seq, connection.bind_moment(at), table, key, row, previous, digest),
    )
    return seq, digest


def facts_break(
    connection: Connection, deal_id: int, tables: tuple[FactTable, ...] = FACT_TABLES
) -> Break | None:
    """The first fact of `tables` that no longer stands as recorded (None: all hold, or the deal
    predates the record of facts and is not yet adopted). The whole chain's links are checked;
    with every table each entry is rehashed too, with a few (a write relying on them) only
    theirs: a mark on a deal of 10,000 purchasers does not rehash 20,000 entries, and the links
    are checked by the database (`_links_hold`) unless one looks broken."""
    slug = str(connection.value("SELECT slug FROM deal WHERE id = ?", (deal_id,)))
    labels = {table.table: table.label for table in tables}
    if tables == FACT_TABLES:
        entries = fact_entries(connection, deal_id)
        if adopting(entries):
            return None
        current = current_facts(connection, deal_id, tables, latest(entries))
        before = earlier_facts(connection, deal_id, entries, tables)
        return check_facts(slug, entries, current, labels, before)
    holds, hashed, last = _links_hold(connection, deal_id)
    if not hashed:  # adopting (loaded before facts), or gone
        return facts_break(connection, deal_id)
    marks = ", ".join("?" for _ in tables)
    entries = fact_entries(connection, deal_id, f"tbl IN ({marks})", tuple(labels))
    current = current_facts(connection, deal_id, tables, latest(entries))
    before = earlier_facts(connection, deal_id, entries, tables)
    if holds:
        return check_rows(slug, entries, current, labels, last + 1, before)
    # Something is off: the links walked here, which name the first break as verify does.
    broken, next_seq = links_break(
        [
            (int(seq), str(tbl), prev, hash_)
            for seq, tbl, prev, hash_ in connection.rows(
                "SELECT seq, tbl, prev_hash, hash FROM fact WHERE deal_id = ? ORDER BY seq",
                (deal_id,),
            )
        ]
    )
    return broken or check_rows(slug, entries, current, labels, next_seq, before)


def _links_hold(connection: Connection, deal_id: int) -> tuple[bool, int, int]:
    """Whether the deal's fact chain is whole, asked of the database in two statements instead
    of reading 20,000 pairs of hashes: entries 1..N each once, each with a hash and following
    the one before it (the first, the chain's start), and no marker of adoption but the one at
    seq 0; with the number of hashed entries and the last seq."""
    entries, seqs, first, last, odd, bad_start, hashed = connection.rows(
        "SELECT count(*), count(DISTINCT seq), min(seq), max(seq), "
        "sum(CASE WHEN hash IS NULL OR tbl = ? THEN 1 ELSE 0 END), "
        "sum(CASE WHEN seq = 1 AND (prev_hash IS NULL OR prev_hash <> ?) THEN 1 ELSE 0 END), "
        "count(hash) FROM fact WHERE deal_id = ? AND NOT (tbl = ? AND seq = 0 AND hash IS NULL)",
        (ADOPT, GENESIS, deal_id, ADOPT),
    )[0]
    hashed = int(hashed or 0)
    whole = bool(entries) and entries == seqs == last and first == 1 and not odd and not bad_start
    if whole:
        unlinked = connection.value(
            "SELECT count(*) FROM fact AS a JOIN fact AS b ON b.deal_id = a.deal_id "
            "AND b.seq = a.seq + 1 WHERE a.deal_id = ? AND a.seq > 0 "
            "AND (b.prev_hash IS NULL OR b.prev_hash <> a.hash)",
            (deal_id,),
        )
        whole = not unlinked
    return whole, hashed, int(last or 0)


def require_facts(
    connection: Connection, deal_id: int, doing: str, tables: tuple[FactTable, ...] = FACT_TABLES
) -> None:
    """Refuse (exit 8) to act on facts changed behind closing's back: a write would make them
    part of the record."""
    broken = facts_break(connection, deal_id, tables)
    if broken is not None:
        raise RecordBrokenError(
            f"cannot {doing}: the record does not hold: {broken.detail}; nothing recorded "
            "(closing verify)"
        )


def fact_table(name: str) -> tuple[FactTable]:
    """One declared fact table, by its SQL name (as the `tables` the functions here take)."""
    return (next(table for table in FACT_TABLES if table.table == name),)
