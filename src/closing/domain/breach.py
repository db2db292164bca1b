"""Facts recorded as they happened, flagged where they broke the agreement's order: a step marked
before a step it requires, a mark dated before the agreement, a payment outside the purchase
price. Without `--out-of-order --reason TEXT` such a mark is refused; with it the mark is recorded
and every board, JSON document and memo shows the flag (`⚑ out of order: wired before
prospectus_delivered`).

Pure, and read from the record itself: the flags of a mark are worked out from the events (the
mark, the marks it stands on, the amounts), so nothing is stored twice and the event chain covers
them. Also Schedule 1's own arithmetic: shares x price per share, rounded to the cent, is a
purchase price paid in full (Stonestreet: 1,935,483 x $0.2325 = $449,999.80 for $450,000).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from closing.domain.deal import Deal
from closing.domain.events import Event, Purchaser, Standing
from closing.domain.lapse import lapse_flag
from closing.domain.money import CENT, format_money
from closing.domain.terms import StoredStep

if TYPE_CHECKING:
    from closing.domain.board import StepStatus

OUT_OF_ORDER = "--out-of-order --reason TEXT"
RECORD_ANYWAY = f"to record it as it happened add {OUT_OF_ORDER}"
FLAG = "⚑"


def schedule_cost(shares: int, price_per_share: Decimal) -> Decimal:
    """What the shares cost at the price per share, rounded to the cent (half up)."""
    return (shares * price_per_share).quantize(CENT, rounding=ROUND_HALF_UP)


def paid_in_full(
    total: Decimal, price: Decimal, tolerance: Decimal, shares: int, price_per_share: Decimal
) -> bool:
    """The price within the step's tolerance, or exactly what Schedule 1's shares cost."""
    if price - tolerance <= total <= price + tolerance:
        return True
    return total == schedule_cost(shares, price_per_share)


OUTSIDE_PRICE = "outside the price:"  # how a payment's flag outside the price begins


def price_flag(total: Decimal, price: Decimal) -> str:
    difference = total - price
    sign = "+" if difference > 0 else "-"
    return (
        f"{OUTSIDE_PRICE} received {format_money(total)} of {format_money(price)} "
        f"({sign}{format_money(abs(difference))})"
    )


def order_flag(step_id: str, needed: str) -> str:
    return f"out of order: {step_id} before {needed}"


def early_flag(agreement_date: date) -> str:
    return f"out of order: dated before the agreement ({agreement_date.isoformat()})"


@dataclass(frozen=True)
class Party:
    """Where a party's steps stand, as far as the flags of another mark need: each done step's
    mark, the waived steps and the reversals not yet redone."""

    done: Mapping[str, Event]
    waived: Mapping[str, object]
    reversed: Mapping[str, Event]


def _was_done_before(needed: str, mark: Event, party: Party) -> bool:
    if needed in party.waived:
        return True
    before = party.done.get(needed)
    if before is not None:
        return before.occurred_at <= mark.occurred_at
    # Done when the mark was recorded, reversed in the world only afterwards: not out of order.
    reversal = party.reversed.get(needed)
    return reversal is not None and reversal.logged_at > mark.logged_at


def mark_flags(
    step: StoredStep, mark: Event, own: Party, company: Party | None, deal: Deal
) -> list[str]:
    """The flags of one mark: each step it requires that was not done before it, and a date
    before the agreement. `company` None: the company's record is not at hand, its steps are not
    judged. (A payment's price is `payment_flag`'s.)"""
    company_steps = deal.company_machine.requires
    flags = []
    for needed in step.requires:
        party = company if needed in company_steps else own
        if party is not None and not _was_done_before(needed, mark, party):
            flags.append(order_flag(step.id, needed))
    held = step.held_until
    if held is not None and held not in step.requires:
        party = company if held in company_steps else own
        if party is not None and not _was_done_before(held, mark, party):
            flags.append(f"out of order: {step.id} while held until {held}")
    if mark.occurred_at < deal.opens_at:
        flags.append(early_flag(deal.terms.agreement_date))
    if step.lapses_at is not None or deal.terms.outside_date is not None:
        late = lapse_flag(deal.terms, step, mark.occurred_at)
        if late is not None:
            flags.append(late)
    return flags


def payment_flag(step: StoredStep, purchaser: Purchaser, total: Decimal, deal: Deal) -> str | None:
    """The flag of a payment that completed the step outside the purchase price (and its
    tolerance, and Schedule 1's exact cost)."""
    price = purchaser.purchase_price
    per_share = deal.terms.securities.common_stock.price_per_share
    if paid_in_full(total, price, step.tolerance, purchaser.shares, per_share):
        return None
    return price_flag(total, price)


# Per list of steps (a deal's purchaser or company steps): each step by its id, with what it must
# come after (its `requires`, and the payment it is held until). Kept with the list itself, so
# that a list freed and another made at the same address is not mistaken for it.
_PLANS: dict[int, tuple[Sequence[StoredStep], dict[str, tuple[StoredStep, tuple[str, ...]]]]] = {}


def _plan(steps: Sequence[StoredStep]) -> dict[str, tuple[StoredStep, tuple[str, ...]]]:
    found = _PLANS.get(id(steps))
    if found is None or found[0] is not steps:
        if len(_PLANS) >= 1000:
            _PLANS.clear()
        made = {
            step.id: (step, (*step.requires, *([step.held_until] if step.held_until else [])))
            for step in steps
        }
        found = _PLANS[id(steps)] = (steps, made)
    return found[1]


def standing_flags(
    deal: Deal,
    steps: Sequence[StoredStep],
    standing: Standing,
    company: Standing | None,
    purchaser: Purchaser | None = None,
) -> dict[str, tuple[str, ...]]:
    """The flags of each done step of one party (steps without any left out); `company` is the
    company's standing, for purchaser steps that require company steps. A board asks this of
    every party: the usual mark (after what it needs, in the deal's time, the price paid
    exactly) is passed over with a few lookups; `mark_flags` says what is wrong with another."""
    done = standing.done
    if not done:
        return {}
    company_done = company.done if company is not None else {}
    opens_at, lapses = deal.opens_at, deal.lapses
    plan = _plan(steps)
    found: dict[str, tuple[str, ...]] = {}
    for step_id, mark in done.items():  # a party has done a few of its steps: look those up
        planned = plan.get(step_id)
        if planned is None:
            continue
        step, after = planned
        at = mark.occurred_at
        usual = not lapses and at >= opens_at
        if usual:
            for needed in after:
                before = done.get(needed) or company_done.get(needed)
                if before is None or before.occurred_at > at:
                    usual = False
                    break
        if usual and step.is_payment and purchaser is not None:
            usual = mark.amount == purchaser.purchase_price and not standing.receipts.get(step_id)
        if usual:
            continue
        own = Party(done, standing.waived, standing.reversed)
        other = None
        if company is not None:
            other = Party(company.done, company.waived, company.reversed)
        flags = mark_flags(step, mark, own, other, deal)
        if step.is_payment and purchaser is not None:
            paid = payment_flag(step, purchaser, standing.received(step_id), deal)
            if paid is not None:
                flags.append(paid)
        if flags:
            found[step_id] = tuple(flags)
    return found


def schedule_notes(
    purchasers: Sequence[tuple[str, int, Decimal]], price_per_share: Decimal
) -> list[str]:
    """Schedule 1's arithmetic in words, for `init`: each purchase price (name, shares, price)
    that differs from shares x price per share by less than one share's price, and the wire
    that pays it in full."""
    notes = []
    for name, shares, price in purchasers:
        exact = shares * price_per_share
        if exact == price:
            continue
        cost = schedule_cost(shares, price_per_share)
        notes.append(
            f"{name}: {shares:,} shares x ${price_per_share} = ${exact:,} for a purchase price of "
            f"{format_money(price)}; a wire of {format_money(price)} or of {format_money(cost)} "
            "is paid in full"
        )
    return notes


def flagged_steps(
    deal: Deal,
    steps: dict[str, StepStatus],
    standing: Standing,
    company: Standing | None,
    purchaser: Purchaser | None,
) -> dict[str, StepStatus]:
    """`steps` with the flags of marks recorded out of order (a shared status is copied)."""
    # A deal's machines hold its stored steps (a deal file's steps only in `init`'s review).
    own: Sequence[StoredStep] = (
        deal.company_machine.steps if purchaser is None else deal.purchaser_steps  # type: ignore[assignment]
    )
    flags = standing_flags(deal, own, standing, company, purchaser)
    if not flags:
        return steps
    return {k: s._replace(breach=flags[k]) if k in flags else s for k, s in steps.items()}
