"""The closing memorandum's content, built from the record: the deal's terms, the board as it
stood at a moment, every event with the hash stored with it, and what `closing verify` found.

Pure: it returns values (text ready to be set in any format) and never prints, reads the clock or
touches the database; `closing.cli.report` sets them as PDF, HTML or Markdown, and writes the
binder export. Account numbers are masked here (by `closing.domain.redaction`), once, so no
format can print one whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from closing.domain.board import (
    DONE_LATE,
    DONE_STATUS,
    OVERDUE,
    WAIVED_STATUS,
    Board,
    PurchaserStatus,
    StepStatus,
)
from closing.domain.chain import record_digest
from closing.domain.deal import Deal
from closing.domain.dealfile import Step
from closing.domain.events import (
    INSTRUCTIONS,
    INSTRUCTIONS_VERIFIED,
    RECEIPT,
    REVERSE,
    REVISION,
    UNDO,
    WAIVE,
    WITHDRAW,
    Event,
    Purchaser,
)
from closing.domain.machine import MARK
from closing.domain.money import format_money, money_text
from closing.domain.redaction import Masker, account_numbers, mask_account
from closing.domain.timefmt import duration, local

CORRECTIONS = (UNDO, REVERSE, WAIVE, WITHDRAW)
WIRE_INSTRUCTIONS = (INSTRUCTIONS, INSTRUCTIONS_VERIFIED)
KNOWN_KINDS = (MARK, RECEIPT, *CORRECTIONS)

# --- the record, as the memo and the export read it ----------------------------------------------


@dataclass(frozen=True)
class RecordEntry:
    """One event of the log, its party, and the hashes stored with it."""

    party: Purchaser
    event: Event
    prev_hash: str | None
    hash: str | None


@dataclass(frozen=True)
class DealRevision:
    """A load of the deal file that changed the deal."""

    loaded_at: datetime
    source_sha256: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class DealRecord:
    """Everything the log holds for a deal, in the order it was appended."""

    deal: Deal
    entries: list[RecordEntry]
    revisions: list[DealRevision]


@dataclass(frozen=True)
class Verified:
    """What `closing verify` found just before the memo was made (it refuses a broken log)."""

    at: datetime
    events: int
    heads: Mapping[str, str]


# --- what the memo says ------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Item:
    """An exception or an open step: whose, which, and what about it."""

    party: str
    step: str
    text: str


@dataclass(frozen=True)
class ScheduleRow:
    name: str
    shares: str
    purchase_price: str
    warrant_shares: str
    received: str
    standing: str


@dataclass(frozen=True)
class RecordLine:
    """A correction (undo, reversal, waiver, withdrawal) or any other record, one row."""

    when: str
    party: str
    what: str
    by: str
    detail: str
    recorded: str


@dataclass(frozen=True)
class Head:
    party: str
    slug: str  # the party's slug (`@company` for the company), as the digest covers it
    chain: str  # as `closing verify` prints it: the slug, `company` for the company
    events: int
    hash: str


@dataclass(frozen=True)
class Memo:
    slug: str
    title: str
    company: str
    as_of: str
    as_of_given: bool  # --as-of: the record as it stood then, not as it stands now
    generated: str
    complete: bool
    summary: tuple[str, ...]
    exceptions: tuple[Item, ...]
    still_open: tuple[Item, ...]
    transaction: tuple[Field, ...]
    company_details: tuple[Field, ...]
    schedule: tuple[ScheduleRow, ...]
    schedule_total: ScheduleRow
    warrant_terms: str
    company_steps: tuple[StepRecord, ...]
    purchasers: tuple[PartyRecord, ...]
    corrections: tuple[RecordLine, ...]
    other_records: tuple[RecordLine, ...]
    instructions: tuple[RecordLine, ...]  # the company's wire instructions: entered, verified
    instructions_status: str | None  # "Verified ..." / "NOT VERIFIED ..."; None when none
    revisions: tuple[RecordLine, ...]
    events: int  # events recorded by the memo's moment
    heads: tuple[Head, ...]
    digest: str  # one hash over every head: `closing verify`'s record digest
    integrity: str  # what `closing verify` found, in a sentence


def long_date(day: date) -> str:
    """`June 7, 2002`."""
    return f"{day:%B} {day.day}, {day.year}"


def when(moment: datetime, zone: ZoneInfo) -> str:
    """`Fri 2002-06-07 10:15 PDT`."""
    return f"{moment.astimezone(zone):%a} {local(moment, zone)}"


def years_after(day: date, years: int) -> date:
    """The same day `years` later (February 29 becomes February 28)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _count(value: int) -> str:
    return f"{value:,}"


