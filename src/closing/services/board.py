"""Reading the board and the history: the status board now or as it stood at a moment (`closing
status`, `watch`, the web board), the record's health shown with it, and every event of the deal
or of one party (`closing history`). Each opens one read-only transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from closing.domain.board import Board, build_board
from closing.domain.board_expiry import board_expires
from closing.domain.clock import LocalTime, as_of_moment
from closing.domain.deal import Deal
from closing.domain.errors import UsageError
from closing.domain.history import HistoryEntry, on_schedule_at, reloads_after
from closing.domain.owners import for_owner, known_owner, party_of_operator
from closing.domain.text import plural
from closing.domain.timefmt import local
from closing.services.deals import find_purchaser, open_deal
from closing.store import alerts, facts, identity, verifications, wires
from closing.store import deals as stored_deals
from closing.store import events as log
from closing.store.board_cache import BoardCache, KeptBoard
from closing.store.connection import Connection, Database


def board(
    database: Database,
    deal_name: str | None,
    now: datetime,
    as_of: LocalTime | None = None,
    owner: str | None = None,
    mine: bool = False,
) -> Board:
    """The board now, or as it stood at `as_of` (in the deal's zone when it has no offset): only
    events recorded by then count. With `owner` only the steps that party owns; with `mine`
    only those of the party whose `members` name the operator as the system authenticated them
    (`--mine`). One read-only transaction."""
    if owner is not None and mine:
        raise UsageError("--owner and --mine cannot be used together")
    with database.transaction(write=False, snapshot=True) as connection:
        shown = read_board(connection, deal_name, now, as_of)
        member = identity.actor(connection) if mine else None
    slugs = {row.purchaser.slug for row in shown.purchasers}
    if member is not None:
        return for_owner(shown, party_of_operator(shown.terms, member))
    if owner is None:
        return shown
    return for_owner(shown, known_owner(shown.terms, owner or "", slugs))


def read_board(
    connection: Connection, deal_name: str | None, now: datetime, as_of: LocalTime | None = None
) -> Board:
    """`board` inside a transaction the caller holds (the web board reads its change marker and
    share links in the same one)."""
    deal = open_deal(connection, deal_name)
    return _board_of(
        connection, deal, as_of_moment(as_of, deal.terms.zone, now, "the board"), as_of
    )


def _board_of(
    connection: Connection, deal: Deal, now: datetime, as_of: LocalTime | None = None
) -> Board:
    purchasers, company = stored_deals.parties(connection, deal.id, active_only=as_of is None)
    if as_of is not None:  # Schedule 1 as it stood then: none loaded later, none taken off since
        purchasers = on_schedule_at(purchasers, facts.schedule_times(connection, deal.id), now)
    events = log.events_by_party(connection, deal.id, now)
    failing = alerts.failing_deliveries(connection, deal.id)
    instructions = wires.wire_status_of(connection, deal.id, as_of=now)
    warning = record_warning(connection, deal)
    shown = build_board(deal, purchasers, events, now, failing, company, instructions)
    if as_of is not None and company is not None:
        later = reloads_after(log.party_events(connection, company.id), now)
        shown = replace(shown, reloaded_since=later) if later else shown
    if deal.terms.documents:
        from closing.domain.documents import copies

        parties = [*([company] if company else []), *purchasers]
        shown = replace(shown, documents=tuple(copies(deal, parties, events)))
    return replace(shown, record_warning=warning) if warning else shown


def record_warning(connection: Connection, deal: Deal) -> str | None:
    """One line when the last `closing verify` failed (as its row says, or the last result the
    record of facts keeps), when that result's row was changed or deleted, or when the event log
    is shorter or longer than its chains' heads say (a deleted event, one added, a row of no
    party); None when all looks well."""
    kept = verifications.last_kept(connection, deal.id)
    if kept is not None and not kept.stands:
        return (
            f"The result of closing verify at {local(kept.at, deal.terms.zone)} was changed or "
            "deleted in the database; run closing verify"
        )
    last = verifications.last_verification(connection, deal.id)
    for failed in (last, kept):  # the last kept: a failure's row deleted, a good one added
        if failed is not None and not failed.ok:
            return (
                f"The event log failed verification at {local(failed.at, deal.terms.zone)}: "
                f"{failed.detail}; see closing verify"
            )
    events, counted = log.chain_lengths(connection, deal.id)
    if events == counted:
        return None
    strays = log.stray_events(connection, deal.id)
    if strays:
        return (
            f"The event log has {plural(len(strays), 'event')} of no party of the deal (added "
            "in the database); run closing verify"
        )
    more = "more" if events > counted else "fewer"
    return f"The event log has {more} events than its chains record; run closing verify"


class KeptStatus:
    """`closing status --json` of a whole deal on a SQLite file: the document printed before,
    while the database's files are as they were and it holds at `now`
    (`closing.store.board_cache`); else the board, and until when it holds, to keep the new
    document by."""

    def __init__(self, database: Database, deal_name: str | None, now: datetime) -> None:
        self.database, self.deal_name, self.now = database, deal_name, now
        self.cache = BoardCache.of(database, deal_name)  # its key: the files before reading
        self.until: datetime | None = None

    def kept(self) -> KeptBoard | None:
        return None if self.cache is None else self.cache.read(self.now)

    def board(self) -> Board:
        """The board now (`board`), and when it stops holding (`self.until`): the first moment
        it would read otherwise (`board_expires`) or the next record dated after now."""
        now = self.now
        with self.database.transaction(write=False, snapshot=True) as connection:
            deal = open_deal(connection, self.deal_name)
            shown = _board_of(connection, deal, now)
            later = [log.first_logged_after(connection, deal.id, now)]
            for version in wires.wire_versions(connection, deal.id):
                later += [version.entered_at, version.verified_at]
        self.until = board_expires(shown, [m for m in later if m is not None and m > now])
        return shown

    def keep(self, pieces: Sequence[bytes | memoryview], as_of: tuple[int, int], zone: str) -> None:
        """Keep the document made of `board()` (in `pieces`; `as_of`: where its value lies, in
        the time zone `zone`)."""
        if self.cache is not None and self.until is not None:
            self.cache.keep(pieces, as_of, zone, self.now, self.until)


@dataclass(frozen=True)
class History:
    """`closing history`: the deal, its events (or one party's) in the order recorded, and the
    record's health (`record_warning`)."""

    deal: Deal
    entries: list[HistoryEntry]
    warning: str | None


def history(database: Database, deal_name: str | None, purchaser_text: str | None) -> History:
    with database.transaction(write=False) as connection:
        deal = open_deal(connection, deal_name)
        if purchaser_text:
            one = find_purchaser(connection, deal, purchaser_text)
            purchasers = {one.id: one}
            events = log.party_events(connection, one.id)
        else:
            everyone, company = stored_deals.parties(connection, deal.id, active_only=False)
            purchasers = {p.id: p for p in [*everyone, *([company] if company else [])]}
            events = log.deal_events(connection, deal.id)
        warning = record_warning(connection, deal)
        numbers = log.event_numbers(connection, deal.id)
    entries = [HistoryEntry(purchasers[e.purchaser_id], e, numbers[e.id]) for e in events]
    entries.sort(key=lambda entry: (entry.event.logged_at, entry.event.id))
    return History(deal, entries, warning)
