"""Importing a bank file's credits, on a `closing.store.connection.Connection` in the caller's
transaction (`closing.services.wires.read_and_import`).

Only credits to the company's verified account count; each is matched to a purchaser
(`closing.domain.matching`) and, with `apply`, the clear matches are recorded as wired marks (or
partial receipts, by the money rules of `closing.domain.marking`) and every new credit in the
credit ledger, in one transaction. Nothing here prints, and nothing imports SQLAlchemy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from hashlib import sha256
from typing import NamedTuple

from closing.domain.bankfiles import CREDIT, BankFile, Entry, stored_reference
from closing.domain.bankfiles.details import IMAD
from closing.domain.deal import Deal
from closing.domain.errors import RefusedError
from closing.domain.events import Event, Purchaser, Standing, on_behalf, replay, who_text
from closing.domain.marking import MarkRequest, decide_mark
from closing.domain.matching import Owed, Proposal, Rules, match_credits
from closing.domain.money import format_money, money_text
from closing.domain.proposals import wire_report
from closing.domain.team import MONEY
from closing.domain.terms import StoredStep
from closing.domain.text import plural
from closing.domain.timefmt import local
from closing.domain.wire_instructions import Version, is_company_account, payment_gate
from closing.services.deals import open_deal
from closing.services.team import require
from closing.store import deals as deal_store
from closing.store import events as event_store
from closing.store import wires
from closing.store.connection import Connection
from closing.store.facts import fact_table, record_facts, require_facts
from closing.store.identity import actor

WINDOW_AFTER = 5  # business days after the closing date that a wire still counts as the deal's

_MONEY_FACTS = fact_table("wire_instructions") + fact_table("bank_credit")


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
    accounts: dict[str, bool] = field(default_factory=dict)  # account -> the verified one?
    # debits matched to the funds flow's disbursements: (bank reference, disbursement, why)
    disbursements: list[tuple[str, str | None, str]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    def summary(self) -> str:
        """What the import did (or, without `applied`, would do), in one line."""
        recorded, left = self.count("recorded"), self.count("left")
        again, conflicts = self.count("already imported"), self.count("conflict")
        verb = "Recorded" if self.applied else "Would record"
        parts = [f"{verb} {plural(recorded, 'wire')}", f"{left} left for a person"]
        if again:
            parts.append(f"{again} imported before")
        if conflicts:
            parts.append(
                f"{plural(conflicts, 'conflict')} (a bank reference imported before with other "
                "content: kept for a person, see closing wires list)"
            )
        skipped = [
            plural(self.other_accounts, "credit") + " to another account"
            if self.other_accounts
            else "",
            plural(self.debits, "debit") if self.debits else "",
            plural(self.pending, "pending entry", "pending entries") if self.pending else "",
        ]
        skipped = [s for s in skipped if s]
        if skipped:
            parts.append(f"ignored {', '.join(skipped)}")
        return "; ".join(parts) + "."

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


def payment_step(deal: Deal) -> StoredStep:
    for step in deal.terms.purchaser_steps:
        if step.is_payment:
            return step
    raise RefusedError(f"deal {deal.slug} has no payment step (payment: true) to record wires on")


def closing_window(deal: Deal, step: StoredStep) -> Rules:
    terms = deal.terms
    last = deal.step_calendar(step).next_business_day(terms.closing_date, WINDOW_AFTER)
    return Rules(step.tolerance, terms.agreement_date, last)


def import_on(
    connection: Connection,
    deal_name: str | None,
    bank_file: BankFile,
    apply: bool,
    on_behalf_of: str | None,
    host: str,
    now: datetime,
    unverified_ok: bool = False,
) -> ImportResult:
    """Match a bank file's credits to purchasers; with `apply`, record the clear matches as wired
    marks (or partial receipts) and every new credit in the credit ledger, in the connection's one
    transaction. A credit already imported (by its bank reference) is skipped."""
    deal = open_deal(connection, deal_name)
    if apply:
        require(connection, deal.id, MONEY, f"record wires from {bank_file.name}")
    step = payment_step(deal)
    require_facts(connection, deal.id, f"import {bank_file.name}", _MONEY_FACTS)
    status = wires.wire_status_of(connection, deal.id)
    verified = status.verified_version
    if verified is None:
        entered = status.current if status.present else None
        raise RefusedError(
            f"cannot import wires for {deal.slug}: "
            + (
                f"its wire instructions ({entered.account_masked}, entered by "
                f"{entered.entered_by}) have never been verified, and credits count only on the "
                "verified company account (even a dry run; --unverified-instructions-ok does not "
                "stand in for it); another operator runs closing wire-instructions verify"
                if entered is not None
                else "it has no verified wire instructions, and credits count only on the "
                "verified company account; add company.wire_instructions to the deal file and "
                "have another operator run closing wire-instructions verify"
            )
            + "; nothing recorded"
        )
    what = f"record wires from {bank_file.name}"
    gate_note = payment_gate(status, unverified_ok or not apply, what)
    result = ImportResult(deal, bank_file, apply, warning=status.warning())
    heads = event_store.lock_deal_parties(connection, deal.id) if apply else {}
    credits = _company_credits(bank_file, verified, deal.slug, result)
    if deal.terms.funds_flow is not None and result.debits:
        from closing.services.funds import match_debits

        result.disbursements = match_debits(
            connection, deal, bank_file, result.accounts, apply, host, now
        )
    fresh, conflicts = _sort_out(connection, deal.id, credits, result)
    if not fresh and not conflicts:
        return result
    purchasers, company = deal_store.parties(connection, deal.id)
    events = event_store.events_by_party(connection, deal.id)
    fresh = _not_recorded_by_hand(fresh, events, step.id, result)
    if not fresh and not conflicts:
        return result
    machine = deal.machine
    company_states = (
        replay(deal.company_machine, events.get(company.id, [])).states if company else {}
    )
    standings: dict[int, Standing] = {}
    owed: list[Owed] = []
    for purchaser in purchasers:
        history = events.get(purchaser.id, [])
        standing = replay(machine, history) if history else Standing()
        standings[purchaser.id] = standing
        if standing.withdrawn is not None or step.id in standing.states:
            continue
        received = standing.received(step.id)
        partial_ok = step.allows_partial or bool(standing.receipts.get(step.id))
        report = wire_report(standing.link_events) if standing.link_events else None
        owed.append(
            Owed(
                purchaser,
                purchaser.purchase_price - received,
                partial_ok,
                report.imad if report else None,
                f"reported by {report.by} at {local(report.reported_at, deal.terms.zone)}"
                if report
                else "",
            )
        )
    proposals = match_credits(fresh, owed, closing_window(deal, step))
    who = actor(connection)
    behalf = on_behalf(who, on_behalf_of)
    decide = _Decider(
        deal, step, standings, events, company_states, bank_file, gate_note, who, host, now
    )
    decide.on_behalf_of = behalf
    rows = [decide.row(proposal) for proposal in proposals]
    if apply:
        # Every wire in one batch, each chained to its purchaser's head.
        to_append = [
            (row.purchaser, row.event, heads[row.purchaser.id])
            for row in rows
            if row.event is not None and row.purchaser is not None
        ]
        appended = iter(event_store.append_events(connection, deal.id, deal.slug, to_append))
        rows = [  # each with its stored event (a new tuple: faster than _replace)
            ImportRow(row.entry, row.status, row.reason, row.purchaser, next(appended), row.partial)
            if row.event is not None
            else row
            for row in rows
        ]
        by = who_text(who, behalf)
        credit_rows = [_credit_row(r, bank_file, by, now) for r in [*rows, *conflicts]]
        wires.insert_credits(connection, deal.id, credit_rows)
        record_facts(connection, deal.id, now, fact_table("bank_credit"))
    result.rows += [*rows, *conflicts]
    return result


def _content(amount: Decimal, currency: str, value_date: str | None, imad: str | None) -> str:
    return f"{money_text(amount)} {currency} {value_date or '-'} {imad or '-'}"


def _entry_content(entry: Entry) -> str:
    day = entry.value_date.isoformat() if entry.value_date else None
    return _content(entry.amount, entry.currency, day, entry.imad)


def _sort_out(
    connection: Connection, deal_id: int, credits: list[Entry], result: ImportResult
) -> tuple[list[Entry], list[ImportRow]]:
    """The credits not imported before, and the conflicts: a bank reference seen before (in an
    earlier file or this one) on a credit of other content (amount, currency, value date, IMAD),
    kept under the reference and a hash of its content, never dropped. The same credit again
    is `already imported`."""
    keys = {
        id(entry): stored_reference(
            f"{entry.bank_reference}~{sha256(_entry_content(entry).encode()).hexdigest()[:12]}"
        )
        for entry in credits
    }
    known = {
        reference: _content(c.amount, c.currency, c.value_date, c.imad)
        for reference, c in wires.known_credits(
            connection, deal_id, [*(e.bank_reference for e in credits), *keys.values()]
        ).items()
    }
    # One Fedwire message is one wire, whichever file reports it under whichever reference (a
    # BAI2 file keys it by its IMAD, the camt.054 of the same day by the bank's own reference).
    by_imad = wires.known_credits(
        connection, deal_id, [e.imad for e in credits if e.imad], column="imad"
    )
    fresh: list[Entry] = []
    conflicts: list[ImportRow] = []
    for entry in credits:
        content = _entry_content(entry)
        first = known.get(entry.bank_reference)
        seen = by_imad.get(entry.imad) if entry.imad else None
        if first is None and seen is not None and seen.bank_reference != entry.bank_reference:
            before = _content(seen.amount, seen.currency, seen.value_date, seen.imad)
            if before == content:
                called = "" if seen.bank_reference == entry.imad else f" as {seen.bank_reference}"
                why = f"imported before{called} (IMAD {entry.imad})"
                result.rows.append(ImportRow(entry, "already imported", why))
            else:
                known[keys[id(entry)]] = content
                why = (
                    f"CONFLICT: IMAD {entry.imad} was imported before as {seen.bank_reference} "
                    f"with other content ({before}; this one {content}); kept as "
                    f"{keys[id(entry)]} for a person"
                )
                moved = entry._replace(bank_reference=keys[id(entry)])
                conflicts.append(ImportRow(moved, "conflict", why))
            continue
        if first is None:
            known[entry.bank_reference] = content
            fresh.append(entry)
        elif first == content or keys[id(entry)] in known:
            result.rows.append(ImportRow(entry, "already imported", "imported before"))
        else:
            known[keys[id(entry)]] = content
            why = (
                f"CONFLICT: bank reference {entry.bank_reference} was imported before with other "
                f"content ({first}; this one {content}); kept as {keys[id(entry)]} for a person"
            )
            conflicts.append(
                ImportRow(entry._replace(bank_reference=keys[id(entry)]), "conflict", why)
            )
    return fresh, conflicts


def _not_recorded_by_hand(
    credits: list[Entry], events: dict[int, list[Event]], step_id: str, result: ImportResult
) -> list[Entry]:
    """The credits whose IMAD no payment recorded by hand names (in its evidence or note: a
    partial wire marked with `--reference "FED IMAD ..."` is that wire; the bank's file
    confirms it, it does not pay the price again); the others are `already imported`."""
    named: dict[str, Event] = {}
    for history in events.values():
        for event in history:
            if event.step == step_id and (event.evidence or event.note):
                text = f"{event.evidence or ''} {event.note or ''}"
                for imad in _IMAD.findall(text):
                    named.setdefault(imad, event)
    if not named:
        return credits
    kept: list[Entry] = []
    for entry in credits:
        found = named.get(entry.imad) if entry.imad else None
        if found is None:
            kept.append(entry)
            continue
        why = f"recorded before by hand as event #{found.id} (IMAD {entry.imad})"
        result.rows.append(ImportRow(entry, "already imported", why))
    return kept


_IMAD = re.compile(rf"(?<![0-9A-Z]){IMAD.pattern}(?![0-9A-Z])")  # one, in free text


def _company_credits(
    bank_file: BankFile, verified: Version, deal_slug: str, result: ImportResult
) -> list[Entry]:
    """The booked credits to the company's verified account; the rest counted and set aside."""
    checked = result.accounts  # each account number is checked once (a slow hash)
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


