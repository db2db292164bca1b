"""Business days and cutoffs: the deal's calendars and daylight-saving changes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from closing.domain.calendar import BusinessCalendar, cutoff_on

PACIFIC = ZoneInfo("America/Los_Angeles")
BOTH = BusinessCalendar(["NYSE", "XFED"])


def test_the_seed_closing_date_is_a_friday_and_the_next_business_day_is_monday() -> None:
    """June 7, 2002 was a Friday; the original warrant is due Monday June 10."""
    assert date(2002, 6, 7).strftime("%A") == "Friday"
    assert BOTH.is_business_day(date(2002, 6, 7))
    assert BOTH.next_business_day(date(2002, 6, 7)) == date(2002, 6, 10)


def test_weekends_are_not_business_days_and_say_so() -> None:
    """A Saturday is closed on every calendar, and the reason names the day."""
    assert BOTH.why_closed(date(2002, 6, 8)) == "Saturday"
    assert BOTH.why_closed(date(2002, 6, 9)) == "Sunday"


def test_columbus_day_closes_the_fed_but_not_the_market() -> None:
    """October 14, 2002: the Federal Reserve was closed, the NYSE open."""
    columbus = date(2002, 10, 14)
    assert not BusinessCalendar(["XFED"]).is_business_day(columbus)
    assert BusinessCalendar(["NYSE"]).is_business_day(columbus)
    assert not BOTH.is_business_day(columbus)
    assert BOTH.next_business_day(date(2002, 10, 11)) == date(2002, 10, 15)


def test_good_friday_closes_the_market_but_not_the_fed() -> None:
    """March 29, 2002: the NYSE was closed for Good Friday, the Fed open."""
    good_friday = date(2002, 3, 29)
    assert not BusinessCalendar(["NYSE"]).is_business_day(good_friday)
    assert BusinessCalendar(["XFED"]).is_business_day(good_friday)
    assert "Good Friday" in (BOTH.why_closed(good_friday) or "")


def test_the_day_after_thanksgiving_is_a_business_day() -> None:
    """November 29, 2002 (the NYSE closes early, but opens) is a business day."""
    assert not BOTH.is_business_day(date(2002, 11, 28))
    assert BOTH.is_business_day(date(2002, 11, 29))
    assert BOTH.next_business_day(date(2002, 11, 27)) == date(2002, 11, 29)


def test_the_unscheduled_closure_of_september_2001_counts() -> None:
    """The market stayed closed September 11-14, 2001."""
    market = BusinessCalendar(["NYSE"])
    assert market.next_business_day(date(2001, 9, 10)) == date(2001, 9, 17)


def test_extra_closures_from_the_deal_file_are_not_business_days() -> None:
    """A closure the deal file adds (say, a national day of mourning) is honoured."""
    calendar = BusinessCalendar(["NYSE", "XFED"], extra_closures=[date(2002, 6, 10)])
    assert calendar.why_closed(date(2002, 6, 10)) == "closure added by the deal file"
    assert calendar.next_business_day(date(2002, 6, 7)) == date(2002, 6, 11)


def test_a_snapshot_of_the_calendars_answers_like_the_calendars() -> None:
    """The closures stored with a deal give the same answers, and years outside it are
    looked up."""
    from closing.domain.calendar import closures_for

    snapshot = BusinessCalendar(
        ["NYSE", "XFED"], known_closures=closures_for(["NYSE", "XFED"], [2002]), known_years=[2002]
    )
    day = date(2002, 1, 1)
    while day < date(2003, 12, 31):
        assert snapshot.is_business_day(day) == BOTH.is_business_day(day), day
        day += timedelta(days=1)


def test_a_cutoff_is_local_wall_clock_time_in_the_deal_zone() -> None:
    """17:00 in Irvine is 17:00 PDT (UTC-7) in June and 17:00 PST (UTC-8) in December."""
    june = cutoff_on(date(2002, 6, 7), time(17), PACIFIC)
    december = cutoff_on(date(2002, 12, 6), time(17), PACIFIC)
    assert june.astimezone(PACIFIC).isoformat() == "2002-06-07T17:00:00-07:00"
    assert december.astimezone(PACIFIC).isoformat() == "2002-12-06T17:00:00-08:00"


def test_the_next_business_day_cutoff_survives_the_end_of_daylight_saving() -> None:
    """Friday Oct 25, 2002 17:00 PDT to Monday Oct 28 17:00 PST is 3 days and 1 hour."""
    friday = cutoff_on(date(2002, 10, 25), time(17), PACIFIC)
    monday = cutoff_on(BOTH.next_business_day(date(2002, 10, 25)), time(17), PACIFIC)
    assert monday.astimezone(PACIFIC).isoformat() == "2002-10-28T17:00:00-08:00"
    assert monday - friday == timedelta(days=3, hours=1)


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        (time(2, 30), "2002-04-07T03:30:00-07:00"),  # does not exist: moves forward
        (time(1, 30), "2002-04-07T01:30:00-08:00"),
    ],
)
def test_a_cutoff_inside_the_spring_forward_gap_lands_on_a_real_instant(
    wall: time, expected: str
) -> None:
    """A wall-clock cutoff that does not exist on the change day becomes the next real time."""
    assert cutoff_on(date(2002, 4, 7), wall, PACIFIC).astimezone(PACIFIC).isoformat() == expected


def test_cutoffs_are_time_zone_aware() -> None:
    """No naive datetimes leave the calendar."""
    moment = cutoff_on(date(2002, 6, 7), time(17), PACIFIC)
    assert moment.tzinfo is not None
    assert moment == datetime(2002, 6, 8, 0, 0, tzinfo=ZoneInfo("UTC"))
