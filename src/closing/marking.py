"""Whether a mark or an undo is allowed, and the event it becomes.

Pure: given the deal, the step, the purchaser, where the purchaser stands and the moment, each
function returns the event to append or raises `RefusedError` saying why not (nothing is written
either way; `operations` appends what these return).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from closing.deadlines import Deal
from closing.deal import Step
from closing.errors import RefusedError
from closing.events import Event, Purchaser, Standing
from closing.machine import MachineModel, Refusal
from closing.money import CENT, format_money, parse_money
from closing.timefmt import local


@dataclass(frozen=True)
class MarkRequest:
    """What the operator asked for: `closing mark-wired bnc --amount ... --at ...`."""

    purchaser: str
    step: str
    at: datetime | None = None
    actor: str = "unknown"
    host: str = "unknown"
    evidence_kind: str | None = None
    evidence: str | None = None
    amount: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Decision:
    """An accepted mark or undo: the event to append and the state it leads to."""

    event: Event
    state: str


def decide_mark(
    deal: Deal,
    step: Step,
    purchaser: Purchaser,
    standing: Standing,
    request: MarkRequest,
    now: datetime,
) -> Decision:
    """The `mark` event for `request`, or `RefusedError`: already marked, in the future, before
    the deal, out of order, before a prerequisite was done, or the wrong amount."""
    zone = deal.terms.zone
    at = request.at or now
    what = f"{step.id} for {purchaser.name}"
    if step.id in standing.done:
        prior = standing.done[step.id]
        raise RefusedError(
            f"cannot mark {what}: already marked {step.id} at "
            f"{local(prior.occurred_at, zone)} by {prior.actor}; to correct it: "
            f"closing undo {purchaser.slug} {step.id} --reason TEXT"
        )
    if at > now:
        raise RefusedError(
            f"cannot mark {what}: {local(at, zone)} is in the future (now is "
            f"{local(now, zone)}); give --at a past time"
        )
    if at < deal.opens_at:
        raise RefusedError(
            f"cannot mark {what}: {local(at, zone)} is before the deal existed (agreement "
            f"date {deal.terms.agreement_date}); check --at"
        )
    trial = MachineModel(standing.state)
    try:
        deal.machine.mark(trial, step.id)
    except Refusal as refusal:
        raise RefusedError(f"cannot mark {what}: {refusal}") from None
    for needed in step.requires:
        before = standing.done[needed]
        if at < before.occurred_at:
            raise RefusedError(
                f"cannot mark {what} at {local(at, zone)}: {needed} was only done at "
                f"{local(before.occurred_at, zone)}; check --at"
            )
    amount = payment_amount(step, purchaser, request.amount, what)
    event = Event(
        id=0,
        purchaser_id=purchaser.id,
        seq=standing.last_seq + 1,
        kind="mark",
        step=step.id,
        occurred_at=at,
        recorded_at=now,
        actor=request.actor,
        host=request.host,
        evidence_kind=request.evidence_kind if request.evidence else None,
        evidence=request.evidence,
        amount=amount,
        note=request.note,
    )
    return Decision(event, trial.state)


def payment_amount(
    step: Step, purchaser: Purchaser, given: str | None, what: str
) -> Decimal | None:
    """The amount a mark records: none for a step that is not the payment; the purchase price
    when none is given; a given amount only if it is the purchase price to the cent."""
    if not step.payment:
        if given is not None:
            raise RefusedError(f"cannot mark {what}: {step.id} is not a payment; drop --amount")
        return None
    expected = purchaser.purchase_price
    if given is None:
        return expected
    try:
        amount = parse_money(given)
    except ValueError as error:
        raise RefusedError(f"cannot mark {what}: {error}") from None
    if amount <= 0 or amount != amount.quantize(CENT):
        raise RefusedError(
            f"cannot mark {what}: amount {given} is not a positive amount in whole "
            "cents; write it like 450000.00"
        )
    if amount != expected:
        difference = amount - expected
        sign = "+" if difference > 0 else "-"
        raise RefusedError(
            f"cannot mark {what}: amount {format_money(amount)} differs from the purchase price "
            f"{format_money(expected)} by {sign}{format_money(abs(difference))}; nothing recorded"
        )
    return amount


def decide_undo(
    deal: Deal,
    step: Step,
    purchaser: Purchaser,
    standing: Standing,
    reason: str,
    actor: str,
    host: str,
    now: datetime,
) -> Decision:
    """The `undo` event correcting a mark, or `RefusedError` (no reason, not marked, or a later
    step stands on it)."""
    if not reason.strip():
        raise RefusedError("an undo needs a reason; add --reason TEXT")
    trial = MachineModel(standing.state)
    try:
        deal.machine.undo(trial, step.id)
    except Refusal as refusal:
        raise RefusedError(f"cannot undo {step.id} for {purchaser.name}: {refusal}") from None
    event = Event(
        id=0,
        purchaser_id=purchaser.id,
        seq=standing.last_seq + 1,
        kind="undo",
        step=step.id,
        occurred_at=now,
        recorded_at=now,
        actor=actor,
        host=host,
        note=reason.strip(),
    )
    return Decision(event, trial.state)
