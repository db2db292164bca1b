"""What the closing memorandum says of each party and each step: a purchaser's standing, figures and
Schedule 1 details, each step's verdict (on time, late, reversed, waived, open) with its events
and their particulars, and one line for each record outside the steps.

Pure, like `closing.domain.memo`, which assembles these into the memo; account numbers in free
text go through the memo's `Masker` (`closing.domain.redaction`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from closing.domain.board import (
    DONE_LATE,
    DONE_STATUS,
    OVERDUE,
    WAIVED_STATUS,
    PurchaserStatus,
    StepStatus,
)
from closing.domain.cutoffs import practical_title
from closing.domain.deal import Deal
from closing.domain.delivery import HELD
from closing.domain.events import (
    ACCEPTED,
    BENEFICIARY,
    BENEFICIARY_VERIFIED,
    DISBURSED,
    DISBURSEMENT_CONFIRMED,
    INSTRUCTIONS,
    INSTRUCTIONS_VERIFIED,
    LINK_EVENTS,
    PROPOSAL,
    RECEIPT,
    REJECTED,
    REVERSE,
    REVISION,
    UNDO,
    WAIVE,
    WIRE_REPORT,
    WITHDRAW,
    Event,
    Purchaser,
)
from closing.domain.machine import MARK
from closing.domain.money import format_money
from closing.domain.owners import owner_of
from closing.domain.proposals import link_words
from closing.domain.record import RecordEntry
from closing.domain.redaction import Masker, mask_account
from closing.domain.terms import StoredStep
from closing.domain.timefmt import duration, local


@dataclass(frozen=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True)
class EventLine:
    """One event on a step: when it happened, what (`done by alice`), and its particulars."""

    when: str
    what: str
    details: tuple[str, ...]


@dataclass(frozen=True)
class StepRecord:
    step: str
    title: str
    due: str
    status: str  # the board's: done, done_late, pending, due_soon, overdue, waived
    verdict: str  # "On time", "Late by 10m", "Open; overdue by 2d 16h", "Waived"
    flagged: bool  # late, overdue, reversed or needing attention: set apart in the memo
    events: tuple[EventLine, ...]
    notes: tuple[str, ...]  # a waiver's reason, a reversal it stood on, missing details
    exception: str | None  # late, overdue, reversed, waived, done before a reversal
    still_open: str | None  # open and on time: when it is due
    held: str | None = None  # held until the payment is in (delivery against payment)
    open_text: str | None = None  # open (overdue, held or on time): what "Still open" says
    post_closing: str | None = None  # due after the closing day: when, whose, where it stands
    accepted: str | None = None  # late or waived: who recorded it so (the narrative's sentence)

    @property
    def routine(self) -> bool:
        """Done on time, in order, with nothing to note: one line of Annex A, not a table row."""
        return self.status == DONE_STATUS and not self.flagged and not self.notes

    @property
    def open_only(self) -> bool:
        """Open with nothing recorded: named in one line, listed under Still open."""
        return self.open_text is not None and not self.events and not self.flagged

    @property
    def routine_text(self) -> str:
        """`Agreement signed (Fri 2002-06-07 09:10 PDT by alice; Evidence ...)`."""
        parts = [f"{e.when} {e.what}" + "".join(f"; {d}" for d in e.details) for e in self.events]
        return f"{self.title} ({'; '.join(parts)})" if parts else self.title


@dataclass(frozen=True)
class PartyRecord:
    name: str
    slug: str
    standing: str  # "Closed", "Open: 2 of 5 steps outstanding", "Withdrawn: never funded"
    closed: bool
    withdrawn: bool
    figures: tuple[Field, ...]  # shares, purchase price, warrant shares, received
    details: tuple[Field, ...]  # notices and DWAC instructions (account masked)
    steps: tuple[StepRecord, ...]
    clean: bool = False  # closed, every step done on time and in order: one line in Annex A
    last_done: str = ""  # when its last step was done


@dataclass(frozen=True)
class RecordLine:
    """A correction (undo, reversal, waiver, withdrawal) or any other record, one row."""

    when: str
    party: str
    what: str
    by: str
    detail: str
    recorded: str


def when(moment: datetime, zone: ZoneInfo) -> str:
    """`Fri 2002-06-07 10:15 PDT`."""
    return f"{moment.astimezone(zone):%a} {local(moment, zone)}"


def number_text(value: int) -> str:
    """`1,935,483`: a count of shares."""
    return f"{value:,}"


def party_record(
    deal: Deal,
    row: PurchaserStatus,
    events: list[Event],
    at: datetime,
    mask: Masker,
    as_of_given: bool = False,
) -> PartyRecord:
    """A purchaser of Schedule 1 as the memo shows it: standing, figures, details, steps."""
    purchaser = row.purchaser
    steps = tuple(
        step_record(deal, step, row.steps[step.id], purchaser, events, at, mask, as_of_given)
        for step in deal.terms.purchaser_steps
    )
    open_steps = sum(1 for s in row.steps.values() if not s.finished)
    if row.withdrawn is not None:
        standing = f"Withdrawn {when(row.withdrawn.occurred_at, deal.terms.zone)}: " + mask(
            row.withdrawn.note
        )
    elif row.closed:
        standing = "Closed"
    else:
        standing = f"Open: {open_steps} of {len(steps)} steps outstanding"
    figures: tuple[Field, ...] = (
        Field("Shares", number_text(purchaser.shares)),
        Field("Purchase price", format_money(purchaser.purchase_price)),
        Field("Warrant shares", number_text(purchaser.warrant_shares)),
        Field("Received", format_money(row.amount_received)),
    )
    if row.shortfall:
        figures = (*figures, Field("Short of the price by", format_money(row.shortfall)))
    clean = row.closed and not any(s.flagged or s.exception or s.notes for s in steps)
    done = [e.occurred_at for e in events if e.kind == MARK]
    return PartyRecord(
        purchaser.name,
        purchaser.slug,
        standing,
        row.closed,
        row.withdrawn is not None,
        figures,
        _details(purchaser),
        steps,
        clean,
        when(max(done), deal.terms.zone) if done else "",
    )


def _details(purchaser: Purchaser) -> tuple[Field, ...]:
    """The notice and DWAC details of Schedule 1's purchaser, the account number masked."""
    notices = [
        value
        for value in (
            purchaser.detail("notices.attention")
            and f"Attn: {purchaser.detail('notices.attention')}",
            purchaser.detail("notices.address"),
            purchaser.detail("notices.facsimile")
            and f"facsimile {purchaser.detail('notices.facsimile')}",
        )
        if value
    ]
    account = purchaser.detail("dwac.account_number")
    dwac = [
        value
        for value in (
            purchaser.detail("dwac.dtc_number")
            and f"DTC No. {purchaser.detail('dwac.dtc_number')}",
            account and f"account {mask_account(account)}",
            purchaser.detail("dwac.reference")
            and f"reference {purchaser.detail('dwac.reference')}",
        )
        if value
    ]
    fields = [
        Field("Notices", "; ".join(notices) if notices else "not given in the deal file"),
        Field("DWAC", "; ".join(dwac) if dwac else "not given in the deal file"),
    ]
    if purchaser.time_zone:
        fields.append(Field("Time zone", purchaser.time_zone))
    return tuple(fields)


