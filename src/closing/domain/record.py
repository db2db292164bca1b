"""The record of a deal as the memo and the export read it: every event of the log with its party
and the hashes stored with it, and every load of the deal file that changed the deal.

Pure values; a service reads them from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from closing.domain.deal import Deal
from closing.domain.events import Event, Purchaser
from closing.domain.facts import FactEntry


@dataclass(frozen=True)
class RecordEntry:
    """One event of the log, its party, and the hashes stored with it."""

    party: Purchaser
    event: Event
    prev_hash: str | None
    hash: str | None


@dataclass(frozen=True)
class DealRevision:
    """A load of the deal file that changed the deal."""

    loaded_at: datetime
    source_sha256: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class DealRecord:
    """Everything the log holds for a deal, in the order it was appended."""

    deal: Deal
    entries: list[RecordEntry]
    revisions: list[DealRevision]
    facts: tuple[FactEntry, ...] = ()  # the record of facts, whose head joins the digest