def _plain(value: Decimal) -> str:
    """An exact per-share figure as the deal file writes it: `$0.2325`, `$0.001`."""
    return f"${value}"


def _percent(value: Decimal) -> str:
    return format((value * 100).normalize(), "f") + "%"


def build_memo(
    record: DealRecord,
    board: Board,
    verified: Verified,
    generated_at: datetime,
    as_of_given: bool = False,
) -> Memo:
    """The memorandum of `record` as it stood at `board.as_of` (the board is built at that
    moment; only events recorded by then are shown and counted)."""
    deal = record.deal
    terms = deal.terms
    zone = terms.zone
    at = board.as_of
    entries = [e for e in record.entries if e.event.recorded_at <= at]
    mask = Masker(account_numbers(deal, [row.purchaser for row in board.purchasers]))
    by_party: dict[int, list[Event]] = {}
    for entry in entries:
        by_party.setdefault(entry.party.id, []).append(entry.event)

    stock, warrant = terms.securities.common_stock, terms.securities.warrant
    expiry = years_after(terms.closing_date, warrant.term_years)
    cutoff = terms.cutoff.time.strftime("%H:%M")
    cutoff_zone = datetime.combine(terms.closing_date, terms.cutoff.time, zone).strftime("%Z")
    registration = terms.registration
    transaction = [
        Field("Agreement", f"{terms.title}, dated {long_date(terms.agreement_date)}"),
        Field(
            "Closing",
            f"{terms.closing_date:%A}, {long_date(terms.closing_date)}, by the close of business "
            f"({cutoff} {cutoff_zone}, {terms.cutoff.time_zone})",
        ),
        Field("Business days", ", ".join(terms.business_days.calendars)),
        Field(
            "Registration",
            f"Form {registration.form}, File No. {registration.file_number}"
            + (
                f"; prospectus supplement under Rule {registration.prospectus_supplement}"
                if registration.prospectus_supplement
                else ""
            ),
        ),
        Field(
            "Securities",
            f"Common stock, par value {_plain(stock.par_value)} per share, at "
            f"{_plain(stock.price_per_share)} per share; warrants for "
            f"{_percent(warrant.coverage)} of the shares at an exercise price of "
            f"{_plain(warrant.exercise_price)} per share, for {warrant.term_years} years, "
            f"expiring {long_date(expiry)}",
        ),
        Field("Governing law", terms.governing_law),
    ]
    company = terms.company
    notices = "; ".join(
        value
        for value in (
            company.attention and f"Attention: {company.attention}",
            company.address,
            company.facsimile and f"facsimile {company.facsimile}",
        )
        if value
    )
    company_details = [Field("Company", company.name)]
    if notices:
        company_details.append(Field("Notices", notices))

    rows = sorted(board.purchasers, key=lambda row: row.purchaser.position)
    parties = tuple(_party(deal, row, by_party.get(row.purchaser.id, []), at, mask) for row in rows)
    schedule = tuple(
        ScheduleRow(
            row.purchaser.name,
            _count(row.purchaser.shares),
            format_money(row.purchaser.purchase_price),
            _count(row.purchaser.warrant_shares),
            format_money(row.amount_received),
            "Withdrawn" if row.withdrawn else ("Closed" if row.closed else "Open"),
        )
        for row in rows
    )
    taking_part = [row for row in rows if row.withdrawn is None]
    total = ScheduleRow(
        f"Total ({len(rows)} purchaser{'s' if len(rows) != 1 else ''})",
        _count(sum(row.purchaser.shares for row in rows)),
        format_money(sum((row.purchaser.purchase_price for row in rows), Decimal(0))),
        _count(sum(row.purchaser.warrant_shares for row in rows)),
        format_money(sum((row.amount_received for row in rows), Decimal(0))),
        f"{sum(1 for row in taking_part if row.closed)} closed",
    )
    warrant_terms = (
        f"Price per share {_plain(stock.price_per_share)}. Each warrant: exercise price "
        f"{_plain(warrant.exercise_price)} per share, term {warrant.term_years} years from the "
        f"closing date, expiring {long_date(expiry)}."
    )

    company_row = next((e.party for e in record.entries if e.party.is_company), None)
    company_events = by_party.get(company_row.id, []) if company_row else []
    company_steps = tuple(
        _step(deal, step, board.company.steps[step.id], None, company_events, at, mask)
        for step in terms.company_steps
        if step.id in board.company.steps
    )

    corrections: list[RecordLine] = []
    others: list[RecordLine] = []
    instructions: list[RecordLine] = []
    instructions_status: str | None = None
    for entry in entries:
        event = entry.event
        if event.kind in KNOWN_KINDS and event.kind not in CORRECTIONS:
            continue
        line = _record_line(deal, entry, mask)
        if event.kind in CORRECTIONS:
            corrections.append(line)
        elif event.kind in WIRE_INSTRUCTIONS:
            instructions.append(line)
            instructions_status = (
                f"Verified by {event.actor} by callback, {when(event.occurred_at, zone)}"
                if event.kind == INSTRUCTIONS_VERIFIED
                else f"NOT VERIFIED: entered by {event.actor}, {when(event.occurred_at, zone)}; "
                "no second person has called back"
            )
        else:
            others.append(line)

    revisions = tuple(
        RecordLine(
            when(revision.loaded_at, zone),
            "Deal file",
            "loaded",
            "",
            "; ".join(mask(change) for change in revision.changes) or "no change",
            f"SHA-256 {revision.source_sha256}",
        )
        for revision in record.revisions
        if revision.loaded_at <= at
    )

    heads = _heads(record, entries)
    taking = board.totals
    summary = [
        f"{taking.closed} of {taking.purchasers} purchaser{'s' if taking.purchasers != 1 else ''}"
        f" closed; {format_money(taking.amount_received)} of "
        f"{format_money(taking.purchase_price)} received.",
    ]
    if board.company.steps:
        done = sum(1 for s in board.company.steps.values() if s.finished)
        summary.append(f"Company deliveries: {done} of {len(board.company.steps)} done.")
    if taking.withdrawn:
        summary.append(
            f"{taking.withdrawn} purchaser{'s' if taking.withdrawn != 1 else ''} withdrew."
        )
    summary.append(
        "The closing is complete."
        if board.closed
        else "The closing is not complete: the steps still open are listed below."
    )
    exceptions, still_open = _exceptions(company.name, parties, company_steps)
    integrity = (
        f"The event log was verified whole (closing verify) at {when(verified.at, zone)}: "
        f"{verified.events:,} event{'s' if verified.events != 1 else ''} in "
        f"{len(verified.heads)} chain{'s' if len(verified.heads) != 1 else ''}."
    )
    return Memo(
        slug=terms.slug,
        title=terms.title,
        company=company.name,
        as_of=when(at, zone),
        as_of_given=as_of_given,
        generated=when(generated_at, zone),
        complete=board.closed,
        summary=tuple(summary),
        exceptions=exceptions,
        still_open=still_open,
        transaction=tuple(transaction),
        company_details=tuple(company_details),
        schedule=schedule,
        schedule_total=total,
        warrant_terms=warrant_terms,
        company_steps=company_steps,
        purchasers=parties,
        corrections=tuple(corrections),
        other_records=tuple(others),
        instructions=tuple(instructions),
        instructions_status=instructions_status,
        revisions=revisions,
        events=len(entries),
        heads=heads,
        digest=record_digest({head.slug: head.hash for head in heads}),
        integrity=integrity,
    )


