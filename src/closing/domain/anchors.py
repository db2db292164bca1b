"""Counting a `due:` from its anchor: n business days or calendar days after or before a date.

Business days are counted one day at a time on the step's calendars: the n-th business day
strictly after (or before) the anchor; zero business days is the anchor itself when it is a
business day, else the next (after) or the previous (before) one. Calendar days are a plain count
and land where they land: "15 calendar days before the closing" may be a Sunday.
"""

from __future__ import annotations

from datetime import date, timedelta

from closing.domain.calendar import BusinessCalendar

_ONE_DAY = timedelta(days=1)


def count_from(
    anchor: date, count: int, backwards: bool, business: bool, calendar: BusinessCalendar
) -> date:
    """The day `count` days after `anchor` (before it when `backwards`), in business days of
    `calendar` when `business`, else in calendar days."""
    step = -_ONE_DAY if backwards else _ONE_DAY
    if not business:
        return anchor + step * count
    day = anchor
    if count == 0:
        while not calendar.is_business_day(day):
            day += step
        return day
    remaining = count
    while remaining:
        day += step
        if calendar.is_business_day(day):
            remaining -= 1
    return day
