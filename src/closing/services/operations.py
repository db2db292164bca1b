"""What the commands do: load a deal, mark and undo steps, read the board and the history.

Each function opens one transaction, reads through `closing.store.queries`, lets a pure module
decide
(`marking`, `board`) and appends what it decided. Nothing here prints, reads the real clock or
knows about the command line: the caller passes the `Store` and the moment `now`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from closing.domain import reloads
from closing.domain.board import Board
from closing.domain.calendar import calendar_snapshot
from closing.domain.chain import Break, check_chain, record_digest
from closing.domain.clock import LocalTime
from closing.domain.deal import Deal
from closing.domain.dealfile.load import DealFile, load_deal_file
from closing.domain.dealfile.schema import DealTerms, PurchaserSpec
from closing.domain.errors import DealFileError, Problem, RefusedError
from closing.domain.events import COMPANY_SLUG, REVISION, Purchaser, deal_event, replay
from closing.domain.history import DealSummary, HistoryEntry
from closing.domain.machine import Refusal, machine_for
from closing.domain.marking import Correction, MarkRequest
from closing.services import reading, recording
from closing.services.recording import Locked, Recorded
from closing.store import queries
from closing.store.database import Store

if TYPE_CHECKING:
    from closing.domain.record import DealRecord

# --- loading deal files ------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    slug: str
    created: bool
    changes: list[str]
    purchasers: int
    wire_instructions: list[str] = field(default_factory=list)  # a new, unverified version


def _snapshot(deal_file: DealFile) -> str:
    terms = deal_file.terms
    return calendar_snapshot(terms.calendar_names(deal_file.purchasers), terms.closing_date)


def _details(spec: PurchaserSpec) -> str:
    details: dict[str, Any] = {"notices": spec.notices.model_dump(), "dwac": spec.dwac.model_dump()}
    if spec.time_zone:
        details["time_zone"] = spec.time_zone
    if spec.holidays:
        details["holidays"] = spec.holidays
    if spec.aliases:
        details["aliases"] = spec.aliases
    return json.dumps(details, sort_keys=True)


def _company_row(terms: DealTerms) -> dict[str, Any]:
    """The row that holds the deal's own steps (the company's deliveries) and their events."""
    return {
        "slug": COMPANY_SLUG,
        "name": terms.company.name,
        "position": -1,
        "shares": 0,
        "purchase_price": Decimal(0),
        "warrant_shares": 0,
        "details_json": "{}",
        "active": True,
        "role": "company",
    }


def _purchaser_values(spec: PurchaserSpec, position: int) -> dict[str, Any]:
    """A purchaser row's columns that come from the deal file."""
    return {
        "name": spec.name,
        "position": position,
        "shares": spec.shares,
        "purchase_price": spec.purchase_price,
        "warrant_shares": spec.warrant_shares,
        "details_json": _details(spec),
        "active": True,
        "role": "purchaser",
    }


def _new_purchasers(specs: list[tuple[int, PurchaserSpec]]) -> list[dict[str, Any]]:
    return [{"slug": spec.key, **_purchaser_values(spec, position)} for position, spec in specs]


