"""Business days and close-of-business cutoffs.

A business day is a weekday on which none of the deal's calendars is closed. Calendars are the
`holidays` package's financial calendars (`NYSE`, `XFED` for the Federal Reserve), `SEC` (the U.S.
federal holidays with their observed days, when the SEC and EDGAR are closed), plus closure
dates the deal file adds. Cutoffs are wall-clock times in the deal's zone, turned into aware
datetimes with zoneinfo so that they stay right across daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

FINANCIAL_CALENDARS = ("NYSE", "XFED")  # the `holidays` package's financial calendars
SEC = "SEC"  # the U.S. federal holidays, observed days included: EDGAR's and the SEC's
KNOWN_CALENDARS = (*FINANCIAL_CALENDARS, SEC)  # the named calendars a deal's business days use


def calendar_problem(name: str) -> str | None:
    """Why `name` is not a calendar closing knows (None when it is one): a financial calendar
    (`NYSE`, `XFED`), the SEC's (`SEC`), or a country or subdivision the `holidays` package knows
    (`CA-ON`, `VG`)."""
    if name in KNOWN_CALENDARS:
        return None
    import holidays

    country, _, subdivision = name.partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        return (
            f"unknown calendar {name!r}; use NYSE, XFED, SEC, or a country or subdivision code "
            "such as CA-ON, VG or GB"
        )
    if subdivision and subdivision not in supported[country]:
        return f"unknown subdivision {name!r}; {country} has {', '.join(supported[country][:12])}"
    return None


def closures_for(calendars: Iterable[str], years: Iterable[int]) -> dict[date, str]:
    """Every date on which one of `calendars` is closed in `years`, with the holiday's name."""
    closed: dict[date, str] = {}
    for name in calendars:
        for day, label in closures_of(name, tuple(sorted(set(years)))).items():
            closed.setdefault(day, label)
    return closed


@lru_cache(maxsize=256)
def closures_of(name: str, years: tuple[int, ...]) -> dict[date, str]:
    """One calendar's closures in `years`: NYSE and XFED from `holidays`' financial calendars,
    SEC the U.S. federal holidays (`holidays`' US calendar: observed days included, so Friday
    July 3, 2026 and Friday June 18, 2021 are closed), anything else a country (`VG`) or
    subdivision (`CA-ON`) of its public holidays."""
    import holidays  # imported here: it is only needed when a deal is loaded or a date is far out

    if name in FINANCIAL_CALENDARS:
        found = holidays.financial_holidays(name, years=list(years))
    elif name == SEC:
        found = holidays.country_holidays("US", years=list(years))
    else:
        country, _, subdivision = name.partition("-")
        found = holidays.country_holidays(country, subdiv=subdivision or None, years=list(years))
    return {day: f"{label} ({name})" for day, label in found.items()}


class BusinessCalendar:
    """Answers "is this a business day" for a deal.

    `known_closures` is a snapshot of the calendars for `known_years` (taken when the deal is
    loaded and stored with it, so that reading the board does not import `holidays`); dates outside
    those years are looked up on demand.
    """

    def __init__(
        self,
        calendars: Iterable[str],
        extra_closures: Iterable[date] = (),
        known_closures: dict[date, str] | None = None,
        known_years: Iterable[int] = (),
    ) -> None:
        self.calendars = tuple(calendars)
        self.extra_closures = frozenset(extra_closures)
        self._closures: dict[date, str] = dict(known_closures or {})
        self._years: set[int] = set(known_years)

    def _closure(self, day: date) -> str | None:
        if day in self.extra_closures:
            return "closure added by the deal file"
        if day.year not in self._years:
            self._closures.update(closures_for(self.calendars, [day.year]))
            self._years.add(day.year)
        return self._closures.get(day)

    def why_closed(self, day: date) -> str | None:
        """None on a business day; otherwise why the day is not one."""
        if day.weekday() >= 5:
            return day.strftime("%A")
        return self._closure(day)

    def is_business_day(self, day: date) -> bool:
        return self.why_closed(day) is None

    def next_business_day(self, day: date, count: int = 1) -> date:
        """The `count`-th business day strictly after `day`."""
        current = day
        remaining = count
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_business_day(current):
                remaining -= 1
        return current


@lru_cache(maxsize=1024)
def cutoff_on(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The close-of-business instant on `day` at wall-clock time `at` in the deal's zone, in UTC.

    It is returned in UTC on purpose: Python subtracts and compares two datetimes that share a
    tzinfo by wall clock, which is an hour off across a daylight-saving change. Display converts
    back to the deal's zone. A wall-clock time inside a spring-forward gap resolves forward; one
    that happens twice (fall back) resolves to its first occurrence (zoneinfo's `fold=0`).
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def calendar_snapshot(calendars: Iterable[str], closing_date: date) -> str:
    """Each calendar's closures in the closing year and the next, as JSON stored with the deal
    (so reading the board never imports `holidays`)."""
    import json

    years = (closing_date.year, closing_date.year + 1)
    by_name = {
        name: {day.isoformat(): label for day, label in sorted(closures_of(name, years).items())}
        for name in sorted(set(calendars))
    }
    return json.dumps({"years": list(years), "calendars": by_name})


class CalendarBook:
    """The business-day calendars of one deal, by the set of calendar names a step uses (the
    deal's own, a step's `calendars`, a purchaser's holidays), built once each from the snapshot
    stored with the deal; extra closures of the deal file apply to every one of them."""

    def __init__(self, extra_closures: Iterable[date], snapshot: str) -> None:
        import json

        data = json.loads(snapshot)
        self.extra_closures = tuple(extra_closures)
        self.years: list[int] = data["years"]
        self.known: dict[str, dict[date, str]] = {
            name: {date.fromisoformat(day): label for day, label in closed.items()}
            for name, closed in data.get("calendars", {}).items()
        }
        self._calendars: dict[tuple[str, ...], BusinessCalendar] = {}

    def calendar(self, names: Iterable[str]) -> BusinessCalendar:
        key = tuple(sorted(set(names)))
        found = self._calendars.get(key)
        if found is None:
            if all(name in self.known for name in key):
                closed: dict[date, str] = {}
                for name in key:
                    for day, label in self.known[name].items():
                        closed.setdefault(day, label)
                found = BusinessCalendar(key, self.extra_closures, closed, self.years)
            else:  # a calendar the snapshot lacks: looked up when first asked
                found = BusinessCalendar(key, self.extra_closures)
            self._calendars[key] = found
        return found
