"""Finding the deal and reading the board, on a driver-level reader (`closing.store.direct`).

The same functions serve a SQLAlchemy session (through `closing.store.queries.reader`) and
`closing status` on a SQLite file opened without SQLAlchemy (`board_on_file`), so that both say the
same thing, refuse the same way and build the same board.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from closing.domain.board import Board, build_board
from closing.domain.clock import LocalTime, resolve_local
from closing.domain.deal import Deal
from closing.domain.errors import NotFoundError, UsageError
from closing.domain.timefmt import local
from closing.store import alerts, direct, wires
from closing.store.connection import Connection as Reader


def open_deal(reader: Reader, wanted: str | None) -> Deal:
    """The deal named (slug or unambiguous prefix), or the only deal there is."""
    if wanted:
        found = direct.deals(reader, slug=wanted)
        if not found:
            found = direct.deals(reader, slug_prefix=wanted)
            if len(found) > 1:
                raise NotFoundError(
                    f"deal {wanted!r} is ambiguous: {', '.join(d.slug for d in found)}; "
                    "give more of its name"
                )
            if not found:
                raise NotFoundError(f"no deal {wanted!r}; {_deal_hint(reader)}")
        return found[0]
    found = direct.deals(reader, limit=11)
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFoundError("no deal loaded yet; load one with: closing init FILE")
    raise NotFoundError(
        f"several deals are loaded ({', '.join(d.slug for d in found[:10])}); name one with "
        "--deal SLUG or CLOSING_DEAL"
    )


def _deal_hint(reader: Reader) -> str:
    slugs = direct.deal_slugs(reader, limit=10)
    if not slugs:
        return "no deal loaded yet; load one with: closing init FILE"
    return f"loaded deals: {', '.join(slugs)}"


def read_board(
    reader: Reader, deal_name: str | None, now: datetime, as_of: LocalTime | None = None
) -> Board:
    """The board now, or as it stood at `as_of` (in the deal's zone when it has no offset): only
    events recorded by then count."""
    deal = open_deal(reader, deal_name)
    if as_of is not None:
        when = resolve_local(as_of, deal.terms.zone, now)
        if when > now:
            raise UsageError(
                f"--as-of {local(when, deal.terms.zone)} is in the future; the board can "
                "only show the past"
            )
        now = when
    purchasers, company = direct.parties(reader, deal.id)
    events = direct.events_by_party(reader, deal.id, now)
    failing = alerts.failing_deliveries(reader, deal.id)
    instructions = wires.wire_status_of(reader, deal.id, as_of=now)
    warning = record_warning(reader, deal)
    shown = build_board(deal, purchasers, events, now, failing, company, instructions)
    return replace(shown, record_warning=warning) if warning else shown


def record_warning(reader: Reader, deal: Deal) -> str | None:
    """One line when the last `closing verify` failed, or when the event log is shorter than its
    chains' heads say (a deleted event); None when all looks well."""
    last = direct.last_verification(reader, deal.id)
    if last is not None and not last[1]:
        return (
            f"The event log failed verification at {local(last[0], deal.terms.zone)}: {last[2]}; "
            "see closing verify"
        )
    if not direct.chain_lengths_agree(reader, deal.id):
        return "The event log has fewer events than its chains record; run closing verify"
    return None


def board_on_file(
    url: str, deal_name: str | None, now: datetime, as_of: LocalTime | None = None
) -> Board | None:
    """The board read straight from a plain SQLite file with the standard library's driver;
    None when the database is not one it can read that way (not SQLite, an older schema, a
    driver error): the caller then reads it through the store."""
    return direct.on_sqlite_file(url, lambda reader: read_board(reader, deal_name, now, as_of))
