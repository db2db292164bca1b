"""Whether a mark, receipt, undo, reversal, waiver or withdrawal is allowed, and the event it
becomes.

Pure: given the deal, the step, the party, where it stands and the moment, each function returns
the event to append or raises `RefusedError` saying why not (nothing is written either way;
`closing.services.mark` appends what these return).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from closing.domain.clock import LocalTime, resolve_local
from closing.domain.deal import Deal
from closing.domain.dealfile.schema import Step
from closing.domain.errors import RefusedError
from closing.domain.events import RECEIPT, WITHDRAW, Event, Purchaser, Standing, on_behalf
from closing.domain.machine import DONE, MARK, REVERSE, UNDO, WAIVE, ProgressMachine, Refusal
from closing.domain.money import CENT, format_money, parse_money
from closing.domain.timefmt import local


@dataclass(frozen=True)
class MarkRequest:
    """What the operator asked for: `closing mark-wired bnc --amount ... --at ...`. A naive `at`
    (no offset given) is read in the deal's zone."""

    purchaser: str
    step: str
    at: LocalTime | None = None
    actor: str = "unknown"  # the authenticated actor: the service sets it from the database
    host: str = "unknown"
    on_behalf_of: str | None = None  # `--by`, as typed
    evidence_kind: str | None = None
    evidence: str | None = None
    amount: str | Decimal | None = None  # as typed, or a bank file's exact Decimal
    note: str | None = None
    partial: bool = False
    unverified_instructions_ok: bool = False  # record a payment while wire instructions wait


@dataclass(frozen=True)
class Correction:
    """`undo`, `reverse`, `waive` (of a step) or `withdraw` (of a purchaser), with its reason."""

    kind: str
    purchaser: str
    step: str
    reason: str
    actor: str = "unknown"  # the authenticated actor: the service sets it from the database
    host: str = "unknown"
    on_behalf_of: str | None = None  # `--by`, as typed
    at: LocalTime | None = None
    note: str | None = None


@dataclass(frozen=True)
class Decision:
    """An accepted request: the event to append and the party's step states after it."""

    event: Event
    states: dict[str, str]


def in_deal_zone(deal: Deal, at: LocalTime | None, now: datetime) -> datetime:
    """`--at` as an instant: now when not given, the deal's zone when it has no offset."""
    return now if at is None else resolve_local(at, deal.zone, now)


def _check_time(deal: Deal, at: datetime, now: datetime, what: str) -> None:
    zone = deal.zone
    if at > now:
        raise RefusedError(
            f"cannot {what}: {local(at, zone)} is in the future (now is "
            f"{local(now, zone)}); give --at a past time"
        )
    if at < deal.opens_at:
        raise RefusedError(
            f"cannot {what}: {local(at, zone)} is before the deal existed (agreement "
            f"date {deal.terms.agreement_date}); check --at"
        )


def _machine(deal: Deal, party: Purchaser) -> ProgressMachine:
    return deal.company_machine if party.is_company else deal.machine


def _not_withdrawn(party: Purchaser, standing: Standing, what: str) -> None:
    if standing.withdrawn is not None:
        raise RefusedError(
            f"cannot {what}: {party.name} withdrew from the deal ({standing.withdrawn.note}); "
            "the record is closed for it"
        )


def decide_mark(
    deal: Deal,
    step: Step,
    party: Purchaser,
    standing: Standing,
    request: MarkRequest,
    now: datetime,
    company: Mapping[str, str] | None = None,
) -> Decision:
    """The `mark` (or, for part of a payment, `receipt`) event for `request`, or `RefusedError`:
    already marked, in the future, before the deal, out of order, before a prerequisite was done,
    or an amount that does not fit. `company` is the company's step states, which purchaser
    steps may require."""
    zone = deal.zone
    at = in_deal_zone(deal, request.at, now)
    what = f"mark {step.id} for {party.name}"
    _not_withdrawn(party, standing, what)
    if step.id in standing.done:
        prior = standing.done[step.id]
        raise RefusedError(
            f"cannot {what}: already marked {step.id} at "
            f"{local(prior.occurred_at, zone)} by {prior.who}; to correct it: "
            f"closing undo {_word(party)} {step.id} --reason TEXT"
        )
    _check_time(deal, at, now, what)
    states = {**(company or {}), **standing.states}
    try:
        after = _machine(deal, party).fire(states, MARK, step.id)
    except Refusal as refusal:
        raise RefusedError(f"cannot {what}: {refusal}") from None
    for needed in step.requires:
        before = standing.done.get(needed)
        if before is not None and at < before.occurred_at:
            raise RefusedError(
                f"cannot {what} at {local(at, zone)}: {needed} was only done at "
                f"{local(before.occurred_at, zone)}; check --at"
            )
    amount, complete = payment(step, party, standing, request, what)
    event = Event(
        id=0,
        purchaser_id=party.id,
        seq=standing.last_seq + 1,
        kind=MARK if complete else RECEIPT,
        step=step.id,
        occurred_at=at,
        recorded_at=now,
        actor=request.actor,
        host=request.host,
        evidence_kind=request.evidence_kind if request.evidence else None,
        evidence=request.evidence,
        amount=amount,
        note=request.note,
        on_behalf_of=on_behalf(request.actor, request.on_behalf_of),
    )
    states = dict(standing.states)
    if complete:
        states[step.id] = after
    return Decision(event, states)


