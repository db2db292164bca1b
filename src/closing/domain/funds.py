"""The funds flow, pure: the gross proceeds by purchaser, each deduction worked out to the cent,
the net, each disbursement with its amount and where it stands (`pending`, `sent` with its
IMAD/OMAD, `confirmed` by the bank's own file), and what is left in each account; whether a
disbursement may go out (its `release_when` conditions, checked like a step's requirements, with
`--out-of-order` for one that went out anyway), the events `mark-sent` and a bank file's debit
make, and the debits of a bank file matched to disbursements.

Money is `Decimal`: a percent of the gross is rounded to the cent half up, once, and every other
figure is a sum or difference of cents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

import orjson

from closing.domain.errors import NotFoundError
from closing.domain.events import (
    BENEFICIARY,
    BENEFICIARY_VERIFIED,
    DISBURSED,
    DISBURSEMENT_CONFIRMED,
    Event,
    Purchaser,
    Standing,
)
from closing.domain.machine import DONE, WAIVED
from closing.domain.money import CENT, format_money
from closing.domain.terms import (
    COMPANY,
    StoredDisbursement,
    StoredTerms,
)
from closing.domain.timefmt import local

PENDING, SENT, CONFIRMED = "pending", "sent", "confirmed"
EVERY_PURCHASER = "every purchaser "  # `release_when: [every purchaser wired]`
_ZERO = Decimal(0)


class GrossRow(NamedTuple):
    purchaser: str
    price: Decimal
    received: Decimal


class DeductionRow(NamedTuple):
    id: str
    title: str
    kind: str
    basis: str  # `7.0% of gross`, or `fixed`
    amount: Decimal
    payee: str | None


@dataclass(frozen=True)
class Sent:
    """An outgoing wire as `mark-sent` recorded it (`disbursed` event)."""

    disbursement: str
    amount: Decimal
    imad: str | None
    omad: str | None
    flags: tuple[str, ...]
    at: datetime
    who: str
    seq: int


@dataclass(frozen=True)
class Confirmed:
    """The bank's own debit matched to a disbursement (`disbursement_confirmed` event)."""

    disbursement: str
    amount: Decimal
    bank_reference: str
    file: str
    imad: str | None
    at: datetime
    seq: int


@dataclass(frozen=True)
class DisbursementRow:
    disbursement: StoredDisbursement
    title: str
    to: str
    from_account: str
    amount: Decimal
    due: datetime
    sent: Sent | None
    confirmed: Confirmed | None
    missing: tuple[str, ...]  # release conditions not met (now, or at the statement's moment)

    @property
    def status(self) -> str:
        if self.confirmed is not None:
            return CONFIRMED
        return SENT if self.sent is not None else PENDING


@dataclass(frozen=True)
class Statement:
    gross: tuple[GrossRow, ...]
    deductions: tuple[DeductionRow, ...]
    disbursements: tuple[DisbursementRow, ...]
    received_into: str
    as_of: datetime
    balances: dict[str, Decimal] = field(default_factory=dict)  # account -> left in it now
    planned_left: dict[str, Decimal] = field(default_factory=dict)  # once all are sent

    @property
    def gross_total(self) -> Decimal:
        return sum((row.price for row in self.gross), _ZERO)

    @property
    def received_total(self) -> Decimal:
        return sum((row.received for row in self.gross), _ZERO)

    @property
    def deductions_total(self) -> Decimal:
        return sum((row.amount for row in self.deductions), _ZERO)

    @property
    def net(self) -> Decimal:
        return self.gross_total - self.deductions_total