def load_deal(
    store: Store,
    path: str,
    now: datetime,
    accept_changes: bool = False,
    actor: str = "unknown",
    host: str = "unknown",
) -> LoadResult:
    """`closing init FILE`: create the deal, or update its terms and say what changed.

    Reloading an unchanged file writes nothing. A change that would lose sight of recorded facts
    (a different deal over the slug, a purchaser with events removed or renamed, a price changed
    after money was recorded) is refused with the list, unless `accept_changes`; one that would
    strand recorded events (a removed step) is refused with the file's path. Every change is
    recorded in words as a `revision` event of the deal (in `history` and the event chain). New
    or changed wire instructions are recorded as a version entered by `actor`, unverified
    (`closing.services.wires`).
    """
    from closing.services.wires import record_instructions

    deal_file = load_deal_file(path)
    terms = deal_file.terms
    digest = hashlib.sha256(deal_file.text.encode()).hexdigest()
    with store.session() as session:
        stored = queries.stored_deal(session, terms.slug)
        if stored is None:
            deal_id = queries.insert_deal(
                session,
                slug=terms.slug,
                title=terms.title,
                terms_json=terms.model_dump_json(),
                closures_json=_snapshot(deal_file),
                source_path=str(deal_file.path),
                source_sha256=digest,
                created_at=now,
                updated_at=now,
            )
            queries.insert_purchasers(
                session,
                deal_id,
                [_company_row(terms), *_new_purchasers(list(enumerate(deal_file.purchasers)))],
            )
            loaded = [f"loaded {len(deal_file.purchasers)} purchasers"]
            queries.insert_revision(session, deal_id, now, digest, json.dumps(loaded))
            wired = record_instructions(session, deal_id, deal_file, actor, host, now)
            return LoadResult(terms.slug, True, [], len(deal_file.purchasers), wired)
        old_terms = DealTerms.model_validate_json(stored.terms_json)
        checked = _review(session, stored.id, old_terms, deal_file)
        if checked.risky and not accept_changes:
            listed = "".join(f"\n  - {item}" for item in checked.risky)
            raise RefusedError(
                f"closing init {deal_file.path} would lose sight of recorded facts:{listed}\n"
                "nothing was changed; to make these changes deliberately (they are recorded in "
                "the deal's history): closing init FILE --accept-changes"
            )
        changes = checked.changes
        changes += _sync_purchasers(session, stored.id, deal_file, terms)
        company = queries.company_of(session, stored.id)
        if company is None:  # a deal loaded by an older closing
            queries.insert_purchasers(session, stored.id, [_company_row(terms)])
            company = queries.company_of(session, stored.id)
            assert company is not None
        if stored.source_path != str(deal_file.path):
            queries.update_deal(session, stored.id, source_path=str(deal_file.path))
        wired = record_instructions(session, stored.id, deal_file, actor, host, now)
        if changes or wired:
            queries.update_deal(
                session,
                stored.id,
                title=terms.title,
                terms_json=terms.model_dump_json(),
                closures_json=_snapshot(deal_file),
                source_sha256=digest,
                updated_at=now,
            )
            queries.insert_revision(session, stored.id, now, digest, json.dumps([*changes, *wired]))
            if changes:
                _record_revision(
                    session, stored.id, company, changes, checked.risky, now, actor, host
                )
        return LoadResult(terms.slug, False, changes, len(deal_file.purchasers), wired)


def _review(session: Session, deal_id: int, old: DealTerms, deal_file: DealFile) -> reloads.Review:
    machine = machine_for(old)
    events = queries.events_by_purchaser(session, deal_id)
    stored = []
    for row in queries.purchasers_of(session, deal_id, active_only=True):
        history = events.get(row.id, [])
        try:
            paid = replay(machine, history).amount_received if history else Decimal(0)
        except Refusal:
            paid = Decimal(0)
        stored.append(reloads.Stored(row.slug, row.name, row.purchase_price, len(history), paid))
    return reloads.review(old, deal_file.terms, stored, deal_file.purchasers)


def _record_revision(
    session: Session,
    deal_id: int,
    company: Purchaser,
    changes: list[str],
    accepted: list[str],
    now: datetime,
    actor: str,
    host: str,
) -> None:
    """The reload as an event of the deal's own chain: `history` shows it in words."""
    deal = queries.deal_by_id(session, deal_id)
    seq, head = queries.lock_chain_head(session, company.id)
    note = "; ".join(changes)
    if accepted:
        note = "accepted: " + "; ".join(accepted) + " | " + note
    event = deal_event(company, seq + 1, REVISION, now, actor, host, note)
    queries.append_event(session, deal, company, event, head)


