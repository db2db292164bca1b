"""The closing memorandum's content, built from the record: the deal's terms, the board as it
stood at a moment, every event with the hash stored with it, and what `closing verify` found.

Pure: it returns values (text ready to be set in any format) and never prints, reads the clock or
touches the database; `closing.views.memo` sets them as PDF, HTML or Markdown. What the memo says
of each party and step is `closing.domain.memo_steps`. Account numbers are masked here (by
`closing.domain.redaction`), once, so no format can print one whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from closing.domain.board import Board
from closing.domain.chain import record_digest
from closing.domain.documents import DocumentLine, document_lines
from closing.domain.events import (
    ATTACH,
    INSTRUCTIONS,
    INSTRUCTIONS_VERIFIED,
    RECEIPT,
    RELEASE,
    REVERSE,
    SEAL,
    UNDO,
    WAIVE,
    WITHDRAW,
    Event,
)
from closing.domain.facts import FACTS
from closing.domain.facts import head as fact_head
from closing.domain.funds import Statement
from closing.domain.lapse import lapse_line
from closing.domain.machine import MARK
from closing.domain.memo_sections import (
    FundsLine,
    Heading,
    Line,
    calendar_words,
    dwac_cell,
    funds_lines,
    memo_heading,
    narrative,
    party_lines,
)
from closing.domain.memo_steps import (
    Field,
    PartyRecord,
    RecordLine,
    StepRecord,
    number_text,
    party_record,
    record_line,
    step_record,
    when,
)
from closing.domain.money import format_money
from closing.domain.record import DealRecord, RecordEntry
from closing.domain.redaction import Masker, account_numbers
from closing.domain.text import shortened

CORRECTIONS = (UNDO, REVERSE, WAIVE, WITHDRAW)
WIRE_INSTRUCTIONS = (INSTRUCTIONS, INSTRUCTIONS_VERIFIED)
KNOWN_KINDS = (MARK, RECEIPT, *CORRECTIONS, ATTACH, RELEASE)  # files: the documents section


@dataclass(frozen=True)
class Verified:
    """What `closing verify` found just before the memo was made (it refuses a broken log)."""

    at: datetime
    events: int
    heads: Mapping[str, str]


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
    dwac: str = ""  # the shares credited by DWAC, when, and the transfer agent's confirmation


@dataclass(frozen=True)
class Head:
    party: str
    slug: str  # the party's slug (`@company` for the company), as the digest covers it
    chain: str  # as `closing verify` prints it: the slug, `company` for the company
    events: int
    hash: str


@dataclass(frozen=True)
class SealLine:
    """A seal the memo covers (`closing seal`): when, by whom, the digest and the key."""

    when: str
    by: str
    digest: str
    signed: str  # "signed with ED25519 key SHA256:...; 3 heads, 11 events"


@dataclass(frozen=True)
class Memo:
    slug: str
    title: str
    company: str
    as_of: str
    as_of_given: bool  # --as-of: the record as it stood then, not as it stands now
    generated: str
    # --as-of a moment before a reload: each reload since ("2002-06-07 17:30 PDT: ..."); the
    # terms and deadlines shown are those loaded now
    reloaded_since: tuple[str, ...]
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
    seals: tuple[SealLine, ...] = ()  # the seals recorded by the memo's moment
    held: tuple[Item, ...] = ()  # held until the payment is in: not yet to do
    documents: tuple[DocumentLine, ...] = ()  # the closing set, when the deal file lists one
    heading: Heading | None = None
    narrative: tuple[str, ...] = ()
    parties: tuple[Line, ...] = ()  # the parties, counsel, transfer agent and banks
    funds: tuple[FundsLine, ...] = ()  # the funds flow, when the deal file has one
    post_closing: tuple[Item, ...] = ()  # what is due after the closing day, and whose


def long_date(day: date) -> str:
    """`June 7, 2002`."""
    return f"{day:%B} {day.day}, {day.year}"


def years_after(day: date, years: int) -> date:
    """The same day `years` later (February 29 becomes February 28)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


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
    heading: Heading | None = None,
    funds: Statement | None = None,
) -> Memo:
    """The memorandum of `record` as it stood at `board.as_of` (the board is built at that
    moment; only events recorded by then are shown and counted)."""
    deal = record.deal
    terms = deal.terms
    zone = terms.zone
    at = board.as_of
    entries = [e for e in record.entries if e.event.logged_at <= at]
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
        Field("Business days", calendar_words(terms.business_days.calendars)),
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
            f"{_plain(warrant.exercise_price)} per share, for {warrant.term_years} years "
            f"(the deal file's warrant terms); expiring {long_date(expiry)} (computed: the "
            "closing date plus the term)",
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
    parties = tuple(
        party_record(deal, row, by_party.get(row.purchaser.id, []), at, mask, as_of_given)
        for row in rows
    )
    schedule = tuple(
        ScheduleRow(
            row.purchaser.name,
            number_text(row.purchaser.shares),
            format_money(row.purchaser.purchase_price),
            number_text(row.purchaser.warrant_shares),
            format_money(row.amount_received),
            "Withdrawn" if row.withdrawn else ("Closed" if row.closed else "Open"),
            dwac_cell(party.steps, f"{terms.closing_date:%a} {terms.closing_date}"),
        )
        for row, party in zip(rows, parties, strict=True)
    )
    taking_part = [row for row in rows if row.withdrawn is None]
    total = ScheduleRow(
        f"Total ({len(rows)} purchaser{'s' if len(rows) != 1 else ''})",
        number_text(sum(row.purchaser.shares for row in rows)),
        format_money(sum((row.purchaser.purchase_price for row in rows), Decimal(0))),
        number_text(sum(row.purchaser.warrant_shares for row in rows)),
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
        step_record(
            deal, step, board.company.steps[step.id], None, company_events, at, mask, as_of_given
        )
        for step in terms.company_steps
        if step.id in board.company.steps
    )

    corrections: list[RecordLine] = []
    others: list[RecordLine] = []
    instructions: list[RecordLine] = []
    instructions_status: str | None = None
    seals: list[SealLine] = []
    for entry in entries:
        event = entry.event
        if event.kind in KNOWN_KINDS and event.kind not in CORRECTIONS:
            continue
        if event.kind == SEAL:
            sealed_at = when(event.logged_at, zone)
            seals.append(SealLine(sealed_at, event.actor, event.evidence or "", event.note or ""))
            continue
        line = record_line(deal, entry, mask)
        if event.kind in CORRECTIONS:
            corrections.append(line)
        elif event.kind in WIRE_INSTRUCTIONS:
            instructions.append(line)
            instructions_status = (
                f"Verified by {event.who} by callback, {when(event.occurred_at, zone)}"
                if event.kind == INSTRUCTIONS_VERIFIED
                else f"NOT VERIFIED: entered by {event.who}, {when(event.occurred_at, zone)}; "
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

    heads = _heads(record, entries, at)
    taking = board.totals
    summary = [
        f"{taking.closed} of {taking.purchasers} purchaser{'s' if taking.purchasers != 1 else ''}"
        f" closed; {format_money(taking.amount_received)} of "
        f"{format_money(taking.purchase_price)} received.",
    ]
    rehearsed = sum(1 for e in entries if e.event.rehearsal_at is not None)
    if rehearsed:  # on the first page: what it records is a rehearsal's clock, not the world's
        summary.append(
            f"This memo records a rehearsal: {rehearsed:,} of its {len(entries):,} events were "
            "recorded under a rehearsal clock (CLOSING_NOW), whose times it shows.",
        )
    if board.company.steps:
        done = sum(1 for s in board.company.steps.values() if s.finished)
        summary.append(f"Company deliveries: {done} of {len(board.company.steps)} done.")
    if taking.withdrawn:
        summary.append(
            f"{taking.withdrawn} purchaser{'s' if taking.withdrawn != 1 else ''} withdrew."
        )
    lapsed = lapse_line(terms, at) if board.lapsed else None
    if lapsed:
        lapsed_parts = [row.purchaser.name for row in rows if row.lapsed]
        summary.append(
            f"{lapsed}." + (f" Lapsed: {', '.join(lapsed_parts)}." if lapsed_parts else "")
        )
    summary.append(
        "The closing is complete."
        if board.closed
        else "The closing is not complete: every open item is listed under Still open."
    )
    exceptions, still_open, held = _exceptions(company.name, parties, company_steps)
    everyone = [(company.name, company_steps), *((p.name, p.steps) for p in parties)]
    accepted = [(name, s.accepted) for name, steps in everyone for s in steps if s.accepted]
    post_closing = tuple(
        Item(name, s.title, s.post_closing)
        for name, steps in everyone
        for s in steps
        if s.post_closing
    )
    exceptions += tuple(
        Item(row.purchaser.name, "Remediate", ", ".join(row.remediation))
        for row in rows
        if row.remediation
    )
    chains = len([party for party in verified.heads if party != FACTS])
    integrity = (
        f"The event log was verified whole (closing verify) at {when(verified.at, zone)}: "
        f"{verified.events:,} event{'s' if verified.events != 1 else ''} in "
        f"{chains} chain{'s' if chains != 1 else ''}, and every stored fact stands as recorded."
    )
    return Memo(
        slug=terms.slug,
        title=terms.title,
        company=company.name,
        as_of=when(at, zone),
        as_of_given=as_of_given,
        generated=when(generated_at, zone),
        reloaded_since=tuple(
            f"{when(moment, zone)}: {mask(shortened(changes, 300))}"
            for moment, changes in board.reloaded_since
        ),
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
        seals=tuple(seals),
        held=held,
        documents=document_lines(board.documents, zone),
        heading=heading or memo_heading(terms.memo),
        narrative=narrative(terms, board.closed, accepted),
        parties=party_lines(
            terms,
            [row.purchaser.name for row in rows],
            board.wire_instructions.current.summary()
            if board.wire_instructions
            and board.wire_instructions.present
            and board.wire_instructions.current
            else None,
        ),
        funds=funds_lines(funds, zone) if funds is not None else (),
        post_closing=post_closing,
    )


def _heads(record: DealRecord, entries: Sequence[RecordEntry], at: datetime) -> tuple[Head, ...]:
    """Each chain's last event by the memo's moment, and its stored hash: with no --as-of, the
    heads `closing verify` prints (the company's first, then Schedule 1's order, then the record
    of facts')."""
    last: dict[int, RecordEntry] = {}
    for entry in entries:
        found = last.get(entry.party.id)
        if found is None or entry.event.seq > found.event.seq:
            last[entry.party.id] = entry
    ordered = sorted(last.values(), key=lambda e: e.party.position)
    facts = fact_head(record.facts, at)
    return tuple(
        Head(e.party.name, e.party.slug, e.party.slug.lstrip("@"), e.event.seq, e.hash or "")
        for e in ordered
        if e.hash
    ) + (() if facts is None else (Head("Record of facts", FACTS, "facts", *facts),))


def _exceptions(
    company: str, parties: Sequence[PartyRecord], company_steps: Sequence[StepRecord]
) -> tuple[tuple[Item, ...], tuple[Item, ...], tuple[Item, ...]]:
    """What a reader must not miss (late, overdue, reversed, waived, withdrawn), every item still
    open (overdue and held ones too), and what is held until its payment is in."""
    exceptions: list[Item] = []
    still_open: list[Item] = []
    held: list[Item] = []
    for name, steps in [(company, company_steps), *((p.name, p.steps) for p in parties)]:
        for step in steps:
            if step.exception:
                exceptions.append(Item(name, step.title, step.exception))
            elif step.held:
                held.append(Item(name, step.title, step.held))
            if step.open_text:
                still_open.append(Item(name, step.title, step.open_text))
    for party in parties:
        if party.withdrawn:
            reason = party.standing.removeprefix("Withdrawn ")
            exceptions.append(Item(party.name, "Withdrawn", reason))
    return tuple(exceptions), tuple(still_open), tuple(held)
