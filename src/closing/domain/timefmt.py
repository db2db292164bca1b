"""Times as people on the deal read them: in the deal's zone, with its abbreviation; durations as
the deal file writes them (`2h`, `1h30m`) and back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from closing.domain.text import neutral


def local(moment: datetime, zone: ZoneInfo) -> str:
    """`2002-06-07 13:00 PDT`."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


@lru_cache(maxsize=4096)
def utc_text(moment: datetime, sep: str = "T") -> str:
    """`2002-06-07T16:35:00.000000` in UTC: what strftime(f"%Y-%m-%d{sep}%H:%M:%S.%f") writes, by
    isoformat, once per instant (an import of a bank file hashes and stores tens of thousands of
    events that share their recording time). The chain hashes it; SQLite stores it."""
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # isoformat pads the year to four digits, strftime does not
        return utc.strftime(f"%Y-%m-%d{sep}%H:%M:%S.%f")
    return utc.isoformat(sep=sep, timespec="microseconds")[:26]


def duration(delta: timedelta, style: str = "words") -> str:
    """A length of time, never negative, in one of three spellings:

    - `words` (alerts, messages): its two largest units, `2h 05m`, `3d 4h`, `45m`, `30s`;
    - `compact` (board cells): the same without the space, `2h05m`, `3d4h`;
    - `exact` (the deal file's own spelling, alert rule names): every unit that is not zero and
      nothing dropped, `2h`, `1h30m`, `45s`.
    """
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if style == "exact":
        units = ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s"))
        return "".join(f"{n}{unit}" for n, unit in units if n) or "0s"
    space = "" if style == "compact" else " "
    if days:
        return f"{days}d{space}{hours}h"
    if hours:
        return f"{hours}h{space}{minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


_DURATION = re.compile(
    r"^(?:(\d{1,15})d)?\s*(?:(\d{1,15})h)?\s*(?:(\d{1,15})m)?\s*(?:(\d{1,15})s)?$"
)
MAX_DURATION = timedelta(days=31)


def parse_duration(value: object) -> timedelta:
    """`2h`, `30m`, `1h30m`, `45s`, `0m` -> timedelta; at most 31 days."""
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().replace(" ", "")
    match = _DURATION.match(text)
    if not text or not match or not any(match.groups()):
        raise ValueError(
            f"'{neutral(text[:40])}' is not a duration; write it like 2h, 30m, 1h30m or 45s"
        )
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total > MAX_DURATION.total_seconds():
        raise ValueError(f"{text} is longer than {MAX_DURATION.days} days")
    return timedelta(seconds=total)
