"""Counting a `due:` from its anchor, property-tested against a plain count of the open days; and
what the current release wrote still reads the same: its deal files load unchanged with the same
deadlines, and a database holding its stored terms upgrades and shows them (both backends)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from closing.domain.calendar import CalendarBook, calendar_snapshot, closures_of
from closing.domain.deal import Deal
from closing.domain.dealfile.load import load_deal_file
from closing.domain.dealfile.schema import Due, Step
from closing.domain.events import Purchaser
from closing.store.connection import Database
from tests.helpers import ROOT, SEED, Cli

RELEASE = ROOT / "tests" / "fixtures" / "release"
SEED_TERMS = load_deal_file(SEED).terms
CALENDARS = ("NYSE", "XFED", "SEC")
FIRST, LAST = date(2018, 1, 1), date(2027, 12, 31)


def open_days(names: tuple[str, ...]) -> list[date]:
    """Every weekday from 2017 to 2028 on which none of `names` is closed, in order."""
    years = tuple(range(2017, 2029))
    closed = {day for name in names for day in closures_of(name, years)}
    day, found = date(2017, 1, 1), []
    while day.year < 2029:
        if day.weekday() < 5 and day not in closed:
            found.append(day)
        day += timedelta(days=1)
    return found


OPEN = {names: open_days(names) for names in [(n,) for n in CALENDARS] + [("NYSE", "XFED")]}


def plain_count(anchor: date, count: int, before: bool, business: bool, names: Any) -> date:
    """The oracle: calendar days are a sum; the n-th business day after (before) the anchor is the
    n-th open day strictly later (earlier) in the list; zero is the first open day on or after
    (on or before) the anchor."""
    if not business:
        return anchor - timedelta(days=count) if before else anchor + timedelta(days=count)
    days = OPEN[names]
    if before:
        earlier = [d for d in days if d < anchor or (count == 0 and d == anchor)]
        return earlier[-count] if count else earlier[-1]
    later = [d for d in days if d > anchor or (count == 0 and d == anchor)]
    return later[count - 1] if count else later[0]


@settings(max_examples=300, deadline=None)
@given(
    anchor=st.dates(FIRST, LAST),
    count=st.integers(0, 40),
    before=st.booleans(),
    business=st.booleans(),
    names=st.sampled_from(sorted(OPEN)),
    at=st.sampled_from([None, time(9, 30), time(17, 30)]),
)
def test_a_due_counts_like_a_plain_count_of_the_days(
    anchor: date, count: int, before: bool, business: bool, names: Any, at: time | None
) -> None:
    days = {"business_days" if business else "calendar_days": count}
    due = Due(**{"before" if before else "after": "pricing"}, at=at, **days)  # type: ignore[arg-type]
    step = Step(id="filed", title="Filed", party="company", due=due, calendars=list(names))
    terms = SEED_TERMS.model_copy(update={"key_dates": {"pricing": anchor}, "steps": [step]})
    book = CalendarBook([], calendar_snapshot(terms.calendar_names(), anchor))
    deal = Deal(1, terms.slug, terms, book, datetime(2002, 1, 1, tzinfo=UTC))
    deadline = deal.deadline(step, {}).astimezone(terms.zone)
    assert deadline.date() == plain_count(anchor, count, before, business, names)
    assert deadline.time() == (at or time(17, 0))


def release_purchaser(index: int, spec: Any) -> Purchaser:
    details = json.dumps({"time_zone": spec.time_zone, "holidays": spec.holidays})
    return Purchaser(
        index + 1,
        spec.key,
        spec.name,
        index,
        spec.shares,
        spec.purchase_price,
        spec.warrant_shares,
        details,
    )


def test_the_current_releases_deal_files_load_unchanged_with_the_same_deadlines() -> None:
    """The seed and the 60-step example as the current release ships them: every step of every
    party due when that release said (tests/fixtures/release/deadlines.json, written by it)."""
    expected = json.loads((RELEASE / "deadlines.json").read_text())
    for name in ("neotherapeutics-2002-06-07.yaml", "registered-direct-60-steps.yaml"):
        loaded = load_deal_file(RELEASE / name)
        terms = loaded.terms
        names = terms.calendar_names(loaded.purchasers)
        book = CalendarBook(
            terms.business_days.extra_closures, calendar_snapshot(names, terms.closing_date)
        )
        deal = Deal(1, terms.slug, terms, book, datetime(2002, 1, 1, tzinfo=UTC))
        found = {}
        for index, spec in enumerate(loaded.purchasers):
            party = release_purchaser(index, spec)
            for step in terms.steps:
                key = f"{'company' if step.for_company else spec.key}/{step.id}"
                found[key] = deal.deadline(step, {}, None if step.for_company else party)
        assert {k: v.isoformat() for k, v in found.items()} == expected[terms.slug]
        assert all(step.practical is None for step in terms.steps)


def test_a_database_of_the_current_release_upgrades_and_reads_its_stored_terms(
    cli: Cli, tmp_path: Path
) -> None:
    """A deal loaded by the current release keeps that release's terms JSON (no key_dates, no
    practical, `due` without before/calendar_days/at): `db upgrade` takes it, and the board reads
    it with the deadlines it had, no practical deadline anywhere."""
    assert cli("init", str(RELEASE / "neotherapeutics-2002-06-07.yaml"), now=_AT).code == 0
    stored = (RELEASE / "seed-terms.json").read_text()
    assert "key_dates" not in stored and "practical" not in stored
    with Database(cli.database_url).transaction() as connection:
        connection.execute("UPDATE deal SET terms_json = ?", (stored,))
    upgraded = cli("db", "upgrade", now=_AT)
    assert upgraded.code == 0, upgraded.err
    data = json.loads(cli("status", "--json", now=_AT).out)
    company = data["company"]["steps"]
    assert company["prospectus_filed"]["deadline"] == "2002-06-11T17:00:00-07:00"
    steps = data["purchasers"][0]["steps"]
    assert steps["wired"]["deadline"] == "2002-06-07T17:00:00-07:00"
    assert steps["warrant_delivered"]["deadline"] == "2002-06-10T17:00:00-07:00"
    assert {s["practical_deadline"] for s in [*company.values(), *steps.values()]} == {None}


_AT = "2002-06-07T07:00:00-07:00"
