"""The funds flow: the statement now or at a moment (`closing funds-flow`), an outgoing wire
recorded (`closing mark-sent`), a disbursement's beneficiary bank details as deal files load and
their callback (`closing beneficiary verify`), and a bank file's debits matched to the
disbursements (called by the bank-file import, in its transaction). Each opens one transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from closing.domain.bankfiles import DEBIT, BankFile
from closing.domain.beneficiaries import (
    beneficiary_status,
    decide_beneficiary,
    decide_beneficiary_verified,
    proposed_for,
    versions,
)
from closing.domain.clock import LocalTime, as_of_moment, resolve_local
from closing.domain.deal import Deal
from closing.domain.disbursements import SendRequest, confirm_event, decide_sent, match_debit
from closing.domain.errors import RefusedError
from closing.domain.events import (
    DISBURSEMENT_CONFIRMED,
    Event,
    Purchaser,
    Standing,
    on_behalf,
    replay,
)
from closing.domain.funds import Statement, find_disbursement, read_confirmed, statement
from closing.domain.team import MONEY, VERIFIER
from closing.domain.wire_instructions import Verification
from closing.services.deals import open_deal
from closing.services.team import require
from closing.store import deals as deal_store
from closing.store import events as event_store
from closing.store.connection import Connection, Database
from closing.store.identity import actor

if TYPE_CHECKING:  # loading a deal file passes its pydantic terms; reading never imports them
    from closing.domain.dealfile.load import DealFile


def _no_flow(deal: Deal) -> RefusedError:
    return RefusedError(
        f"deal {deal.slug} has no funds flow: add funds_flow: (deductions and disbursements) to "
        "the deal file and load it with closing init"
    )


def statement_on(
    connection: Connection, deal: Deal, now: datetime, conditions_at: datetime | None = None
) -> tuple[Statement, Purchaser]:
    """The funds flow statement at `now` inside a transaction the caller holds, and the company
    (`conditions_at`: as `closing.domain.funds.statement` takes it)."""
    if deal.terms.funds_flow is None:
        raise _no_flow(deal)
    purchasers, company = deal_store.parties(connection, deal.id)
    assert company is not None
    events = event_store.events_by_party(connection, deal.id, now)
    company_events = events.get(company.id, [])
    company_standing = replay(deal.company_machine, company_events)
    standings = [(p, replay(deal.machine, events.get(p.id, []))) for p in purchasers]
    payment = next((s.id for s in deal.terms.purchaser_steps if s.is_payment), None)
    deadlines = {
        item.id: deal.deadline(item.as_step(), company_standing.done)
        for item in deal.terms.funds_flow.disbursements
    }
    found = statement(
        deal.terms,
        deadlines,
        (company, company_standing, company_events),
        standings,
        payment,
        now,
        conditions_at,
    )
    return found, company


def funds_flow(
    database: Database, deal_name: str | None, now: datetime, as_of: LocalTime | None = None
) -> tuple[Deal, Statement]:
    """`closing funds-flow`: the statement now, or as the record stood at `as_of`."""
    with database.transaction(write=False, snapshot=True) as connection:
        deal = open_deal(connection, deal_name)
        now = as_of_moment(as_of, deal.terms.zone, now, "the funds flow")
        return deal, statement_on(connection, deal, now)[0]


def mark_sent(
    database: Database,
    deal_name: str | None,
    request: SendRequest,
    now: datetime,
    unverified_ok: bool = False,
) -> tuple[Deal, Event]:
    """`closing mark-sent`: the outgoing wire as a `disbursed` event on the company's chain;
    refused (nothing written) before the disbursement's conditions without `--out-of-order`,
    and while its beneficiary's bank details wait for a second person's callback."""
    with database.transaction() as connection:
        deal = open_deal(connection, deal_name)
        item = find_disbursement(deal.terms, request.disbursement)
        require(connection, deal.id, MONEY, f"record {item.id} as sent")
        request = replace(request, actor=actor(connection))
        company = deal_store.party_where(connection, deal.id)
        assert company is not None
        head = event_store.lock_chain_head(connection, company.id)[1]
        # Its release conditions as they stood when it was sent (`--at`), not as they stand now.
        at = None if request.at is None else resolve_local(request.at, deal.terms.zone, now)
        found, _ = statement_on(connection, deal, now, at)
        row = next(r for r in found.disbursements if r.disbursement.id == item.id)
        events = event_store.party_events(connection, company.id)
        standing = replay(deal.company_machine, events)
        event = decide_sent(
            row, company, standing, request, now, deal.terms.zone, found.disbursements
        )
        status = beneficiary_status(events, item.id)
        if status.pending:
            current = status.current
            assert current is not None
            if not unverified_ok:
                raise RefusedError(
                    f"cannot record {item.id} as sent: the beneficiary's bank details "
                    f"({current.account_masked}, fingerprint {current.short_fingerprint}) "
                    f"entered by {current.entered_by} are not verified; another operator runs "
                    f"closing beneficiary verify {item.id}, or add --unverified-instructions-ok; "
                    "nothing recorded"
                )
            note = f"sent to unverified beneficiary details {current.short_fingerprint}"
            event = event._replace(note=f"{event.note}; {note}" if event.note else note)
        stored = event_store.append_event(connection, deal.id, deal.slug, company, event, head)
        return deal, stored


def record_beneficiaries(
    connection: Connection,
    deal_id: int,
    deal_file: DealFile,
    on_behalf_of: str | None,
    host: str,
    now: datetime,
) -> list[str]:
    """Called by `closing init` in its transaction: a `beneficiary` event for each disbursement
    whose bank details or callback numbers the deal file changes. Returns what to tell the
    operator."""
    terms = deal_file.terms
    if terms.funds_flow is None:
        return []
    company = deal_store.party_where(connection, deal_id)
    assert company is not None
    head = event_store.lock_chain_head(connection, company.id)[1]
    events = event_store.party_events(connection, company.id)
    seq = events[-1].seq if events else 0
    who = actor(connection)
    said = []
    for item in terms.funds_flow.disbursements:
        proposed = proposed_for(item, terms.slug)
        event = decide_beneficiary(
            company, seq + 1, item.id, versions(events, item.id), proposed, who, host, now
        )
        if event is None:
            continue
        event = event._replace(on_behalf_of=on_behalf(who, on_behalf_of))
        stored = event_store.append_event(connection, deal_id, terms.slug, company, event, head)
        events.append(stored)
        seq, head = stored.seq, event_store.lock_chain_head(connection, company.id)[1]
        if proposed.fingerprint is not None:
            said.append(
                f"Beneficiary of {item.id} ({proposed.account_masked}) entered by {stored.who}: "
                f"NOT VERIFIED until another operator calls back (closing beneficiary verify "
                f"{item.id})"
            )
    return said


def verify_beneficiary(
    database: Database,
    deal_name: str | None,
    disbursement: str,
    request: Verification,
    now: datetime,
) -> tuple[Deal, Event]:
    """`closing beneficiary verify`: the second person's callback, as an event."""
    with database.transaction() as connection:
        deal = open_deal(connection, deal_name)
        item = find_disbursement(deal.terms, disbursement)
        require(connection, deal.id, VERIFIER, f"verify the beneficiary of {item.id}")
        request = replace(request, actor=actor(connection))
        company = deal_store.party_where(connection, deal.id)
        assert company is not None
        head = event_store.lock_chain_head(connection, company.id)[1]
        events = event_store.party_events(connection, company.id)
        event = decide_beneficiary_verified(
            company,
            (events[-1].seq if events else 0) + 1,
            item.id,
            versions(events, item.id),
            request,
            now,
        )
        return deal, event_store.append_event(connection, deal.id, deal.slug, company, event, head)


