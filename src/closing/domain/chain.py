"""The tamper-evident event log: each event's hash covers its canonical content and the previous
event's hash, one chain per party (each purchaser, and the company row, which also carries the
deal's own events such as accepted reloads).

Pure: `event_hash` is what `append` stores and what `verify` recomputes; `check_chain` names the
first event of a chain that does not hold and what is wrong with it. A change, a deletion, an
insertion or a swap anywhere in a chain breaks it; an event forged at the end of a chain with a
recomputed hash does not, which is why `closing verify` prints the head hashes: written into the
closing memo or anywhere outside the database, they pin the whole record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson

from closing.domain.events import Event
from closing.domain.timefmt import utc_text

GENESIS = "0" * 64
# What json.dumps(content, ensure_ascii=False, separators=(",", ":")) uses, built once.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
VERSION = "closing-event/1"  # an event whose actor was typed (before migration 0008)
VERSION_2 = "closing-event/2"  # an authenticated actor, and for whom it acted
VERSION_3 = "closing-event/3"  # ... recorded in a rehearsal: the rehearsal clock's time too


def _moment(value: datetime) -> str:
    """`2002-06-07T16:35:00.000000Z`."""
    return utc_text(value) + "Z"


def _amount(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format(value.normalize(), "f") if value.is_finite() else str(value)


def event_hash(deal_slug: str, party_slug: str, event: Event, prev_hash: str) -> str:
    """SHA-256 over the event's canonical content (everything but its row id) and the hash of
    the event before it in the same chain. An event with an authenticated actor is hashed in the
    second form, which covers `on_behalf_of` too: marking an authenticated event self-declared
    (or the other way round) breaks the chain like any other change."""
    rehearsal = event.rehearsal_at
    content: list[object] = [
        VERSION if event.actor_declared else VERSION_2 if rehearsal is None else VERSION_3,
        deal_slug,
        party_slug,
        event.seq,
        event.kind,
        event.step,
        _moment(event.occurred_at),
        _moment(event.recorded_at),
        event.actor,
        event.host,
        event.evidence_kind,
        event.evidence,
        _amount(event.amount),
        event.note,
        prev_hash,
    ]
    if not event.actor_declared:
        content.append(event.on_behalf_of)
    if rehearsal is not None:
        content.append(_moment(rehearsal))
    return hashlib.sha256(canonical(content)).hexdigest()


def canonical(content: list[object]) -> bytes:
    """`json.dumps(content, ensure_ascii=False, separators=(",", ":"))` in UTF-8, the form the
    chain hashes. orjson writes exactly these bytes for the strings, integers and nulls an event
    holds (tests check every code point) in a tenth of the time; what it refuses (a lone
    surrogate) goes the standard library's way, to the same result as before."""
    try:
        return orjson.dumps(content)
    except orjson.JSONEncodeError:
        return _CANONICAL.encode(content).encode()


def record_digest(heads: dict[str, str]) -> str:
    """SHA-256 over `party:head` lines sorted by party: what a memo prints to pin the record."""
    text = "\n".join(f"{party}:{head}" for party, head in sorted(heads.items()))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ChainedEvent:
    """An event as the chain sees it: its content and the hashes stored with it."""

    event: Event
    prev_hash: str | None
    hash: str | None


@dataclass(frozen=True)
class Break:
    """The first event of a chain that does not hold."""

    party: str
    seq: int
    event_id: int | None
    what: str  # changed, missing, inserted, reordered, unhashed
    detail: str


def check_chain(deal_slug: str, party_slug: str, stored: Sequence[ChainedEvent]) -> Break | None:
    """None when the chain holds; else its first break. `stored` is in `seq` order."""
    previous = GENESIS
    expected_seq = 1
    for item in stored:
        event = item.event
        if event.seq != expected_seq:
            what = "missing" if event.seq > expected_seq else "reordered"
            detail = (
                f"event #{expected_seq} is missing (the next is #{event.seq})"
                if what == "missing"
                else f"event #{event.seq} comes after #{expected_seq - 1}"
            )
            return Break(party_slug, expected_seq, event.id, what, detail)
        if item.hash is None or item.prev_hash is None:
            return Break(party_slug, event.seq, event.id, "unhashed", "it has no hash")
        if item.prev_hash != previous:
            return Break(
                party_slug,
                event.seq,
                event.id,
                "inserted",
                "it does not follow the event before it (inserted, deleted before it, or moved)",
            )
        try:
            recomputed = event_hash(deal_slug, party_slug, event, previous)
        except (AttributeError, TypeError, ValueError) as error:
            return Break(party_slug, event.seq, event.id, "changed", f"unreadable: {error}")
        if recomputed != item.hash:
            return Break(
                party_slug,
                event.seq,
                event.id,
                "changed",
                "its content no longer matches its hash (changed after it was recorded)",
            )
        previous = item.hash
        expected_seq += 1
    return None
