"""The deal's record for the closing memo and the binder (`closing report`, `closing export`):
every event with the hashes stored with it, in the order appended, and each load of its deal
file, read in one transaction."""

from __future__ import annotations

import json

from closing.domain.record import DealRecord, DealRevision, RecordEntry
from closing.services.deals import open_deal
from closing.store import deals as stored_deals
from closing.store import events as log
from closing.store.connection import Database
from closing.store.facts import fact_entries


def deal_record(database: Database, deal_name: str | None) -> DealRecord:
    """Every event of the deal with the hashes stored with it, in the order appended, and each
    load of its deal file."""
    with database.transaction(write=False) as connection:
        deal = open_deal(connection, deal_name)
        everyone, company = stored_deals.parties(connection, deal.id, active_only=False)
        parties = {p.slug: p for p in [*everyone, *([company] if company else [])]}
        entries = [
            RecordEntry(parties[chain.party], chained.event, chained.prev_hash, chained.hash)
            for chain in log.chains(connection, deal.id)
            for chained in chain.events
        ]
        revisions = [
            DealRevision(load.loaded_at, load.source_sha256, tuple(json.loads(load.changes)))
            for load in stored_deals.deal_revisions(connection, deal.id)
        ]
        facts = tuple(fact_entries(connection, deal.id))
    entries.sort(key=lambda entry: entry.event.id)
    return DealRecord(deal, entries, revisions, facts)
