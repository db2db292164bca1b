"""What the wire-instructions and wires commands do: record each version of the company's wire
instructions as the deal file is loaded, verify one by a second person's callback, import a bank
file's credits and record the clear matches as wired marks, match a left-over credit by hand,
list the imported credits.

Each function opens one transaction on the `Database` (or, for `record_instructions`, runs in
the loader's), reads through `closing.store`, lets a pure module decide (`wire_instructions`,
`matching`, and `marking.decide_mark` for the money rules) and appends what it decided to the
event log. Nothing here prints.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from closing.domain.deal import Deal
from closing.domain.errors import NotFoundError, RefusedError
from closing.domain.events import Purchaser, Standing, on_behalf, replay
from closing.domain.marking import MarkRequest, decide_mark
from closing.domain.money import DEAL_CURRENCY, format_amount
from closing.domain.team import MONEY, VERIFIER
from closing.domain.wire_instructions import (
    Verification,
    Version,
    decide_instructions,
    decide_verification,
    payment_gate,
    propose,
)
from closing.services.deals import open_deal
from closing.services.mark import Recorded, locked
from closing.services.team import require
from closing.services.wire_import import ImportResult, import_on, payment_step
from closing.store import deals as deal_store
from closing.store import events as event_store
from closing.store import wires
from closing.store.connection import Connection, Database
from closing.store.facts import record_facts, require_facts
from closing.store.identity import actor

if TYPE_CHECKING:  # the loader's type only: `wires import` need not load pydantic's schema
    from closing.domain.dealfile.load import DealFile

# --- wire instructions -------------------------------------------------------------------------


def record_instructions(
    connection: Connection,
    deal_id: int,
    deal_file: DealFile,
    on_behalf_of: str | None,
    host: str,
    now: datetime,
) -> list[str]:
    """Called by `closing init` in its transaction: a new version when the deal file changes the
    instructions or the callback numbers. Returns what to tell the operator."""
    company = deal_store.party_where(connection, deal_id)
    assert company is not None
    terms = deal_file.terms
    proposed = propose(terms.company.wire_instructions, terms.company.callback_numbers, terms.slug)
    known = wires.wire_versions(connection, deal_id)
    current = known[-1] if known else None
    # The company's chain locked before reading what the seq follows.
    head = event_store.lock_chain_head(connection, company.id)[1]
    standing = company_standing(connection, company)
    who = actor(connection)
    event = decide_instructions(company, standing, current, proposed, who, host, now)
    if event is None:
        return []
    event = event._replace(on_behalf_of=on_behalf(who, on_behalf_of))
    stored = event_store.append_event(connection, deal_id, terms.slug, company, event, head)
    number = len(known) + 1
    wires.insert_version(connection, deal_id, number, stored.id, proposed, who, now)
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
        f"{what} {stored.evidence} ({proposed.account_masked}) entered by {stored.who}: NOT "
        "VERIFIED "
        "until another operator calls back (closing wire-instructions verify)"
    ]


def company_standing(connection: Connection, company: Purchaser) -> Standing:
    """Enough of where the company's row stands to append to it: its last sequence number."""
    events = event_store.party_events(connection, company.id)
    return Standing(last_seq=events[-1].seq) if events else Standing()


def instructions(database: Database, deal_name: str | None) -> tuple[Deal, list[Version]]:
    """`closing wire-instructions`: every version, oldest first."""
    with database.transaction(write=False) as connection:
        deal = open_deal(connection, deal_name)
        return deal, wires.wire_versions(connection, deal.id)


def verify_instructions(
    database: Database, deal_name: str | None, request: Verification, now: datetime
) -> tuple[Deal, Version]:
    """Record a second person's callback: the latest version is verified from now on."""
    with database.transaction() as connection:
        deal = open_deal(connection, deal_name)
        require(connection, deal.id, VERIFIER, "verify wire instructions")
        require_facts(connection, deal.id, "verify wire instructions")
        request = replace(request, actor=actor(connection))
        company = deal_store.party_where(connection, deal.id)
        if company is None:
            raise NotFoundError(f"deal {deal.slug} has no company row; reload its deal file")
        head = event_store.lock_chain_head(connection, company.id)[1]
        known = wires.wire_versions(connection, deal.id)
        standing = company_standing(connection, company)
        event = decide_verification(company, standing, known, request, now, deal.terms.zone)
        stored = event_store.append_event(connection, deal.id, deal.slug, company, event, head)
        current = known[-1]
        wires.verify_version(
            connection,
            deal.id,
            current.number,
            stored.id,
            request.actor,
            now,
            request.callback_number.strip(),
            request.spoke_with.strip(),
        )
        record_facts(connection, deal.id, now)
        return deal, wires.wire_versions(connection, deal.id)[-1]


