"""Marks and corrections (`mark-*`, `mark`, `undo`, `reverse`, `waive`, `withdraw`): in one
transaction, find the deal and the party, lock the party's chain, replay its events, decide
(`closing.domain.marking`), append. A refusal writes nothing. Also how a command names a party
(`find_purchaser`) and a step (`find_step`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from closing.domain.deal import Deal
from closing.domain.errors import NotFoundError, RecordBrokenError
from closing.domain.events import WITHDRAW, Event, Purchaser, Standing, replay
from closing.domain.machine import MARK, Refusal
from closing.domain.marking import Correction, MarkRequest, decide_correction, decide_mark
from closing.domain.team import needed_for_event
from closing.domain.terms import StoredStep
from closing.domain.wire_instructions import payment_gate
from closing.services.deals import find_purchaser, open_deal
from closing.services.team import require
from closing.store import deals as stored_deals
from closing.store import events as log
from closing.store import wires
from closing.store.connection import Connection, Database
from closing.store.facts import fact_table, require_facts
from closing.store.identity import actor


def find_step(deal: Deal, text: str, party: Purchaser | None = None) -> StoredStep:
    """By id, or by id or board label in any case ("faxed" finds warrant_faxed's "Faxed"); of the
    company's steps for the company, of each purchaser's otherwise."""
    terms = deal.terms
    steps = terms.steps
    if party is not None:
        steps = terms.company_steps if party.is_company else terms.purchaser_steps
    wanted = text.strip().casefold()
    for step in steps:
        if step.id == text or step.id.casefold() == wanted:
            return step
    for step in steps:
        if step.label and step.label.casefold() == wanted:
            return step
    names = ", ".join(f"{s.id} ({s.label})" if s.label else s.id for s in steps)
    raise NotFoundError(f"deal {deal.slug} has no step {text!r}; its steps are {names}")


# --- marks and undos ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    deal: Deal
    purchaser: Purchaser
    event: Event
    states: dict[str, str]  # the party's step states after it
    flags: tuple[str, ...] = ()  # what it breaks (recorded with --out-of-order)

    @property
    def still_to_do(self) -> list[str]:
        machine = self.deal.company_machine if self.purchaser.is_company else self.deal.machine
        return machine.still_to_do(self.states)


@dataclass(frozen=True)
class Locked:
    """What a mark or a correction decides on: the deal, the party (locked for this
    transaction), where it stands, and the company's step states (purchaser steps may require
    company steps)."""

    deal: Deal
    party: Purchaser
    standing: Standing
    company: dict[str, str]
    head: str  # the hash the next event of this party links to
    company_standing: Standing | None = None  # where the company stands (for a purchaser)


def locked(
    connection: Connection,
    deal_name: str | None,
    party_text: str,
    allowed: Callable[[Deal, Purchaser], None] | None = None,
) -> Locked:
    """The deal and the party named, the party locked for this transaction, with where it and
    the company stand. `allowed` (the member's role, say) is asked before the lock: on
    PostgreSQL a role that may not write may not lock a row either, and would read the
    database's refusal instead of the one naming the role."""
    deal = open_deal(connection, deal_name)
    party = find_purchaser(connection, deal, party_text)
    if allowed is not None:
        allowed(deal, party)
    head = log.lock_chain_head(connection, party.id)[1]
    machine = deal.company_machine if party.is_company else deal.machine
    try:
        standing = replay(machine, log.party_events(connection, party.id))
    except Refusal as error:
        raise RecordBrokenError(
            f"the event log of {party.name} cannot be read ({error}); nothing recorded; "
            "run closing verify"
        ) from None
    company: dict[str, str] = {}
    company_standing = None
    if not party.is_company and deal.terms.company_steps:
        row = stored_deals.party_where(connection, deal.id)
        if row is not None:
            company_standing = replay(deal.company_machine, log.party_events(connection, row.id))
            company = company_standing.states
    return Locked(deal, party, standing, company, head, company_standing)


def _gate_payment(
    connection: Connection, deal: Deal, step: StoredStep, request: MarkRequest, what: str
) -> str | None:
    """A payment is refused while a change of the wire instructions waits for its second person
    (unless the request says `unverified_instructions_ok`); returns the note the event then
    carries."""
    if not step.is_payment:
        return None
    require_facts(connection, deal.id, what, fact_table("wire_instructions"))
    return payment_gate(
        wires.wire_status_of(connection, deal.id), request.unverified_instructions_ok, what
    )


def mark(
    database: Database, deal_name: str | None, request: MarkRequest, now: datetime
) -> Recorded:
    """Record that a step happened (or part of a payment arrived); refuse, writing nothing, if
    it cannot have."""
    with database.transaction() as connection:
        steps: list[StoredStep] = []

        def allowed(deal: Deal, party: Purchaser) -> None:  # the role first, then the lock
            step = find_step(deal, request.step, party)
            what = f"mark {step.id} for {party.name}"
            require(connection, deal.id, needed_for_event(MARK, step.is_payment), what)
            steps.append(step)

        found = locked(connection, deal_name, request.purchaser, allowed)
        (step,) = steps
        request = replace(request, actor=actor(connection))
        noted = _gate_payment(
            connection, found.deal, step, request, f"mark {step.id} for {found.party.name}"
        )
        if noted:
            request = replace(request, note=f"{request.note}; {noted}" if request.note else noted)
        decision = decide_mark(
            found.deal,
            step,
            found.party,
            found.standing,
            replace(request, step=step.id),
            now,
            found.company,
            found.company_standing,
        )
        return _append(connection, found, decision.event, decision.states, decision.flags)


def correct(
    database: Database, deal_name: str | None, request: Correction, now: datetime
) -> Recorded:
    """Record an undo, reversal, waiver or withdrawal as a new event; the events it corrects stay
    in the log."""
    with database.transaction() as connection:
        steps: list[StoredStep | None] = []

        def allowed(deal: Deal, party: Purchaser) -> None:  # the role first, then the lock
            step = None if request.kind == WITHDRAW else find_step(deal, request.step, party)
            role = needed_for_event(request.kind, step is not None and step.is_payment)
            what = f"{request.kind} {step.id if step else ''} for {party.name}".replace("  ", " ")
            require(connection, deal.id, role, what)
            steps.append(step)

        found = locked(connection, deal_name, request.purchaser, allowed)
        (step,) = steps
        request = replace(request, actor=actor(connection))
        decision = decide_correction(found.deal, step, found.party, found.standing, request, now)
        return _append(connection, found, decision.event, decision.states)


def _append(
    connection: Connection,
    found: Locked,
    event: Event,
    states: dict[str, str],
    flags: tuple[str, ...] = (),
) -> Recorded:
    deal = found.deal
    stored = log.append_event(connection, deal.id, deal.slug, found.party, event, found.head)
    return Recorded(deal, found.party, stored, states, flags)