def _verdict(
    status: StepStatus, at: datetime, withdrawn: bool, reversal: Event | None, market: str | None
) -> str:
    if status.status == DONE_STATUS:
        return "On time"
    if status.status == DONE_LATE:
        return f"Late by {duration(timedelta(seconds=status.late_by or 0))}"
    if status.status == WAIVED_STATUS:
        return "Waived"
    if withdrawn:
        return "Not done (withdrawn)"
    opened = "Reversed; open" if reversal is not None else "Open"
    due_by = status.due_by
    if status.status == OVERDUE:
        return f"{opened}, overdue by {duration(at - due_by)}" + (
            f" ({market} closed)" if market and due_by < status.deadline else ""
        )
    if status.status == HELD:
        return f"{opened}, held until its payment is in"
    return f"{opened}, due in {duration(due_by - at)}" + (
        f" ({market}'s cutoff)" if market and due_by < status.deadline else ""
    )


def _lowered(verdict: str) -> str:
    """`Open, overdue by 2d (Fedwire closed)` -> `open, overdue by 2d (Fedwire closed)`."""
    return verdict[:1].lower() + verdict[1:]


def _reversals(events: list[Event]) -> dict[str, Event]:
    """The steps whose last event is a reversal (open again), and that reversal."""
    last: dict[str, Event] = {}
    for event in events:
        if event.step:
            last[event.step] = event
    return {step: event for step, event in last.items() if event.kind == REVERSE}