# --- bank files --------------------------------------------------------------------------------


def match_by_hand(
    database: Database,
    deal_name: str | None,
    bank_reference: str,
    purchaser_text: str,
    on_behalf_of: str | None,
    host: str,
    now: datetime,
    unverified_ok: bool = False,
    note: str | None = None,
) -> tuple[Recorded, wires.StoredCredit]:
    """`closing wires match BANKREF PURCHASER`: a left-over credit recorded for the purchaser a
    person chose, through the same money rules as any mark."""
    with database.transaction() as connection:
        deal = open_deal(connection, deal_name)
        credit = wires.credit_by_reference(connection, deal.id, bank_reference.strip())
        if credit is None:
            raise NotFoundError(
                f"no imported credit with bank reference {bank_reference!r} in {deal.slug}; see "
                "closing wires list"
            )
        found = locked(connection, deal.slug, purchaser_text)
        step = payment_step(deal)
        what = f"match credit {credit.bank_reference} to {found.party.name}"
        require(connection, deal.id, MONEY, what)
        if credit.status == "recorded" and not _undone(connection, deal, step.id, credit):
            raise RefusedError(f"cannot {what}: it was already recorded ({credit.reason})")
        if credit.currency != DEAL_CURRENCY:
            raise RefusedError(
                f"cannot {what}: it is {format_amount(credit.amount, credit.currency)}, in "
                f"{credit.currency}, not the deal's {DEAL_CURRENCY}; nothing recorded"
            )
        require_facts(connection, deal.id, what)
        gate_note = payment_gate(wires.wire_status_of(connection, deal.id), unverified_ok, what)
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
            actor=actor(connection),
            host=host,
            on_behalf_of=on_behalf_of,
            evidence_kind="bank",
            evidence=evidence,
            amount=str(credit.amount),
            note="; ".join(notes),
            partial=partial,
        )
        decision = decide_mark(
            found.deal, step, found.party, found.standing, request, now, found.company
        )
        event = event_store.append_event(
            connection, found.deal.id, found.deal.slug, found.party, decision.event, found.head
        )
        assert event.id is not None
        wires.record_credit(
            connection,
            credit.id,
            f"matched by hand by {event.who}" + (f": {note.strip()}" if note else ""),
            found.party.id,
            event.id,
        )
        record_facts(connection, deal.id, now)
        return Recorded(found.deal, found.party, event, decision.states), credit


def _undone(connection: Connection, deal: Deal, step_id: str, credit: wires.StoredCredit) -> bool:
    """Whether the mark that recorded `credit` was undone since (a mistake: the credit was some
    other purchaser's, and may be matched again); a reversal (the money went back) is not."""
    if credit.event_id is None or credit.purchaser_id is None:
        return False
    standing = replay(deal.machine, event_store.party_events(connection, credit.purchaser_id))
    if step_id in standing.reversed:
        return False
    done = standing.done.get(step_id)
    receipts = standing.receipts.get(step_id, [])
    return (done is None or done.id != credit.event_id) and all(
        r.id != credit.event_id for r in receipts
    )


def credits(
    database: Database, deal_name: str | None
) -> tuple[Deal, list[tuple[wires.StoredCredit, Purchaser | None, int | None]]]:
    """`closing wires list`: every imported credit and what became of it: the purchaser it was
    recorded for, and the number in the deal of the event that recorded it."""
    with database.transaction(write=False) as connection:
        deal = open_deal(connection, deal_name)
        stored = wires.credits_of(connection, deal.id)
        purchasers = deal_store.parties(connection, deal.id, active_only=False)[0]
        numbers = event_store.event_numbers(connection, deal.id)
    everyone = {p.id: p for p in purchasers}
    return deal, [
        (c, everyone.get(c.purchaser_id or 0), numbers.get(c.event_id or 0)) for c in stored
    ]


def read_and_import(
    database: Database,
    deal_name: str | None,
    path: str | Path,
    apply: bool,
    on_behalf_of: str | None,
    host: str,
    now: datetime,
    unverified_ok: bool = False,
    content: bytes | None = None,
) -> ImportResult:
    """Read a bank file (in the deal's zone: BAI2 times carry none) and import it: the file at
    `path`, or `content` (a file uploaded in the browser) named `path`."""
    from closing.domain.bankfiles.detect import parse_bank_file, read_bank_file

    with database.transaction(write=False) as connection:
        zone = open_deal(connection, deal_name).terms.zone
    if content is None:
        bank_file = read_bank_file(path, zone)
    else:
        bank_file = parse_bank_file(content, str(path), zone)
    with database.transaction(write=apply) as connection:  # read-only without `apply`
        return import_on(
            connection, deal_name, bank_file, apply, on_behalf_of, host, now, unverified_ok
        )
