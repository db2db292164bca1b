"""The market's own cutoffs, built in: Fedwire's, DTC's (DWAC) and EDGAR's, each a wall-clock time
in New York on its own business days, with its source; and the words the board uses once one
has passed ("Fedwire is closed: a wire sent now arrives Monday").

A deal file names one as a step's `cutoff:` (the agreement's deadline falls at it) or as its
`practical:` (the market's deadline, shown beside the agreement's; an open step is judged
against the earlier of the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from closing.domain.board import CompanyStatus, PurchaserStatus
    from closing.domain.calendar import BusinessCalendar
    from closing.domain.deal import Deal

NEW_YORK = "America/New_York"


@dataclass(frozen=True)
class MarketCutoff:
    """One market's daily cutoff: `time` in `time_zone`, on the business days of `calendars`."""

    name: str  # as the deal file names it: `fedwire`
    title: str  # as the board says it: `Fedwire`
    time: time
    time_zone: str
    calendars: tuple[str, ...]
    source: str  # where the time comes from, in words
    after: str  # what happens to something sent after it: "a wire sent now arrives"


FEDWIRE = MarketCutoff(
    "fedwire",
    "Fedwire",
    time(18, 0),
    NEW_YORK,
    ("XFED",),
    "the Federal Reserve's Fedwire Funds Service: customer transfers until 6:00 p.m. Eastern "
    "on the Federal Reserve's business days",
    "a wire sent now arrives",
)
# DTC publishes no one time for a DWAC deposit: transfer agents approve them until mid-afternoon
# Eastern on DTC's (the market's) business days. 15:00 New York is the default; a deal whose
# transfer agent keeps another writes it as `{time, time_zone}`.
DTC = MarketCutoff(
    "dtc",
    "DTC",
    time(15, 0),
    NEW_YORK,
    ("NYSE",),
    "DTC's DWAC deposits: approved by the transfer agent until 3:00 p.m. Eastern by default "
    "(write your transfer agent's own time as {time, time_zone}) on the market's business days",
    "a DWAC deposit made now is credited",
)
EDGAR = MarketCutoff(
    "edgar",
    "EDGAR",
    time(17, 30),
    NEW_YORK,
    ("SEC",),
    "the SEC's EDGAR: a filing accepted by 5:30 p.m. Eastern has that day's filing date (EDGAR "
    "accepts filings until 10:00 p.m., dated the next business day) on the SEC's business days",
    "a filing made now is dated",
)
MARKET_CUTOFFS: dict[str, MarketCutoff] = {c.name: c for c in (FEDWIRE, DTC, EDGAR)}
EDGAR_ACCEPTANCE = time(22, 0)  # EDGAR takes filings until then, dated the next business day


def market_cutoff(name: str) -> MarketCutoff:
    """The built-in cutoff called `name`; a `ValueError` naming the known ones otherwise."""
    found = MARKET_CUTOFFS.get(name)
    if found is None:
        raise ValueError(
            f"unknown market cutoff {name!r}; use {', '.join(MARKET_CUTOFFS)} or "
            '{time: "17:00", time_zone: America/Los_Angeles}'
        )
    return found


def practical_title(market: str | None) -> str:
    """How a practical cutoff is named in words: its market's title, or "the market"."""
    return MARKET_CUTOFFS[market].title if market in MARKET_CUTOFFS else "the market"


def when_next(day: date, now_day: date) -> str:
    """`today`, `tomorrow`, a weekday within the week (`Monday`), else the date."""
    gap = (day - now_day).days
    if gap == 0:
        return "today"
    if gap == 1:
        return "tomorrow"
    if 1 < gap < 7:
        return day.strftime("%A")
    return day.strftime("%a %Y-%m-%d")


def closed_words(market: MarketCutoff, calendar: BusinessCalendar, now: datetime) -> str:
    """What the board says once a step's `market` cutoff has passed at `now`: "Fedwire is closed:
    a wire sent now arrives Monday" (the next of the market's business days, in its own zone),
    or, on a later business day before the cutoff, "Fedwire is open: a wire sent now arrives
    today"."""
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(market.time_zone))
    today = local.date()
    if calendar.is_business_day(today) and local.time() < market.time:
        return f"{market.title} is open: {market.after} today"
    opens = calendar.next_business_day(today)
    return f"{market.title} is closed: {market.after} {when_next(opens, today)}"


def step_back(day: date, calendar: BusinessCalendar) -> date:
    """`day` if it is one of `calendar`'s business days, else the business day before it."""
    while not calendar.is_business_day(day):
        day -= timedelta(days=1)
    return day


def markets_closed(
    deal: Deal, rows: list[PurchaserStatus], company: CompanyStatus, now: datetime
) -> tuple[tuple[str, datetime, str], ...]:
    """(step id, cutoff, words) for each step with a market's practical cutoff, earlier than the
    agreement's deadline, passed at `now` with the step still open for the company or someone
    taking part (the latest such cutoff when they differ)."""
    found = []
    for step in deal.terms.steps:
        practical = step.practical
        if practical is None or practical.market is None:
            continue
        statuses = (
            [company.steps[step.id]]
            if step.for_company
            else [row.steps[step.id] for row in rows if step.id in row.steps]
        )
        passed = [
            s.practical
            for s in statuses
            if not s.finished and s.practical is not None and s.market_first and s.practical <= now
        ]
        if passed:
            market = MARKET_CUTOFFS[practical.market]
            words = closed_words(market, deal.calendars.calendar(market.calendars), now)
            found.append((step.id, max(passed), words))
    return tuple(found)
