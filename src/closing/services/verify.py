"""`closing verify`: recompute every chain of the deal's event log (`closing.domain.chain`),
check each ends where its party's head says, check every stored fact against the record of
facts (`closing.domain.facts`: the terms, Schedule 1, wire instructions, credits, links), and
record the outcome (the board warns of a failed one); the heads and the record's digest prove
the record later, and so does a seal of them (`closing verify --seal`): every head it pinned
must still be in its chain, unchanged."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from closing.domain.chain import Break, check_chain, record_digest
from closing.domain.deal import Deal
from closing.domain.documents import read_attachment
from closing.domain.errors import RecordBrokenError
from closing.domain.events import ATTACH
from closing.domain.facts import FACTS, adopting, check_facts, latest
from closing.domain.facts import head as fact_head
from closing.domain.seal import Seal, SealedHead, first_gone
from closing.services.deals import open_deal
from closing.store import events as log
from closing.store import files, verifications
from closing.store.connection import Connection, Database
from closing.store.facts import (
    LABELS,
    current_facts,
    earlier_facts,
    fact_entries,
    record_facts,
)


@dataclass(frozen=True)
class LogCheck:
    """What `closing verify` found: every chain's head, or the first break."""

    deal: Deal
    events: int
    heads: dict[str, str]  # party slug -> head hash (the company row's slug is @company)
    broken: Break | None
    lengths: dict[str, int]  # party slug -> its chain's head seq
    gone: tuple[SealedHead, str] | None = None  # the first sealed head gone, and what became of it
    chains: tuple[log.Chain, ...] = ()  # the chains as read and checked (the memo's record)
    number: int | None = None  # the broken event's number in `closing history`, when it has one

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def digest(self) -> str:
        """One hash over every chain's head (sorted by party): the whole record in 64 letters."""
        return record_digest(self.heads)


def verify_log(
    database: Database, deal_name: str | None, now: datetime, seal: Seal | None = None
) -> LogCheck:
    """Recompute every chain of the deal, and check it still holds the heads of `seal` when one
    is given; record the outcome (the board warns of a failed one)."""
    with database.transaction() as connection:
        return verify_on(connection, open_deal(connection, deal_name), now, seal)


def verify_on(
    connection: Connection, deal: Deal, now: datetime, seal: Seal | None = None
) -> LogCheck:
    """`verify_log` inside a write transaction the caller holds (the memo reads its board and
    record in the same one)."""
    if seal is not None and seal.deal != deal.slug:
        raise RecordBrokenError(f"the seal is of deal {seal.deal}, not of {deal.slug}")
    broken: Break | None = None
    heads: dict[str, str] = {}
    lengths: dict[str, int] = {}
    events = 0
    stored = log.chains(connection, deal.id)
    for chain in stored:
        events += len(chain.events)
        broken = broken or check_chain(deal.slug, chain.party, chain.events) or _head_break(chain)
        if chain.events and chain.events[-1].hash:
            heads[chain.party] = chain.events[-1].hash or ""
            lengths[chain.party] = chain.events[-1].event.seq
    broken = broken or _stray_break(connection, deal) or _file_break(connection, stored)
    facts = fact_entries(connection, deal.id)
    if adopting(facts):  # a deal loaded before facts were kept: they stand as they are
        record_facts(connection, deal.id, now)
        facts = fact_entries(connection, deal.id)
    current = current_facts(connection, deal.id, recorded=latest(facts))
    before = earlier_facts(connection, deal.id, facts)
    broken = broken or check_facts(deal.slug, facts, current, LABELS, before)
    last = fact_head(facts)
    if last is not None:
        lengths[FACTS], heads[FACTS] = last
    chained = {chain.party: [(c.event.seq, c.hash) for c in chain.events] for chain in stored}
    chained[FACTS] = [(e.seq, e.hash) for e in facts if e.hash]
    gone = None if seal is None else _first_gone(seal, chained)
    number = None if broken is None else _history_number(connection, deal, stored, broken)
    detail = (
        f"{broken_event(broken, number)}: {broken.what}: {broken.detail}"
        if broken is not None
        else f"sealed head of {gone[0].party} #{gone[0].seq} is gone: {gone[1]}"
        if gone is not None
        else ""
    )
    ok = broken is None and gone is None
    kept = verifications.record_result(connection, deal.id, now, ok, events, detail)
    if kept is not None:  # a failure, or the first good result after one: the chain's new head
        lengths[FACTS], heads[FACTS] = kept
    return LogCheck(deal, events, heads, broken, lengths, gone, tuple(stored), number)


