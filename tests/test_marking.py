"""The pure decisions behind `mark` and `undo`: no database, no CLI, the clock passed in."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from closing.domain.calendar import CalendarBook, calendar_snapshot
from closing.domain.deal import Deal
from closing.domain.dealfile.load import load_deal_file
from closing.domain.dealfile.schema import PaymentRule
from closing.domain.errors import RefusedError
from closing.domain.events import Event, Purchaser, Standing, replay
from closing.domain.marking import Correction, MarkRequest, decide_correction, decide_mark
from tests.helpers import SEED

PACIFIC = ZoneInfo("America/Los_Angeles")
TERMS = load_deal_file(SEED).terms
BOOK = CalendarBook([], calendar_snapshot(TERMS.calendar_names(), TERMS.closing_date))
DEAL = Deal(1, TERMS.slug, TERMS, BOOK, datetime(2002, 6, 7, tzinfo=PACIFIC))
STONESTREET = Purchaser(
    1, "stonestreet", "Stonestreet Limited Partnership", 0, 1_935_483, Decimal("450000"), 193_548
)


def at(hour: int, minute: int = 0, day: int = 7) -> datetime:
    return datetime(2002, 6, day, hour, minute, tzinfo=PACIFIC)


COMPANY = {"prospectus_delivered": "done"}  # the prospectus supplement was delivered


def standing(*steps: tuple[str, datetime] | tuple[str, datetime, str, str]) -> Standing:
    """Where Stonestreet stands after these events: (step, when) marks, or (step, when, kind,
    amount-or-note) for receipts, reversals and waivers."""
    events = []
    for seq, item in enumerate(steps, start=1):
        step, when, kind, extra = (*item, "mark", "")[:4] if len(item) == 2 else item  # type: ignore[misc]
        amount = Decimal(extra) if kind in ("mark", "receipt") and extra else None
        note = extra if kind not in ("mark", "receipt") else None
        events.append(
            Event(
                seq,
                STONESTREET.id,
                seq,
                kind,
                step,
                when,
                when,
                "alice",
                "h",
                amount=amount,
                note=note,
            )
        )
    return replay(DEAL.machine, events)


def mark(step_id: str, now: datetime, done: Standing, **request: Any) -> Event:
    step = TERMS.step(step_id)
    wanted = replace(MarkRequest("stonestreet", step_id, actor="bob", host="h2"), **request)
    return decide_mark(DEAL, step, STONESTREET, done, wanted, now, COMPANY).event


def correct(kind: str, step_id: str, now: datetime, done: Standing, reason: str = "r") -> Event:
    step = None if kind == "withdraw" else TERMS.step(step_id)
    request = Correction(kind, "stonestreet", step_id, reason, "bob", "h2")
    return decide_correction(DEAL, step, STONESTREET, done, request, now).event


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
        "the purchase price $450,000.00 by -$0.01; for part of the price add --partial; "
        "to record it as it happened add --out-of-order --reason TEXT; nothing recorded"
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
        "cannot mark warrant_faxed for Stonestreet Limited Partnership: wired is not done; "
        "to record it as it happened add --out-of-order --reason TEXT"
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
        "only done at 2002-06-07 08:30 PDT; check --at, or "
        "to record it as it happened add --out-of-order --reason TEXT"
    )


def test_an_undo_needs_a_reason_and_nothing_standing_on_the_step() -> None:
    """An undo is refused without a reason, or while a later step depends on the one undone."""
    wired = standing(("signed", at(8)), ("wired", at(9)))
    with pytest.raises(RefusedError, match="needs a reason"):
        correct("undo", "signed", at(10), wired, reason="  ")
    with pytest.raises(RefusedError) as caught:
        correct("undo", "signed", at(10), wired)
    assert caught.value.message == (
        "cannot undo signed for Stonestreet Limited Partnership: wired is done; undo it first"
    )


def test_an_undo_is_a_new_event_with_its_reason() -> None:
    """The correction is appended (seq after the mark) and carries the reason as its note."""
    wired = standing(("signed", at(8)), ("wired", at(9)))
    event = correct("undo", "wired", at(10), wired, reason=" wrong deal ")
    assert (event.seq, event.kind, event.note) == (3, "undo", "wrong deal")


def test_the_wire_needs_the_prospectus_supplement_first() -> None:
    """The company delivers the prospectus supplement "prior to funding"."""
    step = TERMS.step("wired")
    signed = standing(("signed", at(8)))
    request = MarkRequest("stonestreet", "wired")
    with pytest.raises(RefusedError, match="prospectus_delivered is not done"):
        decide_mark(DEAL, step, STONESTREET, signed, request, at(10), {})


def test_a_partial_wire_is_a_receipt_and_the_rest_completes_it() -> None:
    """`--partial` records part of the price and leaves the step open; the next wire without
    an amount records what is still owed and completes it."""
    signed = standing(("signed", at(8)))
    part = mark("wired", at(10), signed, amount="200,000.00", partial=True)
    assert (part.kind, part.amount) == ("receipt", Decimal("200000.00"))
    after = standing(("signed", at(8)), ("wired", at(10), "receipt", "200000.00"))
    assert after.states.get("wired") is None and after.amount_received == Decimal("200000.00")
    rest = mark("wired", at(11), after)
    assert (rest.kind, rest.amount) == ("mark", Decimal("250000.00"))


def test_partial_wires_cannot_pass_the_price_and_a_short_wire_needs_partial() -> None:
    """A total above the price is refused with the figures; a short wire without --partial is
    refused as a typo would be, naming the option."""
    after = standing(("signed", at(8)), ("wired", at(10), "receipt", "200000.00"))
    with pytest.raises(RefusedError) as caught:
        mark("wired", at(11), after, amount="260,000", partial=True)
    assert caught.value.message == (
        "cannot mark wired for Stonestreet Limited Partnership: amount $260,000.00 with "
        "$200,000.00 received before makes $460,000.00, which differs from the purchase price "
        "$450,000.00 by +$10,000.00; "
        "to record it as it happened add --out-of-order --reason TEXT; nothing recorded"
    )
    with pytest.raises(RefusedError, match="for part of the price add --partial"):
        mark("wired", at(11), after, amount="240,000")


def test_a_wire_short_by_a_fee_within_the_tolerance_completes_the_step() -> None:
    """With `payment: {tolerance: "50.00"}` a wire $15 short (an incoming-wire fee) is the
    payment; $50.01 short is not."""
    tolerant = TERMS.model_copy(
        update={
            "steps": [
                s.model_copy(update={"payment": PaymentRule(tolerance=Decimal("50.00"))})
                if s.id == "wired"
                else s
                for s in TERMS.steps
            ]
        }
    )
    deal = Deal(1, tolerant.slug, tolerant, BOOK, datetime(2002, 6, 7, tzinfo=PACIFIC))
    signed = standing(("signed", at(8)))
    step = tolerant.step("wired")
    fee = MarkRequest("stonestreet", "wired", amount="449,985.00")
    event = decide_mark(deal, step, STONESTREET, signed, fee, at(10), COMPANY).event
    assert (event.kind, event.amount) == ("mark", Decimal("449985.00"))
    with pytest.raises(RefusedError, match=r"by -\$50.01 \(more than the tolerance of \$50.00\)"):
        decide_mark(
            deal, step, STONESTREET, signed, replace(fee, amount="449,949.99"), at(10), COMPANY
        )


def test_a_reversal_reopens_the_wire_and_keeps_what_stands_on_it() -> None:
    """A wire returned after the fax: a `reverse` event with the reason; nothing is undone."""
    faxed = standing(("signed", at(8)), ("wired", at(9)), ("warrant_faxed", at(10)))
    event = correct("reverse", "wired", at(11), faxed, reason="wire returned")
    assert (event.kind, event.step, event.note) == ("reverse", "wired", "wire returned")
    after = standing(
        ("signed", at(8)),
        ("wired", at(9)),
        ("warrant_faxed", at(10)),
        ("wired", at(11), "reverse", "wire returned"),
    )
    assert after.states == {"signed": "done", "warrant_faxed": "done"}
    assert after.amount_received == Decimal(0)
    assert after.reversed["wired"].note == "wire returned"


def test_a_waived_step_satisfies_what_requires_it() -> None:
    """Waiving the wire (paid outside the closing, say) lets the fax be marked."""
    waived = standing(("signed", at(8)), ("wired", at(9), "waive", "paid in escrow"))
    assert waived.states == {"signed": "done", "wired": "waived"}
    assert mark("warrant_faxed", at(10), waived).kind == "mark"


def test_a_withdrawn_purchaser_takes_no_more_marks() -> None:
    """After `withdraw` a mark is refused with the reason; the withdrawal is an event."""
    signed = standing(("signed", at(8)))
    event = correct("withdraw", "", at(9), signed, reason="never funded")
    assert (event.kind, event.step, event.note) == ("withdraw", "", "never funded")
    out = standing(("signed", at(8)), ("", at(9), "withdraw", "never funded"))
    with pytest.raises(RefusedError, match=r"withdrew from the deal \(never funded\)"):
        mark("wired", at(10), out)


def test_a_paid_purchaser_cannot_just_withdraw() -> None:
    """Its money would drop out of the totals received: the refusal names the amount and the
    reversal to record first; once the wire's return is recorded, the withdrawal is taken."""
    paid = standing(("signed", at(8)), ("wired", at(9), "mark", "450000.00"))
    with pytest.raises(RefusedError) as refused:
        correct("withdraw", "", at(10), paid, reason="deal fell through")
    assert refused.value.message == (
        "cannot withdraw Stonestreet Limited Partnership: $450,000.00 was received from it "
        "(wired); when the money goes back, record that first: closing reverse stonestreet "
        "wired --reason TEXT"
    )
    returned = standing(
        ("signed", at(8)),
        ("wired", at(9), "mark", "450000.00"),
        ("wired", at(10), "reverse", "wire returned"),
    )
    event = correct("withdraw", "", at(11), returned, reason="deal fell through")
    assert (event.kind, event.note) == ("withdraw", "deal fell through")
