"""What the wire-instructions and wires commands do: record each version of the company's wire
instructions as the deal file is loaded, verify one by a second person's callback, import a bank
file's credits and record the clear matches as wired marks, match a left-over credit by hand.

Like `operations`, each function opens one transaction, reads through `closing.db`, lets a pure
module decide (`wire_instructions`, `matching`, and `marking.decide_mark` for the money rules)
and appends what it decided through `queries.append_event`. Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy.orm import Session

from closing.bankfiles import CREDIT, BankFile, Entry
from closing.db import queries, wires
from closing.db.store import Store
from closing.deadlines import Deal
from closing.deal import DealFile, Step
from closing.errors import NotFoundError, RefusedError
from closing.events import Event, Purchaser, Standing, replay
from closing.marking import MarkRequest, decide_mark
from closing.matching import Owed, Proposal, Rules, match_credits
from closing.money import format_money
from closing.operations import Recorded, open_deal
from closing.wire_instructions import (
    Verification,
    Version,
    decide_instructions,
    decide_verification,
    is_company_account,
    payment_gate,
    propose,
)

WINDOW_AFTER = 5  # business days after the closing date that a wire still counts as the deal's


# --- wire instructions -------------------------------------------------------------------------


def record_instructions(
    session: Session, deal_id: int, deal_file: DealFile, actor: str, host: str, now: datetime
) -> list[str]:
    """Called by `closing init` in its transaction: a new version when the deal file changes the
    instructions or the callback numbers. Returns what to tell the operator."""
    company = queries.company_of(session, deal_id)
    assert company is not None
    terms = deal_file.terms
    proposed = propose(terms.company.wire_instructions, terms.company.callback_numbers, terms.slug)
    known = wires.versions(session, deal_id)
    current = known[-1] if known else None
    head = queries.lock_purchaser(session, company.id)  # before reading what the seq follows
    standing = company_standing(session, company)
    event = decide_instructions(company, standing, current, proposed, actor, host, now)
    if event is None:
        return []
    deal = queries.deal_by_id(session, deal_id)
    stored = queries.append_event(session, deal, company, event, head)
    number = len(known) + 1
    wires.insert_version(session, deal_id, number, stored.id, proposed, actor, now)
    if proposed.fingerprint is None:
        if current is not None and current.present:
            return ["Wire instructions removed from the deal file: no wire is matched"]
        return []
    what = "Wire instructions"
    if current is not None and current.present:
        what = "Wire instructions changed:"
    if current is not None and current.fingerprint == proposed.fingerprint:
        what = "Callback numbers changed; wire instructions"
    return [
        f"{what} {stored.evidence} ({proposed.account_masked}) entered by {actor}: NOT VERIFIED "
        "until another operator calls back (closing wire-instructions verify)"
    ]


def company_standing(session: Session, company: Purchaser) -> Standing:
    """Enough of where the company's row stands to append to it: its last sequence number."""
    events = queries.purchaser_events(session, company.id)
    return Standing(last_seq=events[-1].seq) if events else Standing()


def instructions(store: Store, deal_name: str | None) -> tuple[Deal, list[Version]]:
    """`closing wire-instructions`: every version, oldest first."""
    with store.session(read_only=True) as session:
        deal = open_deal(session, deal_name)
        return deal, wires.versions(session, deal.id)


def verify(
    store: Store, deal_name: str | None, request: Verification, now: datetime
) -> tuple[Deal, Version]:
    """Record a second person's callback: the latest version is verified from now on."""
    with store.session() as session:
        deal = open_deal(session, deal_name)
        company = queries.company_of(session, deal.id)
        if company is None:
            raise NotFoundError(f"deal {deal.slug} has no company row; reload its deal file")
        head = queries.lock_purchaser(session, company.id)
        known = wires.versions(session, deal.id)
        standing = company_standing(session, company)
        event = decide_verification(company, standing, known, request, now, deal.terms.zone)
        stored = queries.append_event(session, deal, company, event, head)
        current = known[-1]
        wires.record_verification(
            session,
            deal.id,
            current.number,
            stored.id,
            request.actor,
            now,
            request.callback_number.strip(),
            request.spoke_with.strip(),
        )
        return deal, wires.versions(session, deal.id)[-1]


