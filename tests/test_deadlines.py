"""Each step's deadline: its own cutoff and calendars, the purchaser's zone and holidays, counted
from the closing or from another step, across daylight-saving changes. Pure: no database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from closing.domain.calendar import CalendarBook, calendar_snapshot
from closing.domain.deal import Deal
from closing.domain.dealfile.load import load_deal_file
from closing.domain.dealfile.schema import DealTerms, Due, Step, StepCutoff
from closing.domain.events import Event, Purchaser
from tests.helpers import SEED

PACIFIC = ZoneInfo("America/Los_Angeles")
SEED_TERMS = load_deal_file(SEED).terms


def deal_closing_on(day: date, *steps: Step) -> Deal:
    """The seed deal moved to close on `day`, with `steps` as its steps."""
    terms: DealTerms = SEED_TERMS.model_copy(
        update={"agreement_date": day, "closing_date": day, "steps": list(steps)}
    )
    book = CalendarBook([], calendar_snapshot(terms.calendar_names(), day))
    return Deal(1, terms.slug, terms, book, datetime(2002, 1, 1, tzinfo=UTC))


def purchaser(**calendar: Any) -> Purchaser:
    return Purchaser(
        1, "maple", "Maple Leaf Capital", 0, 1000, Decimal("232.50"), 100, json.dumps(calendar)
    )


def next_day_step(*calendars: str, after: str = "closing", **more: Any) -> Step:
    return Step(
        id="original",
        title="Original delivered",
        due=Due(after=after, business_days=1),
        calendars=list(calendars) or None,
        **more,
    )


def local(moment: datetime, zone: str = "America/Los_Angeles") -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


@pytest.mark.parametrize(
    ("calendars", "due"),
    [(("XFED",), "Tue 2002-10-15 17:00 PDT"), (("NYSE",), "Mon 2002-10-14 17:00 PDT")],
)
def test_columbus_day_closes_the_fed_but_not_the_market(
    calendars: tuple[str, ...], due: str
) -> None:
    """Closing Friday Oct 11, 2002: the next business day is Tuesday for a bank step (the Fed
    keeps Columbus Day) and Monday for a market step."""
    deal = deal_closing_on(date(2002, 10, 11), next_day_step(*calendars))
    assert local(deal.deadline(deal.terms.steps[0], {})) == due


@pytest.mark.parametrize(
    ("calendars", "due"),
    [(("XFED",), "Fri 2004-06-11 17:00 PDT"), (("NYSE",), "Mon 2004-06-14 17:00 PDT")],
)
def test_the_2004_nyse_closure_does_not_stop_a_bank_day_step(
    calendars: tuple[str, ...], due: str
) -> None:
    """June 11, 2004 (the day of mourning for President Reagan) closed the NYSE only: a step on
    the Fed's calendar is due that Friday; one on the market's waits for Monday."""
    deal = deal_closing_on(date(2004, 6, 10), next_day_step(*calendars))
    assert local(deal.deadline(deal.terms.steps[0], {})) == due


def test_canada_day_matters_for_a_purchaser_in_ontario() -> None:
    """Closing Friday June 28, 2002; the original goes by courier to Toronto: with the
    purchaser's `holidays: [CA-ON]`, Monday July 1 (Canada Day) is skipped."""
    deal = deal_closing_on(date(2002, 6, 28), next_day_step("XFED", "purchaser"))
    step = deal.terms.steps[0]
    in_toronto = purchaser(holidays=["CA-ON"])
    assert local(deal.deadline(step, {}, in_toronto)) == "Tue 2002-07-02 17:00 PDT"
    assert local(deal.deadline(step, {}, purchaser())) == "Mon 2002-07-01 17:00 PDT"


def test_close_of_business_in_the_purchasers_zone() -> None:
    """`cutoff: {time: "17:00", time_zone: purchaser}` is 17:00 in Toronto (14:00 in Irvine);
    a purchaser without a zone gets the deal's."""
    step = Step(
        id="faxed", title="Warrant faxed", cutoff=StepCutoff(time=time(17), time_zone="purchaser")
    )
    deal = deal_closing_on(date(2002, 6, 7), step)
    toronto = purchaser(time_zone="America/Toronto")
    assert local(deal.deadline(step, {}, toronto), "America/Toronto") == "Fri 2002-06-07 17:00 EDT"
    assert local(deal.deadline(step, {}, toronto)) == "Fri 2002-06-07 14:00 PDT"
    assert local(deal.deadline(step, {}, purchaser())) == "Fri 2002-06-07 17:00 PDT"


def test_the_wire_can_have_the_fedwire_cutoff() -> None:
    """A wire due by the Fedwire customer-transfer deadline, 18:00 New York time, is due at
    15:00 in Irvine, two hours before the deal's own cutoff."""
    wire = Step(
        id="wired",
        title="Purchase price wired",
        cutoff=StepCutoff(time=time(18), time_zone="America/New_York"),
        calendars=["XFED"],
    )
    deal = deal_closing_on(date(2002, 6, 7), wire)
    assert local(deal.deadline(wire, {})) == "Fri 2002-06-07 15:00 PDT"


def test_the_next_business_day_across_the_end_of_daylight_saving() -> None:
    """Closing Friday Oct 25, 2002 at 17:00 PDT; the original is due Monday Oct 28 at 17:00
    PST: three days and one hour later, 01:00 UTC on the 29th."""
    deal = deal_closing_on(date(2002, 10, 25), next_day_step())
    due = deal.deadline(deal.terms.steps[0], {})
    assert local(due) == "Mon 2002-10-28 17:00 PST"
    assert due == datetime(2002, 10, 29, 1, tzinfo=UTC)


def test_the_424b5_filing_is_due_two_business_days_after_the_pricing() -> None:
    """The seed's prospectus supplement filing: Friday June 7, 2002 + 2 business days of the
    SEC's calendar = Tuesday June 11, 2002 at EDGAR's 17:30 New York (14:30 Pacific)."""
    terms = SEED_TERMS
    book = CalendarBook([], calendar_snapshot(terms.calendar_names(), terms.closing_date))
    deal = Deal(1, terms.slug, terms, book, datetime(2002, 6, 7, tzinfo=UTC))
    assert local(deal.deadline(terms.step("prospectus_filed"), {})) == "Tue 2002-06-11 14:30 PDT"
    assert local(deal.deadline(terms.step("warrant_delivered"), {})) == "Mon 2002-06-10 17:00 PDT"


def test_after_a_step_counts_from_the_day_that_step_was_done() -> None:
    """`after: STEP` keeps its meaning: faxed Monday June 10, due Tuesday June 11."""
    faxed = Step(id="faxed", title="Faxed")
    original = next_day_step(after="faxed")
    deal = deal_closing_on(date(2002, 6, 7), faxed, original)
    monday = datetime(2002, 6, 10, 9, tzinfo=PACIFIC)
    mark = Event(1, 1, 1, "mark", "faxed", monday, monday, "alice", "h")
    assert local(deal.deadline(original, {})) == "Mon 2002-06-10 17:00 PDT"
    assert local(deal.deadline(original, {"faxed": mark})) == "Tue 2002-06-11 17:00 PDT"
