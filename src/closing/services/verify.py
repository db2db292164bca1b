"""`closing verify`: recompute every chain of the deal's event log (`closing.domain.chain`),
check each ends where its party's head says, and record the outcome (the board warns of a failed
one); the heads and the record's digest prove the record later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from closing.domain.chain import Break, check_chain, record_digest
from closing.domain.deal import Deal
from closing.services.deals import open_deal
from closing.store import events as log
from closing.store.connection import Database


@dataclass(frozen=True)
class LogCheck:
    """What `closing verify` found: every chain's head, or the first break."""

    deal: Deal
    events: int
    heads: dict[str, str]  # party slug -> head hash (the company row's slug is @company)
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def digest(self) -> str:
        """One hash over every chain's head (sorted by party): the whole record in 64 letters."""
        return record_digest(self.heads)


def verify_log(database: Database, deal_name: str | None, now: datetime) -> LogCheck:
    """Recompute every chain of the deal; record the outcome (the board warns of a failed one)."""
    with database.transaction() as connection:
        deal = open_deal(connection, deal_name)
        broken: Break | None = None
        heads: dict[str, str] = {}
        events = 0
        for chain in log.chains(connection, deal.id):
            events += len(chain.events)
            broken = (
                broken or check_chain(deal.slug, chain.party, chain.events) or _head_break(chain)
            )
            if chain.events and chain.events[-1].hash:
                heads[chain.party] = chain.events[-1].hash or ""
        detail = (
            ""
            if broken is None
            else f"{broken.party} #{broken.seq}: {broken.what}: {broken.detail}"
        )
        log.insert_verification(connection, deal.id, now, broken is None, events, detail)
    return LogCheck(deal, events, heads, broken)


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
