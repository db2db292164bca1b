"""The deal's record for the closing memo and the binder (`closing report`, `closing export`):
every event with the hashes stored with it, in the order appended, and each load of its deal
file, read in one transaction; and for the memo, its board, verification and funds flow read in
that same transaction (`memo_inputs`), so that a mark landing meanwhile is in all or none."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from closing.domain.board import Board
from closing.domain.clock import LocalTime, as_of_moment
from closing.domain.deal import Deal
from closing.domain.funds import Statement
from closing.domain.record import DealRecord, DealRevision, RecordEntry
from closing.services.board import read_board
from closing.services.deals import open_deal
from closing.services.documents import ClosingSet, read_closing_set
from closing.services.funds import statement_on
from closing.services.verify import LogCheck, verify_on
from closing.store import deals as stored_deals
from closing.store import events as log
from closing.store.connection import Connection, Database
from closing.store.facts import fact_entries


def deal_record(database: Database, deal_name: str | None) -> DealRecord:
    """Every event of the deal with the hashes stored with it, in the order appended, and each
    load of its deal file."""
    with database.transaction(write=False) as connection:
        deal = open_deal(connection, deal_name)
        return record_on(connection, deal, log.chains(connection, deal.id))


def record_on(connection: Connection, deal: Deal, chains: Sequence[log.Chain]) -> DealRecord:
    """`deal_record` inside a transaction the caller holds, from the deal's `chains` as read in
    it (the memo's, as `closing.services.verify.verify_on` checked them)."""
    everyone, company = stored_deals.parties(connection, deal.id, active_only=False)
    parties = {p.slug: p for p in [*everyone, *([company] if company else [])]}
    entries = [
        RecordEntry(parties[chain.party], chained.event, chained.prev_hash, chained.hash)
        for chain in chains
        for chained in chain.events
    ]
    revisions = [
        DealRevision(load.loaded_at, load.source_sha256, tuple(json.loads(load.changes)))
        for load in stored_deals.deal_revisions(connection, deal.id)
    ]
    facts = tuple(fact_entries(connection, deal.id))
    entries.sort(key=lambda entry: entry.event.id)
    return DealRecord(deal, entries, revisions, facts)


@dataclass(frozen=True)
class MemoInputs:
    """What a closing memo certifies, as of one transaction."""

    board: Board
    check: LogCheck
    record: DealRecord
    funds: Statement | None
    closing_set: ClosingSet | None = None  # the binder's documents and files, when asked for


def memo_inputs(
    database: Database,
    deal_name: str | None,
    now: datetime,
    as_of: LocalTime | None = None,
    with_closing_set: bool = False,
) -> MemoInputs:
    """The board (as it stood at `as_of`, when given), the verification of the log (recorded, as
    `closing verify` records it), the record and the funds flow (and for the binder the closing
    set), in one write transaction that reads one snapshot: a mark committed meanwhile is in
    none of them."""
    with database.transaction(snapshot=True) as connection:
        deal = open_deal(connection, deal_name)
        check = verify_on(connection, deal, now)
        board = read_board(connection, deal.slug, now, as_of)
        record = record_on(connection, deal, check.chains)
        funds = None
        if deal.terms.funds_flow is not None:
            moment = as_of_moment(as_of, deal.terms.zone, now, "the funds flow")
            funds = statement_on(connection, deal, moment)[0]
        found = read_closing_set(connection, deal) if with_closing_set else None
    return MemoInputs(board, check, record, funds, found)
