"""Business days and close-of-business cutoffs.

A business day is a weekday on which none of the deal's calendars is closed. Calendars are the
`holidays` package's financial calendars (`NYSE`, `XFED` for the Federal Reserve), plus closure
dates the deal file adds. Cutoffs are wall-clock times in the deal's zone, turned into aware
datetimes with zoneinfo so that they stay right across daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

KNOWN_CALENDARS = ("NYSE", "XFED")


def closures_for(calendars: Iterable[str], years: Iterable[int]) -> dict[date, str]:
    """Every date on which one of `calendars` is closed in `years`, with the holiday's name."""
    import holidays  # imported here: it is only needed when a deal is loaded or a date is far out

    closed: dict[date, str] = {}
    year_list = sorted(set(years))
    for name in calendars:
        for day, label in holidays.financial_holidays(name, years=year_list).items():
            closed.setdefault(day, f"{label} ({name})")
    return closed


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
    """The closures of the closing year and the next, as JSON stored with the deal (so reading
    the board never imports `holidays`)."""
    import json

    years = [closing_date.year, closing_date.year + 1]
    closed = closures_for(calendars, years)
    return json.dumps(
        {
            "years": years,
            "closures": {day.isoformat(): name for day, name in sorted(closed.items())},
        }
    )


def calendar_from_snapshot(
    calendars: Iterable[str], extra_closures: Iterable[date], snapshot: str
) -> BusinessCalendar:
    import json

    data = json.loads(snapshot)
    return BusinessCalendar(
        calendars,
        extra_closures,
        known_closures={date.fromisoformat(k): v for k, v in data["closures"].items()},
        known_years=data["years"],
    )
