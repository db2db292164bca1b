"""Until when a board stays true as the clock moves on with nothing recorded: the first instant
at which anything it shows could read otherwise. A board depends on the moment only through
its open steps' deadlines (pending, then due soon `DUE_SOON` before the earlier of the
agreement's and the market's deadline, then overdue after it), the lapse dates (the outside
date, a step's own `lapses_at`), the market cutoffs it names as passed and the words it says of
them (which read the market's day and its time of day), and the records dated after the moment
(a clock set back: an event or a wire verification logged later does not count yet).

Pure: `closing status --json` keeps the document it printed until this instant or the next
change to the database, whichever comes first (`closing.store.board_cache`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from closing.domain.board import DUE_SOON, FINISHED, Board
from closing.domain.cutoffs import MARKET_CUTOFFS

_TICK = timedelta(microseconds=1)  # the finest step of a datetime


def board_expires(board: Board, later_records: Iterable[datetime] = ()) -> datetime:
    """The first instant after `board.as_of` at which `board` may no longer be the board at
    that instant (events, instructions and alerts unchanged). `later_records`: the moments of
    records logged after `board.as_of` (each one's own moment counts from then on).

    Each instant where something turns (a step's status at its due time minus `DUE_SOON`, and
    again just after its due time; a lapse date's end; a market's midnight and cutoff) is taken
    with the instant a microsecond after it, so that a comparison of either kind (`<` or `<=`)
    is on the safe side."""
    now = board.as_of
    turns: list[datetime] = list(later_records)
    terms = board.terms
    # Thousands of purchasers share a few deadlines: each pair once.
    open_steps = {
        (status.deadline, status.practical)
        for steps in (board.company.steps, *(row.steps for row in board.purchasers))
        for status in steps.values()
        if status.status not in FINISHED
    }
    for deadline, practical in open_steps:
        due = deadline if practical is None or deadline <= practical else practical
        turns += (due - DUE_SOON, due, deadline, *(() if practical is None else (practical,)))
    for step in terms.steps:
        cutoff = step.practical
        market = MARKET_CUTOFFS.get(cutoff.market or "") if cutoff is not None else None
        if market is not None:
            turns.extend(_daily(now, ZoneInfo(market.time_zone), (time(0), market.time)))
    # The deal's own midnight: where the outside date and a step's `lapses_at` end.
    turns.extend(_daily(now, terms.zone, (time(0),)))
    return min(moment for turn in turns for moment in (turn, turn + _TICK) if moment > now)


def _daily(now: datetime, zone: ZoneInfo, times: tuple[time, ...]) -> list[datetime]:
    """The instants of `times` of day in `zone` on the day of `now` there and the next two."""
    today = now.astimezone(zone).date()
    return [
        datetime.combine(today + timedelta(days=offset), at, tzinfo=zone).astimezone(UTC)
        for offset in range(3)
        for at in times
    ]
