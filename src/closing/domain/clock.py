"""The one clock of the process.

Everything that needs "now" asks a `Clock`. `CLOSING_NOW` (ISO 8601 with an offset) freezes it for
the whole process, so a past deal can be replayed and tests never sleep.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Protocol
from zoneinfo import ZoneInfo

from closing.domain.errors import UsageError
from closing.domain.text import shortened

# Instants outside these years are refused where they are read: nobody closes a deal in year 1,
# and datetime arithmetic near its limits (year 1, year 9999) overflows.
FIRST_YEAR = 1900
LAST_YEAR = 2199


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a time-zone aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at


class RunningClock:
    """Real time, shifted: it read `at` when the Unix time was `epoch`, and runs at real speed.

    `CLOSING_NOW=2002-06-07T16:59:50-07:00@1764086400` gives every process the same running clock,
    so an alert daemon can be replayed against a past closing day, restarted, and stay in step.
    """

    def __init__(self, at: datetime, epoch: float) -> None:
        if at.tzinfo is None:
            raise ValueError("RunningClock needs a time-zone aware datetime")
        self.at = at
        self.epoch = epoch

    def now(self) -> datetime:
        return (self.at + timedelta(seconds=time.time() - self.epoch)).astimezone(UTC)


def parse_instant(text: str, what: str) -> datetime:
    """Parse an ISO 8601 instant that carries its offset; naive times and times outside the years
    1900 to 2199 are refused."""
    shown = f"'{shortened(text, 60)}'"
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{what} {shown} is not an ISO 8601 time; write it like 2002-06-07T13:00-07:00"
        ) from None
    if value.tzinfo is None:
        raise UsageError(f"{what} {shown} has no UTC offset; add one, like 2002-06-07T13:00-07:00")
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise UsageError(
            f"{what} {shown} is out of range; give a time in the years {FIRST_YEAR} to {LAST_YEAR}"
        )
    return value


def clock_from_env(environ: dict[str, str] | None = None) -> Clock:
    env = os.environ if environ is None else environ
    text = env.get("CLOSING_NOW", "").strip()
    if not text:
        return SystemClock()
    instant, _, epoch = text.partition("@")
    at = parse_instant(instant, "CLOSING_NOW")
    if not epoch:
        return FixedClock(at)
    digits = epoch.strip()
    if not digits.isascii() or not digits.isdigit() or len(digits) > 11:  # 1e3, -5, 1.5: no
        raise UsageError(
            f"CLOSING_NOW '{shortened(text, 60)}': after @ comes the Unix time (whole seconds) at "
            "which the clock read that instant, like 2002-06-07T16:59:50-07:00@1764086400"
        )
    clock = RunningClock(at, int(digits))
    try:
        reading = clock.now()
        local = reading.astimezone(at.tzinfo).year
    except OverflowError:  # before year 1 or after 9999
        reading, local = at.replace(year=1), 1
    if not FIRST_YEAR <= reading.year <= LAST_YEAR or not FIRST_YEAR <= local <= LAST_YEAR:
        raise UsageError(
            f"CLOSING_NOW '{shortened(text, 60)}' reads {reading:%Y-%m-%d} now, out of range; "
            f"the clock must stay in the years {FIRST_YEAR} to {LAST_YEAR}"
        )
    return clock


# A time the operator typed: an instant when it has an offset, else a wall-clock date and time or
# a time of day, read in the deal's zone once the deal is known (`resolve_local`).
LocalTime = datetime | dtime


def parse_local(text: str, what: str) -> LocalTime:
    """`2002-06-07T08:30-07:00` (an instant), `2002-06-07 08:30` or `08:30` (the deal's zone);
    dates outside the years 1900 to 2199 are refused."""
    value = text.strip()
    shown = f"'{shortened(text, 60)}'"
    try:
        if len(value) <= 8 and ":" in value:
            return dtime.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{what} {shown} is not a time; write it like 08:30, 2002-06-07 08:30 or "
            "2002-06-07T08:30-07:00"
        ) from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise UsageError(
            f"{what} {shown} is out of range; give a time in the years {FIRST_YEAR} to {LAST_YEAR}"
        )
    return moment


def resolve_local(value: LocalTime, zone: ZoneInfo, now: datetime) -> datetime:
    """An aware instant: as given with an offset, else in `zone` (a time of day: on today's date
    in `zone`). A wall-clock time the clocks skipped at a DST change, or one that happens twice,
    is refused: the record does not guess which instant was meant; an offset says."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value
        moment = value.replace(tzinfo=zone)
    else:
        moment = datetime.combine(now.astimezone(zone).date(), value, tzinfo=zone)
    _check_wall_clock(moment, zone)
    return moment


def _check_wall_clock(moment: datetime, zone: ZoneInfo) -> None:
    """Refuse a wall-clock time in `zone` that does not exist or exists twice (a DST change)."""
    wall = moment.replace(tzinfo=None)
    shown = wall.strftime("%Y-%m-%d %H:%M" + (":%S" if wall.second else ""))
    iso = wall.strftime("%Y-%m-%dT%H:%M" + (":%S" if wall.second else ""))
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        after = moment.astimezone(UTC).astimezone(zone)
        raise UsageError(
            f"{shown} does not exist in {zone.key}: the clocks skipped it for daylight saving "
            f"time; give the time with its offset (like {after.isoformat(timespec='minutes')})"
        )
    first, second = moment.replace(fold=0), moment.replace(fold=1)
    if first.utcoffset() != second.utcoffset():
        raise UsageError(
            f"{shown} happens twice in {zone.key}: the clocks went back; give the time with its "
            f"offset: {iso}{_offset(first)} (the first) or {iso}{_offset(second)} (the second)"
        )


def _offset(moment: datetime) -> str:
    return moment.isoformat()[-6:]


def as_of_moment(as_of: LocalTime | None, zone: ZoneInfo, now: datetime, what: str) -> datetime:
    """The moment an `--as-of` names (now without one); a moment after now is refused: `what`
    (the board, the funds flow) can only show the past."""
    if as_of is None:
        return now
    when = resolve_local(as_of, zone, now)
    if when > now:
        from closing.domain.timefmt import local

        raise UsageError(
            f"--as-of {local(when, zone)} is in the future; {what} can only show the past"
        )
    return when