def deduction_amount(percent: Decimal | None, amount: Decimal | None, gross: Decimal) -> Decimal:
    if percent is not None:
        return (gross * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    assert amount is not None
    return amount


def _percent(value: Decimal) -> str:
    return f"{value}%"  # as the deal file writes it: 7.0%


def read_sent(event: Event) -> Sent:
    data: dict[str, Any] = orjson.loads(event.evidence or "{}")
    return Sent(
        str(data["disbursement"]),
        event.amount or _ZERO,
        data.get("imad"),
        data.get("omad"),
        tuple(data.get("flags", ())),
        event.occurred_at,
        event.who,
        event.seq,
    )


def read_confirmed(event: Event) -> Confirmed:
    data: dict[str, Any] = orjson.loads(event.evidence or "{}")
    return Confirmed(
        str(data["disbursement"]),
        event.amount or _ZERO,
        str(data["bank_reference"]),
        str(data.get("file", "")),
        data.get("imad"),
        event.occurred_at,
        event.seq,
    )


def funds_words(event: Event) -> str:
    """A funds-flow event (`disbursed`, `disbursement_confirmed`, `beneficiary[_verified]`) as
    `closing history` shows it."""
    if event.kind in (BENEFICIARY, BENEFICIARY_VERIFIED):
        from closing.domain.beneficiaries import beneficiary_words

        return beneficiary_words(event)
    if event.kind == DISBURSED:
        sent = read_sent(event)
        refs = ", ".join(
            f"{name} {value}" for name, value in (("IMAD", sent.imad), ("OMAD", sent.omad)) if value
        )
        return f"{sent.disbursement} sent, {format_money(sent.amount)}" + (
            f" ({refs})" if refs else ""
        )
    confirmed = read_confirmed(event)
    return (
        f"{confirmed.disbursement} confirmed by the bank's debit {confirmed.bank_reference} "
        f"({format_money(confirmed.amount)}, {confirmed.file})"
    )


class _Deduction(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def percent(self) -> Decimal | None: ...
    @property
    def amount(self) -> Decimal | None: ...


class _Disbursement(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def to(self) -> str: ...
    @property
    def amount(self) -> Decimal | None: ...
    @property
    def pays(self) -> Sequence[str]: ...
    @property
    def rest(self) -> bool: ...
    @property
    def from_account(self) -> str | None: ...


class FlowPlan(Protocol):
    """What `planned_amounts` reads of a funds flow: the stored one, or a deal file's."""

    @property
    def received_into(self) -> str: ...
    @property
    def deductions(self) -> Sequence[_Deduction]: ...
    @property
    def disbursements(self) -> Sequence[_Disbursement]: ...


def planned_amounts(
    flow: FlowPlan, gross: Decimal, came_in: Decimal | None = None
) -> dict[str, Decimal]:
    """Each disbursement's amount: its own, the deductions it pays (on the gross proceeds), or
    the rest of its account (what came in, or was sent to it, less every other disbursement from
    it). `came_in`: what the purchasers' wires brought, once all are in (a wire a few dollars
    short within the tolerance leaves the account that much short of the gross); until then the
    rest is planned on the gross."""
    deductions = {d.id: deduction_amount(d.percent, d.amount, gross) for d in flow.deductions}
    amounts: dict[str, Decimal] = {}
    for item in flow.disbursements:
        if item.amount is not None:
            amounts[item.id] = item.amount
        elif item.pays:
            amounts[item.id] = sum((deductions[d] for d in item.pays), _ZERO)
    inflow = {flow.received_into: gross if came_in is None else came_in}
    for item in flow.disbursements:
        if item.id in amounts and item.to != (item.from_account or flow.received_into):
            inflow[item.to] = inflow.get(item.to, _ZERO) + amounts[item.id]
    for item in flow.disbursements:
        if item.rest:
            account = item.from_account or flow.received_into
            out = sum(
                (
                    amounts[o.id]
                    for o in flow.disbursements
                    if o.id in amounts and (o.from_account or flow.received_into) == account
                ),
                _ZERO,
            )
            amounts[item.id] = inflow.get(account, _ZERO) - out
    return amounts


def condition_step(condition: str) -> str:
    """The step a `release_when` condition names: `every purchaser wired` -> `wired`."""
    if condition.startswith(EVERY_PURCHASER):
        return condition[len(EVERY_PURCHASER) :].strip()
    return condition


def missing_conditions(
    item: StoredDisbursement,
    company: Standing | None,
    purchasers: Sequence[tuple[Purchaser, Standing]],
    terms: StoredTerms,
    before: datetime | None = None,
) -> tuple[str, ...]:
    """The `release_when` conditions not met (by `before`, when given): a company step done or
    waived; a purchaser step done or waived by every purchaser still in the deal (named)."""
    missing: list[str] = []
    for condition in item.release_when:
        step_id = condition_step(condition)
        try:
            step = terms.step(step_id)
        except KeyError:
            missing.append(condition)
            continue
        if step.for_company:
            if not _met(company, step_id, before):
                missing.append(step_id)
            continue
        lacking = [
            p.name
            for p, standing in purchasers
            if standing.withdrawn is None and not _met(standing, step_id, before)
        ]
        if lacking:
            missing.append(f"{EVERY_PURCHASER}{step_id} (not {', '.join(lacking)})")
    return tuple(missing)


def _met(standing: Standing | None, step_id: str, before: datetime | None) -> bool:
    if standing is None:
        return False
    state = standing.states.get(step_id)
    if state == WAIVED:
        return True
    if state != DONE:
        return False
    return before is None or standing.done[step_id].occurred_at <= before


def statement(
    terms: StoredTerms,
    deadlines: Mapping[str, datetime],
    company: tuple[Purchaser, Standing, Sequence[Event]] | None,
    purchasers: Sequence[tuple[Purchaser, Standing]],
    payment_step: str | None,
    as_of: datetime,
    conditions_at: datetime | None = None,
) -> Statement:
    """The funds flow at `as_of` (the standings and events are the record up to then); the
    release conditions each disbursement still waits for as they stood at `conditions_at` when
    given (a disbursement recorded as sent earlier than now: what was done by then)."""
    flow = terms.funds_flow
    assert flow is not None
    active = [(p, s) for p, s in purchasers if s.withdrawn is None]
    gross_rows = tuple(
        GrossRow(p.name, p.purchase_price, s.received(payment_step) if payment_step else _ZERO)
        for p, s in active
    )
    gross = sum((row.price for row in gross_rows), _ZERO)
    deductions = tuple(
        DeductionRow(
            d.id,
            d.title,
            d.kind,
            f"{_percent(d.percent)} of gross" if d.percent is not None else "fixed",
            deduction_amount(d.percent, d.amount, gross),
            d.payee,
        )
        for d in flow.deductions
    )
    received = sum((row.received for row in gross_rows), _ZERO)
    paid_up = bool(active) and payment_step is not None
    paid_up = paid_up and all(s.states.get(payment_step or "") == DONE for _, s in active)
    planned = planned_amounts(flow, gross, received if paid_up else None)
    sent: dict[str, Sent] = {}
    confirmed: dict[str, Confirmed] = {}
    company_standing = company[1] if company else None
    for event in company[2] if company else ():
        if event.kind == DISBURSED:
            found = read_sent(event)
            sent[found.disbursement] = found
        elif event.kind == DISBURSEMENT_CONFIRMED:
            matched = read_confirmed(event)
            confirmed[matched.disbursement] = matched
    rows = []
    for item in flow.disbursements:
        rows.append(
            DisbursementRow(
                item,
                item.title or item.id,
                item.to,
                item.from_account or flow.received_into,
                planned[item.id],
                deadlines[item.id],
                sent.get(item.id),
                confirmed.get(item.id),
                missing_conditions(item, company_standing, purchasers, terms, conditions_at),
            )
        )
    balances = {flow.received_into: received}
    planned_left = {flow.received_into: gross}
    for row in rows:
        for book, amount in (
            (balances, row.sent.amount if row.sent else None),
            (planned_left, row.amount),
        ):
            if amount is None:
                continue
            book[row.from_account] = book.get(row.from_account, _ZERO) - amount
            if row.to == COMPANY or row.to in book or row.to == flow.received_into:
                book[row.to] = book.get(row.to, _ZERO) + amount
    for account in planned_left:
        balances.setdefault(account, _ZERO)
    return Statement(
        gross_rows, deductions, tuple(rows), flow.received_into, as_of, balances, planned_left
    )


def party_name(name: str) -> str:
    """`escrow_agent` -> `escrow agent`: a party's key as people say it."""
    return name.replace("_", " ")


def disbursement_state(row: DisbursementRow, zone: ZoneInfo) -> str:
    """`pending (due 2019-06-28 15:00 PDT)`, `sent 2019-06-28 11:02 PDT, IMAD ..., OMAD ...`,
    `confirmed by the bank's debit REF`; and the release conditions not met."""
    if row.sent is not None:
        refs = ", ".join(
            f"{name} {value}"
            for name, value in (("IMAD", row.sent.imad), ("OMAD", row.sent.omad))
            if value
        )
        text = f"sent {local(row.sent.at, zone)}" + (f", {refs}" if refs else "")
        if row.sent.flags:
            text += "; ⚑ " + "; ".join(row.sent.flags)
        if row.confirmed is not None:
            text += f"; confirmed by the bank's debit {row.confirmed.bank_reference}"
        return text
    if row.confirmed is not None:
        return f"confirmed by the bank's debit {row.confirmed.bank_reference}"
    text = f"pending, due {local(row.due, zone)}"
    if row.missing:
        text += "; waiting for " + "; ".join(row.missing)
    return text


def find_disbursement(terms: StoredTerms, text: str) -> StoredDisbursement:
    flow = terms.funds_flow
    wanted = text.strip().casefold()
    for item in flow.disbursements if flow else ():
        if item.id.casefold() == wanted:
            return item
    known = ", ".join(d.id for d in flow.disbursements) if flow else ""
    raise NotFoundError(
        f"no disbursement {text!r} in the funds flow"
        + (f"; known: {known}" if known else " (the deal file has no funds_flow:)")
    )