def _sync_purchasers(
    session: Session, deal_id: int, deal_file: DealFile, terms: DealTerms
) -> list[str]:
    rows = {p.slug: p for p in queries.purchasers_of(session, deal_id, active_only=False)}
    events = queries.events_by_purchaser(session, deal_id)
    stranded = []
    company = queries.company_of(session, deal_id)
    for row in [*rows.values(), *([company] if company else [])]:
        try:
            replay(machine_for(terms, company=row.is_company), events.get(row.id, []))
        except Refusal as refusal:
            stranded.append(f"{row.name}: {refusal}")
    if stranded:
        raise DealFileError(
            [
                Problem(
                    str(deal_file.path),
                    1,
                    f"the new steps do not fit events already recorded ({problem}); "
                    "record an undo first or keep the steps",
                )
                for problem in stranded[:10]
            ]
        )
    changes: list[str] = []
    new_specs: list[tuple[int, PurchaserSpec]] = []
    seen = set()
    for position, spec in enumerate(deal_file.purchasers):
        seen.add(spec.key)
        existing = rows.get(spec.key)
        if existing is None:
            new_specs.append((position, spec))
            changes.append(f"purchaser added: {spec.name}")
            continue
        updates = {}
        for name, value in _purchaser_values(spec, position).items():
            old = getattr(existing, name)
            if old != value:
                if name == "details_json":
                    changes.append(f"{spec.name}: notice or DWAC details changed")
                elif name != "position":
                    changes.append(f"{spec.name}: {name} {old} -> {value}")
                updates[name] = value
        if updates:
            queries.update_purchaser(session, existing.id, **updates)
    for slug, row in rows.items():
        if slug not in seen and row.active:
            queries.update_purchaser(session, row.id, active=False)
            kept = len(events.get(row.id, []))
            changes.append(f"purchaser removed: {row.name} (its {kept} events are kept)")
    queries.insert_purchasers(session, deal_id, _new_purchasers(new_specs))
    return changes


# --- finding deals, purchasers and steps -------------------------------------------------------


def open_deal(session: Session, wanted: str | None) -> Deal:
    """The deal named (slug or unambiguous prefix), or the only deal there is."""
    return reading.open_deal(queries.reader(session), wanted)


def find_purchaser(session: Session, deal: Deal, text: str) -> Purchaser:
    """By slug, or an unambiguous case-insensitive prefix (3 characters at least) of the name or
    slug; the word `company` names the deal's own steps."""
    return recording.find_purchaser(queries.reader(session), deal, text)


def _locked(session: Session, deal_name: str | None, party_text: str) -> Locked:
    return recording.locked(queries.reader(session), deal_name, party_text)


def mark_or_correct(
    store: Store, deal_name: str | None, request: MarkRequest | Correction, now: datetime
) -> Recorded:
    """Record a mark (a step happened, or part of a payment arrived) or a correction (an undo,
    reversal, waiver or withdrawal: the events it corrects stay in the log); refuse, writing
    nothing, if it cannot be."""
    with store.session() as session:
        return recording.mark_or_correct(queries.reader(session), deal_name, request, now)


def mark(store: Store, deal_name: str | None, request: MarkRequest, now: datetime) -> Recorded:
    return mark_or_correct(store, deal_name, request, now)


# --- reading -----------------------------------------------------------------------------------


def board(
    store: Store, deal_name: str | None, now: datetime, as_of: LocalTime | None = None
) -> Board:
    """The board now, or as it stood at `as_of` (in the deal's zone when it has no offset): only
    events recorded by then count."""
    with store.session(read_only=True) as session:
        return reading.read_board(queries.reader(session), deal_name, now, as_of)


def record_check(store: Store, deal_name: str | None) -> str | None:
    """`record_warning` in a transaction of its own (for `history`)."""
    with store.session(read_only=True) as session:
        found = queries.reader(session)
        return reading.record_warning(found, reading.open_deal(found, deal_name))


def history(
    store: Store, deal_name: str | None, purchaser_text: str | None
) -> tuple[Deal, list[HistoryEntry]]:
    with store.session(read_only=True) as session:
        deal = open_deal(session, deal_name)
        if purchaser_text:
            one = find_purchaser(session, deal, purchaser_text)
            purchasers = {one.id: one}
            events = queries.purchaser_events(session, one.id)
        else:
            everyone, company = queries.parties_of(session, deal.id, active_only=False)
            purchasers = {p.id: p for p in [*everyone, *([company] if company else [])]}
            events = queries.deal_events(session, deal.id)
    entries = [HistoryEntry(purchasers[e.purchaser_id], e) for e in events]
    entries.sort(key=lambda entry: (entry.event.recorded_at, entry.event.id))
    return deal, entries