# --- bank files --------------------------------------------------------------------------------


class ImportRow(NamedTuple):  # a tuple: an import makes one per credit, tens of thousands
    entry: Entry
    status: str  # recorded, would record, left, already imported
    reason: str
    purchaser: Purchaser | None = None
    event: Event | None = None
    partial: bool = False


@dataclass
class ImportResult:
    deal: Deal
    file: BankFile
    applied: bool
    rows: list[ImportRow] = field(default_factory=list)
    other_accounts: int = 0  # credits to accounts that are not the company's verified one
    debits: int = 0
    pending: int = 0  # entries the bank has not booked yet
    warning: str | None = None  # unverified instructions

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def notices(self) -> list[str]:
        """One line per wire recorded, for the log and the alert channels."""
        return [
            f"{row.purchaser.name} wired {format_money(row.entry.amount)}"
            + (" (part of the price)" if row.partial else "")
            + f", {row.entry.evidence}"
            for row in self.rows
            if row.status == "recorded" and row.purchaser is not None
        ]


def payment_step(deal: Deal) -> Step:
    for step in deal.terms.purchaser_steps:
        if step.is_payment:
            return step
    raise RefusedError(f"deal {deal.slug} has no payment step (payment: true) to record wires on")


def closing_window(deal: Deal, step: Step) -> Rules:
    terms = deal.terms
    last = deal.step_calendar(step).next_business_day(terms.closing_date, WINDOW_AFTER)
    return Rules(step.tolerance, terms.agreement_date, last)


def import_file(
    store: Store,
    deal_name: str | None,
    bank_file: BankFile,
    apply: bool,
    actor: str,
    host: str,
    now: datetime,
    unverified_ok: bool = False,
) -> ImportResult:
    """Match a bank file's credits to purchasers; with `apply`, record the clear matches as wired
    marks (or partial receipts) and every new credit in the credit ledger, all in one
    transaction. A credit already imported (by its bank reference) is skipped."""
    with store.session(read_only=not apply) as session:
        deal = open_deal(session, deal_name)
        step = payment_step(deal)
        status = wires.status_of(session, deal.id)
        verified = status.verified_version
        if verified is None:
            raise RefusedError(
                f"cannot import wires for {deal.slug}: it has no verified wire instructions, and "
                "credits count only on the verified company account; add "
                "company.wire_instructions to the deal file and have another operator run "
                "closing wire-instructions verify"
            )
        what = f"record wires from {bank_file.name}"
        gate_note = payment_gate(status, unverified_ok or not apply, what)
        result = ImportResult(deal, bank_file, apply, warning=status.warning())
        heads = wires.lock_deal_purchasers(session, deal.id) if apply else {}
        credits = _company_credits(bank_file, verified, deal.slug, result)
        known = wires.known_references(session, deal.id, [e.bank_reference for e in credits])
        fresh: list[Entry] = []
        seen: set[str] = set()
        for entry in credits:
            if entry.bank_reference in known or entry.bank_reference in seen:
                result.rows.append(ImportRow(entry, "already imported", "imported before"))
            else:
                seen.add(entry.bank_reference)
                fresh.append(entry)
        if not fresh:
            return result
        purchasers, company = queries.parties_of(session, deal.id)
        events = queries.events_by_purchaser(session, deal.id)
        machine = deal.machine
        company_states = (
            replay(deal.company_machine, events.get(company.id, [])).states if company else {}
        )
        standings: dict[int, Standing | _Stale] = {}
        owed: list[Owed] = []
        for purchaser in purchasers:
            history = events.get(purchaser.id, [])
            standing = replay(machine, history) if history else Standing()
            standings[purchaser.id] = standing
            if standing.withdrawn is not None or step.id in standing.states:
                continue
            received = standing.received(step.id)
            partial_ok = step.allows_partial or bool(standing.receipts.get(step.id))
            owed.append(Owed(purchaser, purchaser.purchase_price - received, partial_ok))
        proposals = match_credits(fresh, owed, closing_window(deal, step))
        rows = [
            _decide(
                deal,
                step,
                proposal,
                standings,
                events,
                company_states,
                bank_file,
                actor,
                host,
                now,
                gate_note,
            )
            for proposal in proposals
        ]
        if apply:
            # Every wire in one batch, each chained to its purchaser's head.
            to_append = [
                (row.purchaser, row.event, heads[row.purchaser.id])
                for row in rows
                if row.event is not None and row.purchaser is not None
            ]
            appended = iter(queries.append_events(session, deal, to_append))
            rows = [
                row._replace(event=next(appended)) if row.event is not None else row for row in rows
            ]
            wires.insert_credits(
                session, deal.id, [_credit_row(row, bank_file, actor, now) for row in rows]
            )
        result.rows += rows
        return result


