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

from closing.domain.breach import RECORD_ANYWAY, Party, mark_flags, paid_in_full, payment_flag
from closing.domain.clock import LocalTime, resolve_local
from closing.domain.deal import Deal
from closing.domain.delivery import is_held, to_remediate
from closing.domain.errors import RefusedError
from closing.domain.events import RECEIPT, WITHDRAW, Event, Purchaser, Standing, on_behalf
from closing.domain.machine import DONE, MARK, REVERSE, UNDO, WAIVE, ProgressMachine, Refusal
from closing.domain.money import CENT, format_money, parse_money
from closing.domain.terms import StoredStep
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
    out_of_order: bool = False  # record it as it happened although it breaks the order: flagged
    reason: str | None = None  # why, with out_of_order (kept in the event's note)


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
    flags: tuple[str, ...] = ()  # what it breaks, recorded with --out-of-order


def in_deal_zone(deal: Deal, at: LocalTime | None, now: datetime) -> datetime:
    """`--at` as an instant: now when not given, the deal's zone when it has no offset."""
    return now if at is None else resolve_local(at, deal.zone, now)


def _check_time(
    deal: Deal, at: datetime, now: datetime, what: str, out_of_order: bool | None = None
) -> None:
    """A time in the future is refused; one before the agreement too, unless a mark says
    `out_of_order` (None: a correction, which has no such option)."""
    zone = deal.zone
    if at > now:
        raise RefusedError(
            f"cannot {what}: {local(at, zone)} is in the future (now is "
            f"{local(now, zone)}); give --at a past time"
        )
    if at < deal.opens_at and not out_of_order:
        raise RefusedError(
            f"cannot {what}: {local(at, zone)} is before the deal existed (agreement "
            f"date {deal.terms.agreement_date}); check --at"
            + (f", or {RECORD_ANYWAY}" if out_of_order is not None else "")
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
    step: StoredStep,
    party: Purchaser,
    standing: Standing,
    request: MarkRequest,
    now: datetime,
    company: Mapping[str, str] | None = None,
    company_standing: Standing | None = None,
) -> Decision:
    """The `mark` (or, for part of a payment, `receipt`) event for `request`, or `RefusedError`:
    already marked, in the future, before the deal, out of order, before a prerequisite was done,
    or an amount that does not fit. `company` is the company's step states, which purchaser
    steps may require (`company_standing`, where the company stands, also judges when its steps
    were done). With `request.out_of_order` (and a reason) what breaks the order is recorded
    as it happened, flagged (`closing.domain.breach`); what cannot have happened (a time in the
    future, a step already marked) is refused all the same."""
    zone = deal.zone
    at = in_deal_zone(deal, request.at, now)
    what = f"mark {step.id} for {party.name}"
    forced = request.out_of_order
    if forced and not (request.reason or "").strip():
        raise RefusedError(f"cannot {what}: --out-of-order needs --reason TEXT, why it is recorded")
    _not_withdrawn(party, standing, what)
    if step.id in standing.done:
        prior = standing.done[step.id]
        raise RefusedError(
            f"cannot {what}: already marked {step.id} at "
            f"{local(prior.occurred_at, zone)} by {prior.who}; to correct it: "
            f"closing undo {_word(party)} {step.id} --reason TEXT"
        )
    _check_time(deal, at, now, what, forced)
    states = {**(company or {}), **standing.states}
    machine = _machine(deal, party)
    try:
        after = machine.fire(states, MARK, step.id)
    except Refusal as refusal:
        if not forced or states.get(step.id) is not None:
            raise RefusedError(f"cannot {what}: {_anyway(str(refusal), states, step)}") from None
        after = machine.follow(states, MARK, step.id)
    if is_held(step, states) and step.held_until not in step.requires and not forced:
        raise RefusedError(
            f"cannot {what}: it is held until {step.held_until} is done (delivery against "
            f"payment); {RECORD_ANYWAY}"
        )
    for needed in step.requires:
        before = standing.done.get(needed)
        if before is not None and at < before.occurred_at and not forced:
            raise RefusedError(
                f"cannot {what} at {local(at, zone)}: {needed} was only done at "
                f"{local(before.occurred_at, zone)}; check --at, or {RECORD_ANYWAY}"
            )
    amount, complete = payment(step, party, standing, request, what, deal)
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
    flags = _flags(deal, step, party, standing, event, company_standing)
    if flags:
        if not forced:
            raise RefusedError(f"cannot {what}: {'; '.join(flags)}; {RECORD_ANYWAY}")
        reason = f"out of order: {(request.reason or '').strip()}"
        event = event._replace(note=f"{event.note}; {reason}" if event.note else reason)
    states = dict(standing.states)
    if complete:
        states[step.id] = after
    return Decision(event, states, tuple(flags))


def _anyway(refusal: str, states: Mapping[str, str], step: StoredStep) -> str:
    """A machine's refusal, with the option that records it anyway when only the order is
    wrong (the step itself is open)."""
    if states.get(step.id) is None:
        return f"{refusal}; {RECORD_ANYWAY}"
    return refusal


def _flags(
    deal: Deal,
    step: StoredStep,
    party: Purchaser,
    standing: Standing,
    event: Event,
    company_standing: Standing | None,
) -> list[str]:
    """The flags the new mark would carry on the board (nothing for a partial receipt)."""
    if event.kind != MARK:
        return []
    own = Party(standing.done, standing.waived, standing.reversed)
    company = own if party.is_company else None  # the company's own steps are its own record
    if company_standing is not None:
        company = Party(company_standing.done, company_standing.waived, company_standing.reversed)
    flags = mark_flags(step, event, own, company, deal)
    if step.is_payment:
        total = standing.received(step.id) + (event.amount or Decimal(0))
        paid = payment_flag(step, party, total, deal)
        if paid is not None:
            flags.append(paid)
    return flags


def payment(
    step: StoredStep,
    party: Purchaser,
    standing: Standing,
    request: MarkRequest,
    what: str,
    deal: Deal,
) -> tuple[Decimal | None, bool]:
    """The amount a mark records and whether it completes the step. A step that is not the
    payment takes no amount. For the payment: what is still owed when none is given; otherwise
    the total received must come within the step's tolerance of the purchase price (or be
    exactly what Schedule 1's shares cost at the price per share), or, with `--partial`, stay at
    or below it (a partial receipt leaves the step open). With `--out-of-order` any other total
    completes the step, flagged."""
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
    per_share = deal.terms.securities.common_stock.price_per_share
    complete = paid_in_full(total, price, tolerance, party.shares, per_share)
    if complete or (request.partial and total < price):
        return amount, complete
    if request.out_of_order and not request.partial:
        return amount, True
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
    raise RefusedError(f"cannot {what}: {detail}; {RECORD_ANYWAY}; nothing recorded")


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
    step: StoredStep | None,
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
        remedy = request.kind == WAIVE and to_remediate(step, standing)
        if request.kind == WAIVE and not remedy:
            _not_withdrawn(party, standing, what)
        if request.kind == UNDO and not states.get(step.id) and standing.receipts.get(step.id):
            pass  # the correction of the last partial receipt: the step stays open
        elif remedy:
            pass  # its remediation waived: delivered against a reversed payment, left so
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