def _heads(record: DealRecord, entries: Sequence[RecordEntry]) -> tuple[Head, ...]:
    """Each chain's last event by the memo's moment, and its stored hash: with no --as-of, the
    heads `closing verify` prints (the company's first, then Schedule 1's order)."""
    last: dict[int, RecordEntry] = {}
    for entry in entries:
        found = last.get(entry.party.id)
        if found is None or entry.event.seq > found.event.seq:
            last[entry.party.id] = entry
    ordered = sorted(last.values(), key=lambda e: e.party.position)
    return tuple(
        Head(e.party.name, e.party.slug, e.party.slug.lstrip("@"), e.event.seq, e.hash or "")
        for e in ordered
        if e.hash
    )


def _exceptions(
    company: str, parties: Sequence[PartyRecord], company_steps: Sequence[StepRecord]
) -> tuple[tuple[Item, ...], tuple[Item, ...]]:
    """What a reader must not miss (late, overdue, reversed, waived, withdrawn), and what is
    still open on time, one item each."""
    exceptions: list[Item] = []
    still_open: list[Item] = []
    for name, steps in [(company, company_steps), *((p.name, p.steps) for p in parties)]:
        for step in steps:
            if step.exception:
                exceptions.append(Item(name, step.title, step.exception))
            elif step.still_open:
                still_open.append(Item(name, step.title, step.still_open))
    for party in parties:
        if party.withdrawn:
            reason = party.standing.removeprefix("Withdrawn ")
            exceptions.append(Item(party.name, "Withdrawn", reason))
    return tuple(exceptions), tuple(still_open)


