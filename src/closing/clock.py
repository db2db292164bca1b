"""The one clock of the process.

Everything that needs "now" asks a `Clock`. `CLOSING_NOW` (ISO 8601 with an offset) freezes it for
the whole process, so a past deal can be replayed and tests never sleep.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Protocol

from closing.errors import UsageError


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


def parse_instant(text: str, what: str) -> datetime:
    """Parse an ISO 8601 instant that carries its offset; naive times are refused."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{what} {text!r} is not an ISO 8601 time; write it like 2002-06-07T13:00-07:00"
        ) from None
    if value.tzinfo is None:
        raise UsageError(f"{what} {text!r} has no UTC offset; add one, like 2002-06-07T13:00-07:00")
    return value


def clock_from_env(environ: dict[str, str] | None = None) -> Clock:
    env = os.environ if environ is None else environ
    text = env.get("CLOSING_NOW", "").strip()
    if text:
        return FixedClock(parse_instant(text, "CLOSING_NOW"))
    return SystemClock()
