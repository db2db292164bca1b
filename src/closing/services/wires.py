"""What the wire-instructions and wires commands do: record each version of the company's wire
instructions as the deal file is loaded, verify one by a second person's callback, import a bank
file's credits and record the clear matches as wired marks, match a left-over credit by hand.

Like `operations`, each function opens one transaction, reads through `closing.db`, lets a pure
module decide (`wire_instructions`, `matching`, and `marking.decide_mark` for the money rules)
and appends what it decided through `queries.append_event`. Nothing here prints.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from closing.domain.bankfiles import BankFile
from closing.domain.deal import Deal
from closing.domain.dealfile.load import DealFile
from closing.domain.errors import NotFoundError, RefusedError
from closing.domain.events import Purchaser, Standing
from closing.domain.marking import MarkRequest, decide_mark
from closing.domain.wire_instructions import (
    Verification,
    Version,
    decide_instructions,
    decide_verification,
    payment_gate,
    propose,
)
from closing.services.operations import Recorded, open_deal
from closing.services.wire_import import ImportResult, ImportRow, import_on, payment_step
from closing.store import queries, wires
from closing.store.database import Store

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
    """`wire_imports.import_on` in a transaction of the store (read-only without `apply`)."""
    with store.session(read_only=not apply) as session:
        return import_on(
            queries.reader(session), deal_name, bank_file, apply, actor, host, now, unverified_ok
        )


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
    from closing.services.operations import _locked

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
    from closing.domain.bankfiles.detect import read_bank_file

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
