"""What the record reads back as, for `closing history` and `closing deals`: an event beside the
party it belongs to, and a deal's one-line summary (its cutoff, purchasers and events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from closing.domain.events import Event, Purchaser


@dataclass(frozen=True)
class HistoryEntry:
    """An event beside its party, with its number in its deal (its place in the deal's log,
    from 1: what people are shown; `event.id` is the database's, across deals)."""

    purchaser: Purchaser
    event: Event
    number: int


@dataclass(frozen=True)
class DealSummary:
    slug: str
    title: str
    closing_date: date
    cutoff: datetime
    purchasers: int
    events: int