def step_record(
    deal: Deal,
    step: StoredStep,
    status: StepStatus,
    party: Purchaser | None,
    events: list[Event],
    at: datetime,
    mask: Masker,
    as_of_given: bool = False,
) -> StepRecord:
    """One step of `party` (None: the company) at `at`: its verdict, events, notes, and whether
    it is an exception or still open on time."""
    zone = deal.step_zone(step, party)
    withdrawn = any(e.kind == WITHDRAW for e in events)
    reversed_steps = _reversals(events)
    reversal = None if status.finished else reversed_steps.get(step.id)
    lines = tuple(_event_line(e, zone, mask) for e in events if e.step == step.id)
    market = practical_title(step.practical.market) if step.practical is not None else None
    verdict = _verdict(status, at, withdrawn, reversal, market)
    cutoff_passed = as_of_given and not status.finished and not withdrawn and status.due_by <= at
    if cutoff_passed:  # a memo of a past moment: what was open at a deadline that had passed
        verdict = f"Not done by the cutoff ({when(status.due_by, zone)})"
    notes: list[str] = []
    exception: str | None = None
    accepted: str | None = None
    mine = [e for e in events if e.step == step.id]
    if status.status == WAIVED_STATUS:
        waiver = next((e for e in reversed(mine) if e.kind == WAIVE), None)
        by = f" by {waiver.who}" if waiver is not None else ""
        exception = f"waived{by}: {mask(status.reason)}"
        accepted = f"{step.title} was waived{by} ({mask(status.reason)})"
    elif status.status == DONE_LATE:
        exception = _lowered(verdict)
        mark = next((e for e in reversed(mine) if e.kind == MARK), None)
        accepted = f"{step.title} was {exception}" + (
            f"; {mark.who} recorded it as done, and no waiver was recorded" if mark else ""
        )
    elif cutoff_passed:
        exception = verdict[:1].lower() + verdict[1:]
    elif reversal is not None:
        exception = f"reversed {when(reversal.occurred_at, zone)} ({mask(reversal.note)}); " + (
            verdict.removeprefix("Reversed; ")
        )
    elif status.status == OVERDUE and not withdrawn:
        exception = _lowered(verdict)
    practical = status.practical
    if (
        status.status in (DONE_STATUS, DONE_LATE)
        and practical is not None
        and status.done_at is not None
        and practical < status.done_at
    ):
        notes.append(f"Done after {market}'s cutoff ({when(practical, zone)})")
    if status.breach:
        exception = "; ".join(filter(None, [exception, *status.breach]))
    if status.finished:
        before = [
            deal.terms.step(needed).title
            for needed in step.requires
            if needed in reversed_steps and needed in deal.terms.step_ids
        ]
        if before:
            notes.append(f"Done before {' and '.join(before)} was reversed")
            exception = "; ".join(filter(None, [exception, notes[-1][:1].lower() + notes[-1][1:]]))
    elif not withdrawn:
        notes += [f"Blocked: {missing}" for missing in status.blocked_by]
        if status.waiting_on:
            waiting = [deal.terms.step(s).title for s in status.waiting_on]
            notes.append(f"Waiting on: {', '.join(waiting)}")
    if status.reason:
        notes.insert(0, mask(status.reason))
    still_open = held = None
    if status.status == HELD and not withdrawn and step.held_until:
        until = deal.terms.step(step.held_until).title
        held = f"held until {until} is in; due {when(status.deadline, zone)}"
    elif not status.finished and not withdrawn and exception is None:
        due_by = status.due_by
        still_open = f"due {when(due_by, zone)} (in {duration(due_by - at)})"
        if due_by < status.deadline:
            still_open += f", {market}'s cutoff; the agreement's {when(status.deadline, zone)}"
        if status.blocked_by:
            still_open += "; " + ", ".join(status.blocked_by)
    owner = owner_of(step, party.slug if party is not None else None)
    if still_open or held:  # what is left after the closing, and whose it is
        still_open = still_open and f"{still_open}; owner {owner}"
        held = held and f"{held}; owner {owner}"
    open_text = None
    if not status.finished and not withdrawn:
        open_text = (None if cutoff_passed else still_open or held) or (
            f"{exception or _lowered(verdict)}; owner {owner}"
        )
    post_closing = None
    if open_text and status.deadline.astimezone(zone).date() > deal.terms.closing_date:
        post_closing = f"due {when(status.deadline, zone)}; owner {owner}; {_lowered(verdict)}"
    return StepRecord(
        step.id,
        step.title,
        when(status.deadline, zone),
        status.status,
        verdict,
        exception is not None or (withdrawn and not status.finished),
        lines,
        tuple(notes),
        exception,
        still_open,
        held,
        open_text,
        post_closing,
        accepted,
    )