def payment(
    step: Step, party: Purchaser, standing: Standing, request: MarkRequest, what: str
) -> tuple[Decimal | None, bool]:
    """The amount a mark records and whether it completes the step. A step that is not the
    payment takes no amount. For the payment: what is still owed when none is given; otherwise
    the total received must come within the step's tolerance of the purchase price, or, with
    `--partial`, stay at or below it (a partial receipt leaves the step open)."""
    if not step.is_payment:
        if request.amount is not None:
            raise RefusedError(f"cannot {what}: {step.id} is not a payment; drop --amount")
        if request.partial:
            raise RefusedError(f"cannot {what}: {step.id} is not a payment; drop --partial")
        return None, True
    price = party.purchase_price
    tolerance = step.tolerance
    received = standing.received(step.id)
    if request.amount is None:
        if request.partial:
            raise RefusedError(f"cannot {what}: --partial needs --amount, the amount received")
        amount = price - received
    else:
        try:
            amount = parse_money(request.amount)
        except ValueError as error:
            raise RefusedError(f"cannot {what}: {error}") from None
        if amount <= 0 or amount != amount.quantize(CENT):
            raise RefusedError(
                f"cannot {what}: amount {request.amount} is not a positive amount in whole "
                "cents; write it like 450000.00"
            )
    total = received + amount
    complete = price - tolerance <= total <= price + tolerance
    if complete or (request.partial and total < price):
        return amount, complete
    difference = total - price
    sign = "+" if difference > 0 else "-"
    if received:
        detail = (
            f"amount {format_money(amount)} with {format_money(received)} received before makes "
            f"{format_money(total)}, which differs from the purchase price {format_money(price)} "
            f"by {sign}{format_money(abs(difference))}"
        )
    else:
        detail = (
            f"amount {format_money(amount)} differs from the purchase price "
            f"{format_money(price)} by {sign}{format_money(abs(difference))}"
        )
    if tolerance:
        detail += f" (more than the tolerance of {format_money(tolerance)})"
    if difference < 0:
        detail += "; for part of the price add --partial"
    raise RefusedError(f"cannot {what}: {detail}; nothing recorded")


def _not_paid(deal: Deal, party: Purchaser, standing: Standing, what: str) -> None:
    """A purchaser whose money is in cannot just leave the deal: the money would drop out of the
    totals received. Its return is recorded first, as a reversal of the payment."""
    for step in deal.terms.purchaser_steps:
        if step.is_payment and standing.states.get(step.id) == DONE:
            raise RefusedError(
                f"cannot {what}: {format_money(standing.received(step.id))} was received from "
                f"it ({step.id}); when the money goes back, record that first: closing reverse "
                f"{_word(party)} {step.id} --reason TEXT"
            )


def decide_correction(
    deal: Deal,
    step: Step | None,
    party: Purchaser,
    standing: Standing,
    request: Correction,
    now: datetime,
) -> Decision:
    """The event for an undo (a mistake in the record), a reversal (done came undone in the
    world), a waiver (the step does not apply) or a withdrawal (the purchaser is out)."""
    if not request.reason.strip():
        raise RefusedError(f"a {request.kind} needs a reason; add --reason TEXT")
    at = in_deal_zone(deal, request.at, now)
    states = dict(standing.states)
    step_id = step.id if step else ""
    if request.kind == WITHDRAW:
        what = f"withdraw {party.name}"
        if party.is_company:
            raise RefusedError("cannot withdraw the company; waive its steps instead")
        _not_withdrawn(party, standing, what)
        _not_paid(deal, party, standing, what)
    else:
        assert step is not None
        verb = {UNDO: "undo", REVERSE: "reverse", WAIVE: "waive"}[request.kind]
        what = f"{verb} {step.id} for {party.name}"
        if request.kind == WAIVE:
            _not_withdrawn(party, standing, what)
        if request.kind == UNDO and not states.get(step.id) and standing.receipts.get(step.id):
            pass  # the correction of the last partial receipt: the step stays open
        else:
            try:
                states[step.id] = _machine(deal, party).fire(states, request.kind, step.id)
            except Refusal as refusal:
                raise RefusedError(f"cannot {what}: {refusal}") from None
            if states[step.id] == "pending":
                del states[step.id]
    _check_time(deal, at, now, what)
    event = Event(
        id=0,
        purchaser_id=party.id,
        seq=standing.last_seq + 1,
        kind=request.kind,
        step=step_id,
        occurred_at=at,
        recorded_at=now,
        actor=request.actor,
        host=request.host,
        note=request.reason.strip() + (f"; {request.note.strip()}" if request.note else ""),
        on_behalf_of=on_behalf(request.actor, request.on_behalf_of),
    )
    return Decision(event, states)


def _word(party: Purchaser) -> str:
    """How a party is named on the command line."""
    return "company" if party.is_company else party.slug