def _company_credits(
    bank_file: BankFile, verified: Version, deal_slug: str, result: ImportResult
) -> list[Entry]:
    """The booked credits to the company's verified account; the rest counted and set aside."""
    checked: dict[str, bool] = {}  # each account number is checked once (a slow hash)
    credits = []
    for entry in bank_file.entries:
        if entry.account not in checked:
            checked[entry.account] = is_company_account(entry.account, verified, deal_slug)
        if not checked[entry.account]:
            if entry.direction == CREDIT:
                result.other_accounts += 1
            continue
        if entry.direction != CREDIT:
            result.debits += 1
        elif entry.status != "booked":
            result.pending += 1
        else:
            credits.append(entry)
    return credits


def _decide(
    deal: Deal,
    step: Step,
    proposal: Proposal,
    standings: dict[int, Standing | _Stale],
    events: dict[int, list[Event]],
    company_states: dict[str, str],
    bank_file: BankFile,
    actor: str,
    host: str,
    now: datetime,
    gate_note: str | None,
) -> ImportRow:
    entry = proposal.entry
    party = proposal.purchaser
    if party is None:
        return ImportRow(entry, "left", proposal.reason)
    at = min(entry.booked_at or now, now)
    note = f"from the bank's file: {proposal.reason}"
    if gate_note:
        note += f"; {gate_note}"
    request = MarkRequest(
        purchaser=party.slug,
        step=step.id,
        at=at,
        actor=actor,
        host=host,
        evidence_kind="bank",
        evidence=f"{entry.evidence}; {bank_file.format} {bank_file.name} "
        f"sha256:{bank_file.sha256[:16]}",
        amount=str(entry.amount),
        note=note,
        partial=proposal.partial,
    )
    standing = standings[party.id]
    if isinstance(standing, _Stale):  # a second credit of the same purchaser in this file
        standing = standings[party.id] = replay(deal.machine, standing.history)
    try:
        decision = decide_mark(deal, step, party, standing, request, now, company_states)
    except RefusedError as refusal:
        return ImportRow(
            entry, "left", f"matched {party.name} ({proposal.reason}) but {refusal.message}", party
        )
    history = [*events.get(party.id, []), decision.event]
    events[party.id] = history
    standings[party.id] = _Stale(history)
    return ImportRow(entry, "recorded", proposal.reason, party, decision.event, proposal.partial)


@dataclass(frozen=True)
class _Stale:
    """A purchaser's standing to work out again from its history, if another credit needs it."""

    history: list[Event]


def _credit_row(
    row: ImportRow, bank_file: BankFile, actor: str, now: datetime
) -> dict[str, object]:
    entry = row.entry
    return {
        "bank_reference": entry.bank_reference,
        "file_name": bank_file.name,
        "file_sha256": bank_file.sha256,
        "file_format": bank_file.format,
        "line": entry.line,
        "amount": entry.amount,
        "currency": entry.currency,
        "value_date": entry.value_date.isoformat() if entry.value_date else None,
        "ordering_customer": entry.ordering_customer,
        "imad": entry.imad,
        "details": "; ".join(entry.references),
        "account_masked": entry.account_masked,
        "imported_at": now,
        "imported_by": actor,
        "status": "recorded" if row.status == "recorded" else "left",
        "reason": row.reason,
        "purchaser_id": row.purchaser.id if row.purchaser and row.status == "recorded" else None,
        "event_id": row.event.id if row.event is not None and row.event.id else None,
    }


