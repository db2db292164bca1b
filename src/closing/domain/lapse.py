"""The outside date: a closing not done by the end of the deal file's `outside_date` (in the
deal's zone) has lapsed, and so has the part of each purchaser not closed by then; a step's own
`lapses_at` lapses the purchaser's part when that step is still open after that day. Past it the
board, the memo and the alerts say so, `status --json` has `lapsed`, and a mark dated after it
needs `--out-of-order` (flagged, `closing.domain.breach`).

Pure: from the deal's terms, a party's step states and a moment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

from closing.domain.machine import DONE, WAIVED
from closing.domain.terms import StoredStep, StoredTerms


def end_of(day: date, terms: StoredTerms) -> datetime:
    """The first instant after `day` in the deal's zone (UTC)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=terms.zone).astimezone(UTC)


def deal_lapsed(terms: StoredTerms, now: datetime, closed: bool) -> bool:
    """Past the outside date and not closed."""
    outside = terms.outside_date
    return outside is not None and not closed and now >= end_of(outside, terms)


def lapsed_steps(
    steps: Sequence[StoredStep], states: Mapping[str, str], now: datetime, terms: StoredTerms
) -> list[StoredStep]:
    """The steps still open past their own `lapses_at`."""
    return [
        step
        for step in steps
        if step.lapses_at is not None
        and states.get(step.id) not in (DONE, WAIVED)
        and now >= end_of(step.lapses_at, terms)
    ]


def part_lapsed(
    terms: StoredTerms,
    steps: Sequence[StoredStep],
    states: Mapping[str, str],
    now: datetime,
    closed: bool,
) -> bool:
    """A purchaser's part: not closed past the outside date, or a step open past its own day."""
    if closed:
        return False
    outside = terms.outside_date
    if outside is not None and now >= end_of(outside, terms):
        return True
    return bool(lapsed_steps(steps, states, now, terms))


def lapse_flag(terms: StoredTerms, step: StoredStep, at: datetime) -> str | None:
    """The flag of a mark dated after the outside date (or the step's own `lapses_at`)."""
    for day, what in (
        (step.lapses_at, "the step's lapse date"),
        (terms.outside_date, "the outside date"),
    ):
        if day is not None and at >= end_of(day, terms):
            return f"out of order: after {what} ({day.isoformat()})"
    return None


def lapse_line(terms: StoredTerms, now: datetime) -> str | None:
    """`Lapsed: the outside date 2002-06-14 has passed without a closing`, once it has."""
    outside = terms.outside_date
    if outside is None or now < end_of(outside, terms):
        return None
    return f"Lapsed: the outside date {outside.isoformat()} has passed without a closing"
