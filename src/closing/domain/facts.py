"""The record of facts: what the board, the memo or a mark relies on besides the events (the
deal's terms as loaded, Schedule 1, the company's wire instructions and each verification, bank
credits and their state, share links, the team, each party's first event), each stored row
hashed as it was written into a chain of its own per deal (`@facts`), whose head joins the
chains' heads in the record digest.

Pure: the store declares which tables and columns are facts (`closing.store.facts`) and reads
them as plain values; here a row's hash, an entry's hash in the chain, what a write adds to the
chain, and the first fact that no longer holds (changed, gone or added behind closing's back).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from closing.domain.chain import GENESIS, Break, canonical
from closing.domain.timefmt import utc_text

FACTS = "@facts"  # the fact chain's name among the heads (no party slug starts with @ but @company)
ADOPT = "@adopt"  # a deal loaded before facts were kept: its facts, as they stand, are adopted
VERSION = "closing-fact/1"


_AS_IS = frozenset({str, int, bool, type(None)})


def plain(value: object) -> object:
    """A stored value as the hash reads it: amounts normalised, instants in UTC, the rest as is."""
    if type(value) in _AS_IS or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, datetime):
        return utc_text(value) + "Z"
    return str(value)


def row_hash(table: str, values: Sequence[object]) -> str:
    """SHA-256 over a fact row's declared columns, in order."""
    return plain_row_hash(table, [plain(v) for v in values])


def plain_row_hash(table: str, values: list[object]) -> str:
    """`row_hash` of values already `plain` (the store reads a table's rows straight to that)."""
    return hashlib.sha256(canonical([table, *values])).hexdigest()


@dataclass(frozen=True)
class FactEntry:
    """One entry of the fact chain: the hash a row had when it was written (None: gone)."""

    seq: int
    recorded_at: datetime
    table: str
    key: str
    row_hash: str | None
    prev_hash: str | None
    hash: str | None


def fact_hash(
    deal_slug: str, seq: int, at: datetime, table: str, key: str, row: str | None, prev: str
) -> str:
    """An entry's hash: its content and the hash of the entry before it."""
    content: list[object] = [VERSION, deal_slug, seq, plain(at), table, key, row, prev]
    return hashlib.sha256(canonical(content)).hexdigest()


def latest(entries: Sequence[FactEntry]) -> dict[tuple[str, str], str | None]:
    """Each fact's hash as last recorded."""
    return {(e.table, e.key): e.row_hash for e in entries if e.table != ADOPT}


def head(entries: Sequence[FactEntry], until: datetime | None = None) -> tuple[int, str] | None:
    """The chain's last entry (recorded by `until` when given): its seq and hash; None if empty."""
    chained = [e for e in entries if e.hash and (until is None or e.recorded_at <= until)]
    return (chained[-1].seq, chained[-1].hash or "") if chained else None


def adopting(entries: Sequence[FactEntry]) -> bool:
    """A deal loaded before facts were kept and not yet adopted: nothing chained, one marker."""
    return bool(entries) and all(e.table == ADOPT for e in entries)


def to_record(
    recorded: Mapping[tuple[str, str], str | None], current: Mapping[tuple[str, str], str]
) -> list[tuple[str, str, str | None]]:
    """What a write adds to the chain: every fact new or changed, and every one gone."""
    added = [(t, k, h) for (t, k), h in current.items() if recorded.get((t, k)) != h]
    gone = [(t, k, None) for (t, k), h in recorded.items() if h and (t, k) not in current]
    return [*added, *gone]


def check_facts(
    deal_slug: str,
    entries: Sequence[FactEntry],
    current: Mapping[tuple[str, str], str],
    labels: Mapping[str, str],
    before: Mapping[tuple[str, str], str] | None = None,
) -> Break | None:
    """None when the fact chain holds and every fact of `labels`' tables stands as last
    recorded (or, for a table with no entry yet, as `before` says it must); else the first
    break, named in words (`Schedule 1 stonestreet: changed in the database ...`)."""
    links = [(e.seq, e.table, e.prev_hash, e.hash) for e in entries]
    broken, expected = links_break(links)
    if broken is not None:
        return broken
    for entry in entries:
        if entry.table != ADOPT:
            rewritten = _rewritten(deal_slug, entry, labels)
            if rewritten is not None:
                return rewritten
    return rows_break(entries, current, labels, expected, before)


def links_break(
    links: Sequence[tuple[int, str, str | None, str | None]],
) -> tuple[Break | None, int]:
    """The first entry of the chain, given as (seq, table, prev_hash, hash) in order, that does
    not follow the one before it (a gap, or a hash the next entry does not link to: an entry
    rewritten and rehashed in place); and the seq the next entry would take."""
    previous = GENESIS
    expected = 1
    for seq, table, prev_hash, hash_ in links:
        if table == ADOPT:
            continue
        if seq != expected or hash_ is None or prev_hash != previous:
            what = "missing" if seq > expected else "changed"
            detail = f"entry #{seq} does not follow the one before it ({what})"
            return Break(FACTS, seq, None, what, detail), expected
        previous = hash_
        expected += 1
    return None, expected


def check_rows(
    deal_slug: str,
    entries: Sequence[FactEntry],
    current: Mapping[tuple[str, str], str],
    labels: Mapping[str, str],
    next_seq: int,
    before: Mapping[tuple[str, str], str] | None = None,
) -> Break | None:
    """`check_facts` for a write about to rely on a few tables, the chain's links known to hold:
    only those tables' `entries` rehashed, and `current`, their rows as they stand, compared with
    them (`next_seq`: the seq the next entry would take)."""
    for entry in entries:
        rewritten = _rewritten(deal_slug, entry, labels)
        if rewritten is not None:
            return rewritten
    return rows_break(entries, current, labels, next_seq, before)


def _rewritten(deal_slug: str, entry: FactEntry, labels: Mapping[str, str]) -> Break | None:
    """A break when `entry` no longer hashes to its own hash."""
    at, table, key = entry.recorded_at, entry.table, entry.key
    prev = entry.prev_hash or ""
    if entry.hash == fact_hash(deal_slug, entry.seq, at, table, key, entry.row_hash, prev):
        return None
    detail = f"entry #{entry.seq} ({_name(labels, entry.table, entry.key)}) was rewritten"
    return Break(FACTS, entry.seq, None, "changed", detail)


def rows_break(
    entries: Sequence[FactEntry],
    current: Mapping[tuple[str, str], str],
    labels: Mapping[str, str],
    next_seq: int,
    before: Mapping[tuple[str, str], str] | None = None,
) -> Break | None:
    """The first fact of `labels`' tables whose row is not as last recorded in `entries` (or
    as `before` says, for a table `entries` has none of)."""
    known = {**(before or {}), **latest(entries)}
    recorded = {(t, k): h for (t, k), h in known.items() if t in labels}
    for table, key, now in to_record(recorded, current):
        name = _name(labels, table, key)
        if now is None:
            what, detail = "gone", f"{name}: deleted from the database (it is in the record)"
        elif (table, key) in recorded and recorded[table, key] is not None:
            what, detail = "changed", f"{name}: changed in the database (not what was recorded)"
        else:
            what, detail = "added", f"{name}: added in the database (never recorded)"
        return Break(FACTS, next_seq, None, what, detail)
    return None


def _name(labels: Mapping[str, str], table: str, key: str) -> str:
    return f"{labels.get(table, table)} {key}"