def match_by_hand(
    store: Store,
    deal_name: str | None,
    bank_reference: str,
    purchaser_text: str,
    actor: str,
    host: str,
    now: datetime,
    unverified_ok: bool = False,
    note: str | None = None,
) -> tuple[Recorded, wires.StoredCredit]:
    """`closing wires match BANKREF PURCHASER`: a left-over credit recorded for the purchaser a
    person chose, through the same money rules as any mark."""
    from closing.operations import _locked

    with store.session() as session:
        deal = open_deal(session, deal_name)
        credit = wires.credit_by_reference(session, deal.id, bank_reference.strip())
        if credit is None:
            raise NotFoundError(
                f"no imported credit with bank reference {bank_reference!r} in {deal.slug}; see "
                "closing wires list"
            )
        found = _locked(session, deal.slug, purchaser_text)
        step = payment_step(deal)
        what = f"match credit {credit.bank_reference} to {found.party.name}"
        if credit.status == "recorded":
            raise RefusedError(f"cannot {what}: it was already recorded ({credit.reason})")
        gate_note = payment_gate(wires.status_of(session, deal.id), unverified_ok, what)
        owed = found.party.purchase_price - found.standing.received(step.id)
        partial = credit.amount < owed - step.tolerance
        notes = [f"matched by hand to bank credit {credit.bank_reference}"]
        if note:
            notes.append(note.strip())
        if gate_note:
            notes.append(gate_note)
        evidence = (f"IMAD {credit.imad}, " if credit.imad else "") + (
            f"bank ref {credit.bank_reference}; {credit.file_format} {credit.file_name} "
            f"sha256:{credit.file_sha256[:16]}"
        )
        request = MarkRequest(
            purchaser=found.party.slug,
            step=step.id,
            at=None,
            actor=actor,
            host=host,
            evidence_kind="bank",
            evidence=evidence,
            amount=str(credit.amount),
            note="; ".join(notes),
            partial=partial,
        )
        decision = decide_mark(
            found.deal, step, found.party, found.standing, request, now, found.company
        )
        event = queries.append_event(session, found.deal, found.party, decision.event, found.head)
        wires.update_credit(
            session,
            credit.id,
            status="recorded",
            reason=f"matched by hand by {actor}" + (f": {note.strip()}" if note else ""),
            purchaser_id=found.party.id,
            event_id=event.id,
        )
        return Recorded(found.deal, found.party, event, decision.states), credit


def credits(
    store: Store, deal_name: str | None
) -> tuple[Deal, list[tuple[wires.StoredCredit, Purchaser | None]]]:
    """`closing wires list`: every imported credit and what became of it."""
    with store.session(read_only=True) as session:
        deal = open_deal(session, deal_name)
        stored = wires.credits_of(session, deal.id)
        everyone = {p.id: p for p in queries.purchasers_of(session, deal.id, active_only=False)}
    return deal, [(c, everyone.get(c.purchaser_id or 0)) for c in stored]


def read_and_import(
    store: Store,
    deal_name: str | None,
    path: str | Path,
    apply: bool,
    actor: str,
    host: str,
    now: datetime,
    unverified_ok: bool = False,
) -> ImportResult:
    """Read a bank file (in the deal's zone: BAI2 times carry none) and import it."""
    from closing.bankfiles.detect import read_bank_file

    with store.session(read_only=True) as session:
        zone = open_deal(session, deal_name).terms.zone
    bank_file = read_bank_file(path, zone)
    return import_file(store, deal_name, bank_file, apply, actor, host, now, unverified_ok)


__all__ = [
    "ImportResult",
    "ImportRow",
    "credits",
    "import_file",
    "instructions",
    "match_by_hand",
    "read_and_import",
    "record_instructions",
    "verify",
]