def _party(
    deal: Deal, row: PurchaserStatus, events: list[Event], at: datetime, mask: Masker
) -> PartyRecord:
    purchaser = row.purchaser
    steps = tuple(
        _step(deal, step, row.steps[step.id], purchaser, events, at, mask)
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
        Field("Shares", _count(purchaser.shares)),
        Field("Purchase price", format_money(purchaser.purchase_price)),
        Field("Warrant shares", _count(purchaser.warrant_shares)),
        Field("Received", format_money(row.amount_received)),
    )
    if row.shortfall:
        figures = (*figures, Field("Short of the price by", format_money(row.shortfall)))
    return PartyRecord(
        purchaser.name,
        purchaser.slug,
        standing,
        row.closed,
        row.withdrawn is not None,
        figures,
        _details(purchaser),
        steps,
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


def _verdict(status: StepStatus, at: datetime, withdrawn: bool, reversal: Event | None) -> str:
    if status.status == DONE_STATUS:
        return "On time"
    if status.status == DONE_LATE:
        return f"Late by {duration(timedelta(seconds=status.late_by or 0))}"
    if status.status == WAIVED_STATUS:
        return "Waived"
    if withdrawn:
        return "Not done (withdrawn)"
    opened = "Reversed; open" if reversal is not None else "Open"
    if status.status == OVERDUE:
        return f"{opened}, overdue by {duration(at - status.deadline)}"
    return f"{opened}, due in {duration(status.deadline - at)}"


def _reversals(events: list[Event]) -> dict[str, Event]:
    """The steps whose last event is a reversal (open again), and that reversal."""
    last: dict[str, Event] = {}
    for event in events:
        if event.step:
            last[event.step] = event
    return {step: event for step, event in last.items() if event.kind == REVERSE}


def _step(
    deal: Deal,
    step: Step,
    status: StepStatus,
    party: Purchaser | None,
    events: list[Event],
    at: datetime,
    mask: Masker,
) -> StepRecord:
    zone = deal.step_zone(step, party)
    withdrawn = any(e.kind == WITHDRAW for e in events)
    reversed_steps = _reversals(events)
    reversal = None if status.finished else reversed_steps.get(step.id)
    lines = tuple(_event_line(e, zone, mask) for e in events if e.step == step.id)
    verdict = _verdict(status, at, withdrawn, reversal)
    notes: list[str] = []
    exception: str | None = None
    if status.status == WAIVED_STATUS:
        exception = f"waived: {mask(status.reason)}"
    elif status.status == DONE_LATE:
        exception = verdict.lower()
    elif reversal is not None:
        exception = f"reversed {when(reversal.occurred_at, zone)} ({mask(reversal.note)}); " + (
            verdict.removeprefix("Reversed; ")
        )
    elif status.status == OVERDUE and not withdrawn:
        exception = verdict.lower()
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
    still_open = None
    if not status.finished and not withdrawn and exception is None:
        still_open = f"due {when(status.deadline, zone)} (in {duration(status.deadline - at)})"
        if status.blocked_by:
            still_open += "; " + ", ".join(status.blocked_by)
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
}


