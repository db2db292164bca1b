"""The pure decisions behind `mark` and `undo`: no database, no CLI, the clock passed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from closing.calendar import BusinessCalendar
from closing.deadlines import Deal
from closing.deal import load_deal_file
from closing.errors import RefusedError
from closing.events import Event, Purchaser, Standing, replay
from closing.marking import MarkRequest, decide_mark, decide_undo
from tests.conftest import SEED

PACIFIC = ZoneInfo("America/Los_Angeles")
TERMS = load_deal_file(SEED).terms
DEAL = Deal(
    1, TERMS.slug, TERMS, BusinessCalendar(TERMS.business_days.calendars), datetime.now(PACIFIC)
)
STONESTREET = Purchaser(
    1, "stonestreet", "Stonestreet Limited Partnership", 0, 1_935_483, Decimal("450000"), 193_548
)


def at(hour: int, minute: int = 0, day: int = 7) -> datetime:
    return datetime(2002, 6, day, hour, minute, tzinfo=PACIFIC)


def standing(*steps: tuple[str, datetime]) -> Standing:
    events = [
        Event(seq, STONESTREET.id, seq, "mark", step, when, when, "alice", "h")
        for seq, (step, when) in enumerate(steps, start=1)
    ]
    return replay(DEAL.machine, events)


def mark(step_id: str, now: datetime, done: Standing, **request: Any) -> Event:
    step = TERMS.step(step_id)
    wanted = replace(MarkRequest("stonestreet", step_id, actor="bob", host="h2"), **request)
    return decide_mark(DEAL, step, STONESTREET, done, wanted, now).event


def refusal(step_id: str, now: datetime, done: Standing, **request: Any) -> str:
    with pytest.raises(RefusedError) as caught:
        mark(step_id, now, done, **request)
    return caught.value.message


def test_a_mark_becomes_the_next_event_with_who_when_and_evidence() -> None:
    """An accepted mark is the purchaser's next event, stamped with the request's details."""
    signed = standing(("signed", at(8, 30)))
    event = mark("wired", at(10, 15), signed, evidence_kind="reference", evidence="FED 1")
    assert (event.seq, event.kind, event.step, event.actor, event.host) == (
        2,
        "mark",
        "wired",
        "bob",
        "h2",
    )
    assert (event.occurred_at, event.recorded_at) == (at(10, 15), at(10, 15))
    assert (event.evidence_kind, event.evidence, event.amount) == (
        "reference",
        "FED 1",
        Decimal("450000"),
    )


def test_a_backdated_mark_keeps_both_times() -> None:
    """`--at` sets when it happened; the moment it was recorded is now."""
    event = mark("signed", at(9, 10), standing(), at=at(8, 30))
    assert (event.occurred_at, event.recorded_at) == (at(8, 30), at(9, 10))


def test_evidence_kind_is_dropped_without_evidence() -> None:
    """A mark without evidence records no evidence kind."""
    event = mark("signed", at(9), standing(), evidence_kind="evidence")
    assert (event.evidence_kind, event.evidence) == (None, None)


def test_the_wire_amount_must_be_the_purchase_price_to_the_cent() -> None:
    """A wire a cent short is refused with the difference; the price itself is accepted."""
    signed = standing(("signed", at(8, 30)))
    assert refusal("wired", at(10), signed, amount="449,999.99") == (
        "cannot mark wired for Stonestreet Limited Partnership: amount $449,999.99 differs from "
        "the purchase price $450,000.00 by -$0.01; nothing recorded"
    )
    assert mark("wired", at(10), signed, amount="$450,000.00").amount == Decimal("450000.00")


def test_fractions_of_a_cent_and_amounts_on_other_steps_are_refused() -> None:
    """Money is whole cents, and only the payment step takes an amount."""
    signed = standing(("signed", at(8, 30)))
    assert "not a positive amount in whole cents" in refusal(
        "wired", at(10), signed, amount="1.001"
    )
    assert refusal("signed", at(10), standing(), amount="5") == (
        "cannot mark signed for Stonestreet Limited Partnership: signed is not a payment; "
        "drop --amount"
    )


def test_out_of_order_marks_are_refused_with_what_is_missing() -> None:
    """The warrant cannot be faxed before the wire: the refusal names the missing step."""
    assert refusal("warrant_faxed", at(10), standing(("signed", at(8)))) == (
        "cannot mark warrant_faxed for Stonestreet Limited Partnership: wired is not done"
    )


def test_a_second_mark_of_a_step_points_to_undo() -> None:
    """A step already done is refused, naming who did it and how to correct it."""
    assert refusal("signed", at(10), standing(("signed", at(8, 30)))) == (
        "cannot mark signed for Stonestreet Limited Partnership: already marked signed at "
        "2002-06-07 08:30 PDT by alice; to correct it: closing undo stonestreet signed "
        "--reason TEXT"
    )


def test_marks_in_the_future_before_the_deal_or_before_a_prerequisite_are_refused() -> None:
    """`--at` must be in the past, on or after the agreement date, and after what it needs."""
    assert "is in the future" in refusal("signed", at(9), standing(), at=at(9, 1))
    assert "is before the deal existed" in refusal("signed", at(9), standing(), at=at(9, day=6))
    signed = standing(("signed", at(8, 30)))
    assert refusal("wired", at(10), signed, at=at(8)) == (
        "cannot mark wired for Stonestreet Limited Partnership at 2002-06-07 08:00 PDT: signed was "
        "only done at 2002-06-07 08:30 PDT; check --at"
    )


def test_an_undo_needs_a_reason_and_nothing_standing_on_the_step() -> None:
    """An undo is refused without a reason, or while a later step depends on the one undone."""
    wired = standing(("signed", at(8)), ("wired", at(9)))
    step = TERMS.step("signed")
    with pytest.raises(RefusedError, match="needs a reason"):
        decide_undo(DEAL, step, STONESTREET, wired, "  ", "bob", "h", at(10))
    with pytest.raises(RefusedError) as caught:
        decide_undo(DEAL, step, STONESTREET, wired, "typo", "bob", "h", at(10))
    assert caught.value.message == (
        "cannot undo signed for Stonestreet Limited Partnership: wired is done; undo it first"
    )


def test_an_undo_is_a_new_event_with_its_reason() -> None:
    """The correction is appended (seq after the mark) and carries the reason as its note."""
    wired = standing(("signed", at(8)), ("wired", at(9)))
    decision = decide_undo(
        DEAL, TERMS.step("wired"), STONESTREET, wired, " wrong deal ", "bob", "h", at(10)
    )
    assert (decision.event.seq, decision.event.kind, decision.event.note) == (
        3,
        "undo",
        "wrong deal",
    )
    assert decision.state == "signed"