def _history_number(
    connection: Connection, deal: Deal, stored: list[log.Chain], broken: Break
) -> int | None:
    """The number `closing history` shows for the broken event, #seq of its chain (None: a fact,
    a stray row, or no such event: one missing, say)."""
    for chain in stored:
        if chain.party == broken.party:
            for chained in chain.events:
                event = chained.event
                if event.seq == broken.seq and event.id == broken.event_id:
                    return log.event_numbers(connection, deal.id).get(event.id)
    return None


def broken_event(broken: Break, number: int | None) -> str:
    """How a break is named where its chain is: `stonestreet #6 (history #13)`, or `@facts #4`."""
    return f"{broken.party} #{broken.seq}" + (f" (history #{number})" if number else "")


def _stray_break(connection: Connection, deal: Deal) -> Break | None:
    """An event row that names the deal but none of its parties, or one of its parties but
    another deal, is no event of the deal (no reader sees it): a row added or changed."""
    for stray in log.stray_events(connection, deal.id):
        if stray.party is None:
            party = f"purchaser id {stray.party_id}"
            detail = f"its row (id {stray.id}) names none of the deal's parties"
        else:
            party = stray.party
            detail = f"its row (id {stray.id}) names deal id {stray.deal_id}, not {deal.slug}"
        detail += " (a stray row, added or changed in the database)"
        return Break(party, stray.seq, stray.id, "stray", detail)
    return None


def _file_break(connection: Connection, stored: list[log.Chain]) -> Break | None:
    """Every file an `attach` event names must still be kept, its bytes matching its SHA-256."""
    checked: dict[str, str | None] = {}
    for chain in stored:
        for chained in chain.events:
            event = chained.event
            if event.kind != ATTACH:
                continue
            page = read_attachment(chain.party, event)
            if page.sha256 not in checked:
                pieces = files.file_pieces(connection, page.sha256)  # a piece at a time
                checked[page.sha256] = (
                    "its bytes are gone from the database"
                    if pieces is None
                    else None
                    if _sha256(pieces) == page.sha256
                    else "its stored bytes no longer match its SHA-256 (changed in the database)"
                )
            what = checked[page.sha256]
            if what is not None:
                detail = f"file {page.name} of {page.document} (sha256 {page.sha256[:16]}): {what}"
                return Break(chain.party, event.seq, event.id, "file changed", detail)
    return None


def _first_gone(
    seal: Seal, chains: dict[str, list[tuple[int, str | None]]]
) -> tuple[SealedHead, str] | None:
    """The first of the seal's heads no longer in its chain, unchanged, and what became of it."""
    for head in seal.heads:
        chain = chains.get(head.party)
        what = "its party is gone" if chain is None else first_gone(head, chain)
        if what is not None:
            return head, what
    return None


def _head_break(chain: log.Chain) -> Break | None:
    """The chain must end where its party's head says: a deleted last event, or a head moved."""
    last = chain.events[-1] if chain.events else None
    length = last.event.seq if last else 0
    if chain.head_seq > length:
        return Break(
            chain.party,
            length + 1,
            None,
            "missing",
            f"the chain ends at #{length} but its head says #{chain.head_seq} (events deleted)",
        )
    if last is not None and (chain.head_seq != length or chain.head_hash != last.hash):
        return Break(chain.party, length, last.event.id, "changed", "its head was rewritten")
    return None


def _sha256(pieces: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    return digest.hexdigest()