def deals(store: Store) -> list[DealSummary]:
    with store.session(read_only=True) as session:
        loaded = queries.deals_where(session)
        purchasers, events = queries.counts_by_deal(session)
    return [
        DealSummary(
            deal.slug,
            deal.terms.title,
            deal.terms.closing_date,
            deal.deadline(deal.terms.purchaser_steps[0], {}).astimezone(deal.terms.zone),
            purchasers.get(deal.id, 0),
            events.get(deal.id, 0),
        )
        for deal in loaded
    ]


__all__ = [
    "Correction",
    "Deal",
    "LoadResult",
    "MarkRequest",
    "Recorded",
    "board",
    "deals",
    "find_purchaser",
    "history",
    "load_deal",
    "mark",
    "mark_or_correct",
    "open_deal",
    "record",
]


# --- verifying the record ----------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What `closing verify` found: every chain's head, or the first break."""

    deal: Deal
    events: int
    heads: dict[str, str]  # party slug -> head hash (the company row's slug is @company)
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def digest(self) -> str:
        """One hash over every chain's head (sorted by party): the whole record in 64 letters."""
        return record_digest(self.heads)


def verify(store: Store, deal_name: str | None, now: datetime) -> Verification:
    """Recompute every chain of the deal; record the outcome (the board warns of a failed one)."""
    with store.session() as session:
        deal = open_deal(session, deal_name)
        found = queries.chains(session, deal.id)
        broken: Break | None = None
        heads: dict[str, str] = {}
        events = 0
        for chain in found:
            events += len(chain.events)
            broken = (
                broken or check_chain(deal.slug, chain.party, chain.events) or _head_break(chain)
            )
            if chain.events and chain.events[-1].hash:
                heads[chain.party] = chain.events[-1].hash or ""
        detail = (
            ""
            if broken is None
            else f"{broken.party} #{broken.seq}: {broken.what}: {broken.detail}"
        )
        queries.record_verification(session, deal.id, now, broken is None, events, detail)
    return Verification(deal, events, heads, broken)


def _head_break(chain: queries.Chain) -> Break | None:
    """The chain must end where its party's head says: a deleted last event, or a head moved."""
    last = chain.events[-1] if chain.events else None
    length = last.event.seq if last else 0
    if chain.head_seq > length:
        return Break(
            chain.party,
            length + 1,
            None,
            "missing",
            f"the chain ends at #{length} but its head says #{chain.head_seq} (events deleted)",
        )
    if last is not None and (chain.head_seq != length or chain.head_hash != last.hash):
        return Break(chain.party, length, last.event.id, "changed", "its head was rewritten")
    return None


# --- the record for the closing memo and the binder --------------------------------------------


def record(store: Store, deal_name: str | None) -> DealRecord:
    """Every event of the deal with the hashes stored with it, in the order appended, and each
    load of its deal file: what `closing report` and `closing export` read."""
    from closing.domain.record import DealRecord, DealRevision, RecordEntry

    with store.session(read_only=True) as session:
        deal = open_deal(session, deal_name)
        everyone, company = queries.parties_of(session, deal.id, active_only=False)
        parties = {p.slug: p for p in [*everyone, *([company] if company else [])]}
        entries = [
            RecordEntry(parties[chain.party], stored.event, stored.prev_hash, stored.hash)
            for chain in queries.chains(session, deal.id)
            for stored in chain.events
        ]
        revisions = [
            DealRevision(loaded_at, sha256, tuple(json.loads(changes)))
            for loaded_at, sha256, changes in queries.deal_revisions(session, deal.id)
        ]
    entries.sort(key=lambda entry: entry.event.id)
    return DealRecord(deal, entries, revisions)