class _Decider:
    """Each proposal as a row: a wired mark (or partial receipt) where the mark rules allow the
    match, else left for a person with the reason."""

    def __init__(
        self,
        deal: Deal,
        step: StoredStep,
        standings: dict[int, Standing],
        events: dict[int, list[Event]],
        company_states: dict[str, str],
        bank_file: BankFile,
        gate_note: str | None,
        actor: str,
        host: str,
        now: datetime,
    ) -> None:
        self.deal, self.step = deal, step
        self.actor, self.host, self.now = actor, host, now
        self.standings, self.events, self.company_states = standings, events, company_states
        self.evidence_tail = f"; {bank_file.format} {bank_file.name} sha256:{bank_file.sha256[:16]}"
        self.note_tail = f"; {gate_note}" if gate_note else ""
        self.recorded: dict[int, list[Event]] = {}  # what this file recorded, by purchaser
        self.on_behalf_of: str | None = None

    def row(self, proposal: Proposal) -> ImportRow:
        entry = proposal.entry
        party = proposal.purchaser
        if party is None:
            return ImportRow(entry, "left", proposal.reason)
        now = self.now
        request = MarkRequest(
            purchaser=party.slug,
            step=self.step.id,
            at=min(entry.booked_at or now, now),
            actor=self.actor,
            host=self.host,
            on_behalf_of=self.on_behalf_of,
            evidence_kind="bank",
            evidence=entry.evidence + self.evidence_tail,
            amount=entry.amount,
            note=f"from the bank's file: {proposal.reason}{self.note_tail}",
            partial=proposal.partial,
        )
        standing = self.standings[party.id]
        before = self.recorded.get(party.id)
        if before is not None:  # a second credit of the same purchaser in this file
            standing = replay(self.deal.machine, [*self.events.get(party.id, []), *before])
        try:
            event = decide_mark(
                self.deal, self.step, party, standing, request, now, self.company_states
            ).event
        except RefusedError as refusal:
            why = f"matched {party.name} ({proposal.reason}) but {refusal.message}"
            return ImportRow(entry, "left", why, party)
        self.recorded.setdefault(party.id, []).append(event)
        return ImportRow(entry, "recorded", proposal.reason, party, event, proposal.partial)


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
        "status": row.status if row.status in ("recorded", "conflict") else "left",
        "reason": row.reason,
        "purchaser_id": row.purchaser.id if row.purchaser and row.status == "recorded" else None,
        "event_id": row.event.id if row.event is not None and row.event.id else None,
    }
