"""Times as people on the deal read them: in the deal's zone, with its abbreviation."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def local(moment: datetime, zone: ZoneInfo) -> str:
    """`2002-06-07 13:00 PDT`."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def duration(delta: timedelta) -> str:
    """`2h 05m`, `3d 4h`, `45m`, `30s`: never negative."""
    seconds = int(abs(delta).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"