def match_debits(
    connection: Connection,
    deal: Deal,
    bank_file: BankFile,
    accounts: dict[str, bool],
    apply: bool,
    host: str,
    now: datetime,
) -> list[tuple[str, str | None, str]]:
    """The booked debits of the verified account (`accounts`: account number -> whether it is)
    matched to the disbursements: (bank reference, disbursement or None, why); with `apply`, a
    `disbursement_confirmed` event for each match. A debit confirmed before is skipped."""
    if deal.terms.funds_flow is None:
        return []
    debits = [
        e
        for e in bank_file.entries
        if e.direction == DEBIT and e.status == "booked" and accounts.get(e.account)
    ]
    if not debits:
        return []
    found, company = statement_on(connection, deal, now)
    events = event_store.party_events(connection, company.id)
    known = {read_confirmed(e).bank_reference for e in events if e.kind == DISBURSEMENT_CONFIRMED}
    head = event_store.lock_chain_head(connection, company.id)[1] if apply else ""
    standing: Standing = replay(deal.company_machine, events)
    seq = standing.last_seq
    taken: set[str] = set()
    rows: list[tuple[str, str | None, str]] = []
    who = actor(connection)
    for entry in debits:
        if entry.bank_reference in known:
            rows.append((entry.bank_reference, None, "confirmed before"))
            continue
        match = match_debit(entry.imad, entry.omad, entry.amount, found.disbursements, taken)
        rows.append((entry.bank_reference, match.disbursement, match.reason))
        if match.disbursement is None:
            continue
        taken.add(match.disbursement)
        if apply:
            seq += 1
            event = confirm_event(
                company,
                seq,
                match.disbursement,
                entry.amount,
                entry.bank_reference,
                bank_file.name,
                entry.imad,
                min(entry.booked_at or now, now),
                who,
                host,
                f"from the bank's file: {match.reason}",
            )
            stored = event_store.append_event(connection, deal.id, deal.slug, company, event, head)
            head = event_store.lock_chain_head(connection, company.id)[1]
            seq = stored.seq
    return rows