_WHAT = {
    MARK: "done",
    RECEIPT: "part payment received",
    UNDO: "undone (a mistake in the record)",
    REVERSE: "reversed",
    WAIVE: "waived",
    WITHDRAW: "withdrawn",
    REVISION: "deal file reloaded",
    INSTRUCTIONS: "wire instructions entered",
    INSTRUCTIONS_VERIFIED: "wire instructions verified by callback",
    PROPOSAL: "details proposed through the purchaser's link",
    ACCEPTED: "proposed details accepted",
    REJECTED: "proposed details rejected",
    WIRE_REPORT: "wire reported sent by the purchaser (not money received)",
    DISBURSED: "outgoing wire sent",
    DISBURSEMENT_CONFIRMED: "outgoing wire confirmed by the bank's file",
    BENEFICIARY: "beneficiary bank details entered",
    BENEFICIARY_VERIFIED: "beneficiary bank details verified by callback",
}


def _particulars(event: Event, mask: Masker, zone: ZoneInfo) -> list[str]:
    details = []
    if event.evidence and event.kind in LINK_EVENTS:
        details.append(mask(link_words(event)))  # what a link sent, and its answer, in words
    elif event.evidence:
        label = (event.evidence_kind or "evidence").replace("_", " ")
        details.append(f"{label[:1].upper()}{label[1:]} {mask(event.evidence)}")
    if event.amount is not None:
        details.append(format_money(event.amount))
    if event.note:
        details.append(mask(event.note))
    if event.logged_at != event.occurred_at:
        details.append(f"recorded {when(event.logged_at, zone)}")
    return details


def _event_line(event: Event, zone: ZoneInfo, mask: Masker) -> EventLine:
    what = _WHAT.get(event.kind, event.kind.replace("_", " "))
    return EventLine(
        when(event.occurred_at, zone),
        f"{what} by {event.who}",
        tuple(_particulars(event, mask, zone)),
    )


def record_line(deal: Deal, entry: RecordEntry, mask: Masker) -> RecordLine:
    """An event as one row of the memo's record sections (corrections, other records, wire
    instructions)."""
    event = entry.event
    zone = deal.terms.zone
    title = event.step
    if event.step:
        try:
            title = deal.terms.step(event.step).title
        except KeyError:
            title = event.step
    what = _WHAT.get(event.kind, event.kind.replace("_", " "))
    what = f"{title}: {what}" if title else what[:1].upper() + what[1:]
    details = _particulars(
        event._replace(recorded_at=event.occurred_at, rehearsal_at=None), mask, zone
    )
    return RecordLine(
        when(event.occurred_at, zone),
        entry.party.name,
        what,
        event.who,
        "; ".join(details),
        when(event.logged_at, zone),
    )