def _particulars(event: Event, mask: Masker, zone: ZoneInfo) -> list[str]:
    details = []
    if event.evidence:
        label = (event.evidence_kind or "evidence").replace("_", " ")
        details.append(f"{label[:1].upper()}{label[1:]} {mask(event.evidence)}")
    if event.amount is not None:
        details.append(format_money(event.amount))
    if event.note:
        details.append(mask(event.note))
    if event.recorded_at != event.occurred_at:
        details.append(f"recorded {when(event.recorded_at, zone)}")
    return details


def _event_line(event: Event, zone: ZoneInfo, mask: Masker) -> EventLine:
    what = _WHAT.get(event.kind, event.kind.replace("_", " "))
    return EventLine(
        when(event.occurred_at, zone),
        f"{what} by {event.actor}",
        tuple(_particulars(event, mask, zone)),
    )


def _record_line(deal: Deal, entry: RecordEntry, mask: Masker) -> RecordLine:
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
    details = _particulars(event._replace(recorded_at=event.occurred_at), mask, zone)
    return RecordLine(
        when(event.occurred_at, zone),
        entry.party.name,
        what,
        event.actor,
        "; ".join(details),
        when(event.recorded_at, zone),
    )


# --- the binder export --------------------------------------------------------------------------

EXPORT_FIELDS = (
    "id",
    "record",
    "party",
    "party_name",
    "seq",
    "kind",
    "step",
    "occurred_at",
    "recorded_at",
    "actor",
    "host",
    "evidence_kind",
    "evidence",
    "amount",
    "note",
    "prev_hash",
    "hash",
)


def _exact(amount: Decimal) -> str:
    """Cents always shown, nothing rounded: `450000.00`."""
    return money_text(amount) if amount == amount.quantize(Decimal("0.01")) else str(amount)


def export_rows(record: DealRecord) -> list[dict[str, str | int | None]]:
    """Every event (then every deal-file load) with all its fields: money as exact strings,
    times as ISO 8601 with the deal's offset, evidence and notes with account numbers masked."""
    deal = record.deal
    zone = deal.terms.zone
    mask = Masker(account_numbers(deal, {e.party.id: e.party for e in record.entries}.values()))
    rows: list[dict[str, str | int | None]] = []
    for entry in record.entries:
        event = entry.event
        rows.append(
            {
                "id": event.id,
                "record": "event",
                "party": entry.party.slug.lstrip("@"),  # `company`, as closing verify prints it
                "party_name": entry.party.name,
                "seq": event.seq,
                "kind": event.kind,
                "step": event.step or None,
                "occurred_at": event.occurred_at.astimezone(zone).isoformat(),
                "recorded_at": event.recorded_at.astimezone(zone).isoformat(),
                "actor": event.actor,
                "host": event.host,
                "evidence_kind": event.evidence_kind,
                "evidence": mask(event.evidence) if event.evidence else event.evidence,
                "amount": None if event.amount is None else _exact(event.amount),
                "note": mask(event.note) if event.note else event.note,
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
            }
        )
    for number, revision in enumerate(record.revisions, start=1):
        loaded = revision.loaded_at.astimezone(zone).isoformat()
        rows.append(
            dict.fromkeys(EXPORT_FIELDS)
            | {
                "id": number,
                "record": "deal_revision",
                "party": "deal",
                "party_name": deal.terms.title,
                "kind": "deal_file_loaded",
                "occurred_at": loaded,
                "recorded_at": loaded,
                "evidence_kind": "sha256",
                "evidence": revision.source_sha256,
                "note": "; ".join(revision.changes),
            }
        )
    return rows
