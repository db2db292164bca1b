"""What the record reads back as, for `closing history` and `closing deals`: an event beside the
party it belongs to, a deal's one-line summary (its cutoff, purchasers and events), and who was
on Schedule 1 at a moment (a board `--as-of`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from closing.domain.events import REVISION, Event, Purchaser


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


def on_schedule_at(
    purchasers: Sequence[Purchaser],
    times: Mapping[str, tuple[datetime, datetime]],
    moment: datetime,
) -> list[Purchaser]:
    """The purchasers (active or not) that were on Schedule 1 at `moment`: loaded by then, and
    still active or taken off it later (its row's last change, after `moment`, is then its
    removal). `times`: each row's first and last entry in the record of facts; a purchaser
    without any (a deal whose facts were adopted) counts as it stands now."""
    found = []
    for purchaser in purchasers:
        known = times.get(purchaser.slug)
        if known is None:
            if purchaser.active:
                found.append(purchaser)
            continue
        first, last = known
        if first <= moment and (purchaser.active or last > moment):
            found.append(purchaser)
    return found


def reloads_after(events: Sequence[Event], moment: datetime) -> tuple[tuple[datetime, str], ...]:
    """The reloads of the deal file recorded after `moment` (each when, and what it changed in
    words, without what was accepted), from the deal's own events: a board or memo as of
    `moment` shows the terms as they are loaded now, and says so."""
    return tuple(
        (event.logged_at, (event.note or "").rpartition(" | ")[2])
        for event in events
        if event.kind == REVISION and event.logged_at > moment
    )
