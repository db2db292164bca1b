"""What the commands do: load a deal, mark and undo steps, read the board and the history.

Every function takes the `Store` and the moment `now` from its caller; nothing here prints, reads
the real clock or knows about the command line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as core_select
from sqlmodel import Session, select

from closing.board import Board, build_board, step_deadline
from closing.calendar import BusinessCalendar, closures_for
from closing.db.schema import (
    AlertRow,
    DealRevisionRow,
    DealRow,
    DeliveryRow,
    EventRow,
    PurchaserRow,
)
from closing.db.store import Store
from closing.deal import DealFile, DealTerms, PurchaserSpec, Step, load_deal_file
from closing.errors import DealFileError, NotFoundError, RefusedError
from closing.events import Event, Purchaser, Standing, replay
from closing.machine import Progress, ProgressMachine, Refusal, machine_for
from closing.money import CENT, format_money, parse_money
from closing.timefmt import local

# Core column handles: the read and write paths use SQLAlchemy Core, so a command never pays for
# configuring the ORM mappers (a measurable part of a whole `closing status` process).
D: Any = DealRow.__table__.c  # type: ignore[attr-defined]
P: Any = PurchaserRow.__table__.c  # type: ignore[attr-defined]
E: Any = EventRow.__table__.c  # type: ignore[attr-defined]
EVENTS: Any = EventRow.__table__  # type: ignore[attr-defined]
_PURCHASER_COLUMNS = [
    P[name]
    for name in (
        "id",
        "slug",
        "name",
        "position",
        "shares",
        "purchase_price",
        "warrant_shares",
        "details_json",
        "active",
    )
]


@dataclass(frozen=True)
class Deal:
    """A loaded deal: its row id, terms and the machinery built from them."""

    id: int
    slug: str
    terms: DealTerms
    calendar: BusinessCalendar
    created_at: datetime

    @property
    def machine(self) -> ProgressMachine:
        return machine_for(self.terms)

    @property
    def opens_at(self) -> datetime:
        """Marks before the start of the agreement date (in the deal's zone) are refused."""
        return datetime.combine(
            self.terms.agreement_date, time(0), tzinfo=self.terms.zone
        ).astimezone(UTC)


# --- loading deal files ------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    slug: str
    created: bool
    changes: list[str]
    purchasers: int


def _calendar_snapshot(terms: DealTerms) -> str:
    years = [terms.closing_date.year, terms.closing_date.year + 1]
    closed = closures_for(terms.business_days.calendars, years)
    return json.dumps(
        {
            "years": years,
            "closures": {day.isoformat(): name for day, name in sorted(closed.items())},
        }
    )


def _calendar(terms: DealTerms, snapshot: str) -> BusinessCalendar:
    data = json.loads(snapshot)
    return BusinessCalendar(
        terms.business_days.calendars,
        terms.business_days.extra_closures,
        known_closures={date.fromisoformat(k): v for k, v in data["closures"].items()},
        known_years=data["years"],
    )


def _details(spec: PurchaserSpec) -> str:
    return json.dumps(
        {"notices": spec.notices.model_dump(), "dwac": spec.dwac.model_dump()}, sort_keys=True
    )


def load_deal(store: Store, path: str, now: datetime) -> LoadResult:
    """`closing init FILE`: create the deal, or update its terms and say what changed.

    Reloading an unchanged file writes nothing. Purchasers dropped from the file keep their events
    and leave the board; a change that would strand recorded events (a removed step, a new
    requirement they do not meet) is refused with the file's path.
    """
    deal_file = load_deal_file(path)
    terms = deal_file.terms
    digest = hashlib.sha256(deal_file.text.encode()).hexdigest()
    terms_json = terms.model_dump_json()
    with store.session() as session:
        row = session.exec(select(DealRow).where(DealRow.slug == terms.slug)).first()
        if row is None:
            row = DealRow(
                slug=terms.slug,
                title=terms.title,
                terms_json=terms_json,
                closures_json=_calendar_snapshot(terms),
                source_path=str(deal_file.path),
                source_sha256=digest,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            _insert_purchasers(session, row.id, list(enumerate(deal_file.purchasers)))
            session.add(
                DealRevisionRow(
                    deal_id=row.id,
                    loaded_at=now,
                    source_sha256=digest,
                    changes=json.dumps([f"loaded {len(deal_file.purchasers)} purchasers"]),
                )
            )
            return LoadResult(terms.slug, True, [], len(deal_file.purchasers))
        assert row.id is not None
        old_terms = DealTerms.model_validate_json(row.terms_json)
        changes = _term_changes(old_terms, terms)
        changes += _sync_purchasers(session, row.id, deal_file, terms)
        if row.source_path != str(deal_file.path):
            row.source_path = str(deal_file.path)
        if changes:
            row.title = terms.title
            row.terms_json = terms_json
            row.closures_json = _calendar_snapshot(terms)
            row.source_sha256 = digest
            row.updated_at = now
            session.add(row)
            session.add(
                DealRevisionRow(
                    deal_id=row.id, loaded_at=now, source_sha256=digest, changes=json.dumps(changes)
                )
            )
        count = sum(1 for p in deal_file.purchasers)
        return LoadResult(terms.slug, False, changes, count)


def _insert_purchasers(
    session: Session, deal_id: int, specs: list[tuple[int, PurchaserSpec]]
) -> None:
    if not specs:
        return
    session.execute(
        PurchaserRow.__table__.insert(),  # type: ignore[attr-defined]
        [
            {"deal_id": deal_id, "slug": spec.key, **_purchaser_values(spec, position)}
            for position, spec in specs
        ],
    )


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
    }


def _term_changes(old: DealTerms, new: DealTerms) -> list[str]:
    before = old.model_dump(mode="json")
    after = new.model_dump(mode="json")
    changes = []
    for key in after:
        if before.get(key) != after[key]:
            changes.append(f"{key}: {_short(before.get(key))} -> {_short(after[key])}")
    return changes


def _short(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def _sync_purchasers(
    session: Session, deal_id: int, deal_file: DealFile, terms: DealTerms
) -> list[str]:
    rows = {
        r.slug: r for r in session.exec(select(PurchaserRow).where(PurchaserRow.deal_id == deal_id))
    }
    events = events_by_purchaser(session, deal_id)
    machine = machine_for(terms)
    path = deal_file.path
    stranded = []
    for row in rows.values():
        assert row.id is not None
        try:
            replay(machine, events.get(row.id, []))
        except Refusal as refusal:
            stranded.append(f"{row.name}: {refusal}")
    if stranded:
        raise DealFileError(
            [
                f"{path}:1: the new steps do not fit events already recorded ({problem}); "
                "record an undo first or keep the steps"
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
        row = existing
        for name, value in _purchaser_values(spec, position).items():
            old = getattr(row, name)
            if old != value:
                if name not in ("position", "details_json"):
                    changes.append(f"{spec.name}: {name} {old} -> {value}")
                elif name == "details_json":
                    changes.append(f"{spec.name}: notice or DWAC details changed")
                setattr(row, name, value)
        if session.is_modified(row):
            session.add(row)
    for slug, row in rows.items():
        if slug not in seen and row.active:
            row.active = False
            session.add(row)
            kept = len(events.get(row.id or 0, []))
            changes.append(f"purchaser removed: {row.name} (its {kept} events are kept)")
    _insert_purchasers(session, deal_id, new_specs)
    return changes


# --- finding deals and purchasers --------------------------------------------------------------


def deal_from_row(row: Any) -> Deal:
    """A Deal from a `deal` row (ORM object or Core row: both have the columns as attributes)."""
    terms = DealTerms.model_validate_json(row.terms_json)
    return Deal(row.id, row.slug, terms, _calendar(terms, row.closures_json), row.created_at)


def _deal_rows(session: Session, *where: Any, limit: int | None = None) -> list[Any]:
    query = core_select(D.id, D.slug, D.terms_json, D.closures_json, D.created_at).where(*where)
    return list(session.execute(query.order_by(D.slug).limit(limit)))


def open_deal(session: Session, wanted: str | None) -> Deal:
    """The deal named (slug or unambiguous prefix), or the only deal there is."""
    if wanted:
        rows = _deal_rows(session, D.slug == wanted)
        if not rows:
            rows = _deal_rows(session, func.lower(D.slug).like(_prefix(wanted), escape="\\"))
            if len(rows) > 1:
                raise NotFoundError(
                    f"deal {wanted!r} is ambiguous: {', '.join(r.slug for r in rows)}; "
                    "give more of its name"
                )
            if not rows:
                raise NotFoundError(f"no deal {wanted!r}; {_deal_hint(session)}")
        return deal_from_row(rows[0])
    rows = _deal_rows(session, limit=11)
    if len(rows) == 1:
        return deal_from_row(rows[0])
    if not rows:
        raise NotFoundError("no deal loaded yet; load one with: closing init FILE")
    raise NotFoundError(
        f"several deals are loaded ({', '.join(r.slug for r in rows[:10])}); name one with "
        "--deal SLUG or CLOSING_DEAL"
    )


def all_deals(session: Session) -> list[Deal]:
    """Every deal in the database, by slug."""
    return [deal_from_row(row) for row in _deal_rows(session)]


def _deal_hint(session: Session) -> str:
    slugs = [r.slug for r in _deal_rows(session, limit=10)]
    if not slugs:
        return "no deal loaded yet; load one with: closing init FILE"
    return f"loaded deals: {', '.join(slugs)}"


def _prefix(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _purchaser(row: Any) -> Purchaser:
    return Purchaser(
        row.id,
        row.slug,
        row.name,
        row.position,
        row.shares,
        row.purchase_price,
        row.warrant_shares,
        row.details_json,
        row.active,
    )


def find_purchaser(session: Session, deal: Deal, text: str) -> Purchaser:
    """By slug, or an unambiguous case-insensitive prefix of the name or slug."""
    wanted = text.strip()
    base = core_select(*_PURCHASER_COLUMNS).where(P.deal_id == deal.id)
    exact = session.execute(base.where(P.slug == wanted)).first()
    if exact is not None:
        return _purchaser(exact)
    pattern = _prefix(wanted)
    matches = list(
        session.execute(
            base.where(
                func.lower(P.slug).like(pattern, escape="\\")
                | func.lower(P.name).like(pattern, escape="\\")
            )
            .order_by(P.position)
            .limit(11)
        )
    )
    active = [m for m in matches if m.active] or matches
    if len(active) == 1 and wanted:
        return _purchaser(active[0])
    if not active or not wanted:
        raise NotFoundError(
            f"no purchaser {text!r} in {deal.slug}; the purchasers are: "
            f"{_candidates(session, deal)}"
        )
    names = ", ".join(f"{m.slug} ({m.name})" for m in active[:10])
    more = " and more" if len(active) > 10 else ""
    raise NotFoundError(
        f"purchaser {text!r} is ambiguous in {deal.slug}: {names}{more}; give more of the name"
    )


def find_step(deal: Deal, text: str) -> Step:
    """By id, or by id or board label in any case ("faxed" finds warrant_faxed's "Faxed")."""
    steps = deal.terms.steps
    wanted = text.strip().casefold()
    for step in steps:
        if step.id == text or step.id.casefold() == wanted:
            return step
    for step in steps:
        if step.label and step.label.casefold() == wanted:
            return step
    names = ", ".join(f"{s.id} ({s.label})" if s.label else s.id for s in steps)
    raise NotFoundError(f"deal {deal.slug} has no step {text!r}; its steps are {names}")


def _candidates(session: Session, deal: Deal) -> str:
    query = core_select(P.slug).where(P.deal_id == deal.id, P.active).order_by(P.position).limit(11)
    slugs = [row.slug for row in session.execute(query)]
    text = ", ".join(slugs[:10])
    return text + (", ..." if len(slugs) > 10 else "")


# --- events ------------------------------------------------------------------------------------

_EVENT_NAMES = (
    "id",
    "purchaser_id",
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
)
_EVENT_COLUMNS = [E[name] for name in _EVENT_NAMES]


def _event_query(deal_id: int, as_of: datetime | None = None) -> Any:
    query = core_select(*_EVENT_COLUMNS).where(E.deal_id == deal_id)
    if as_of is not None:
        query = query.where(E.recorded_at <= as_of)
    return query.order_by(E.purchaser_id, E.seq)


def events_by_purchaser(
    session: Session, deal_id: int, as_of: datetime | None = None
) -> dict[int, list[Event]]:
    result: dict[int, list[Event]] = {}
    for values in session.execute(_event_query(deal_id, as_of)).all():
        event = Event(*values)
        result.setdefault(event.purchaser_id, []).append(event)
    return result


def _purchaser_events(session: Session, purchaser_id: int) -> list[Event]:
    query = core_select(*_EVENT_COLUMNS).where(E.purchaser_id == purchaser_id)
    return [Event(*values) for values in session.execute(query.order_by(E.seq)).all()]


def _lock_purchaser(session: Session, purchaser_id: int) -> None:
    """Serialise writers on one purchaser (a row lock on PostgreSQL; SQLite already holds the
    database lock from BEGIN IMMEDIATE and ignores FOR UPDATE)."""
    session.execute(core_select(P.id).where(P.id == purchaser_id).with_for_update())


@dataclass(frozen=True)
class MarkRequest:
    purchaser: str
    step: str
    at: datetime | None = None
    actor: str = "unknown"
    host: str = "unknown"
    evidence_kind: str | None = None
    evidence: str | None = None
    amount: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Recorded:
    deal: Deal
    purchaser: Purchaser
    event: Event
    state: str


def _locked(
    session: Session, deal_name: str | None, purchaser_text: str, step_text: str
) -> tuple[Deal, Step, Purchaser, Standing]:
    """The deal, step and purchaser named, the purchaser locked for this transaction, and where
    it stands: what a mark or an undo decides on."""
    deal = open_deal(session, deal_name)
    step = find_step(deal, step_text)
    purchaser = find_purchaser(session, deal, purchaser_text)
    _lock_purchaser(session, purchaser.id)
    return deal, step, purchaser, replay(deal.machine, _purchaser_events(session, purchaser.id))


def mark(store: Store, deal_name: str | None, request: MarkRequest, now: datetime) -> Recorded:
    """Record that a step happened; refuse (writing nothing) if it cannot have."""
    with store.session() as session:
        deal, step, purchaser, standing = _locked(
            session, deal_name, request.purchaser, request.step
        )
        terms = deal.terms
        request = replace(request, step=step.id)
        at = request.at or now
        zone = terms.zone
        what = f"{request.step} for {purchaser.name}"
        if request.step in standing.done:
            prior = standing.done[request.step]
            raise RefusedError(
                f"cannot mark {what}: already marked {request.step} at "
                f"{local(prior.occurred_at, zone)} by {prior.actor}; to correct it: "
                f"closing undo {purchaser.slug} {request.step} --reason TEXT"
            )
        if at > now:
            raise RefusedError(
                f"cannot mark {what}: {local(at, zone)} is in the future (now is "
                f"{local(now, zone)}); give --at a past time"
            )
        if at < deal.opens_at:
            raise RefusedError(
                f"cannot mark {what}: {local(at, zone)} is before the deal existed (agreement "
                f"date {terms.agreement_date}); check --at"
            )
        progress_check = Progress(standing.state)
        try:
            deal.machine.mark(progress_check, request.step)
        except Refusal as refusal:
            raise RefusedError(f"cannot mark {what}: {refusal}") from None
        for needed in step.requires:
            before = standing.done[needed]
            if at < before.occurred_at:
                raise RefusedError(
                    f"cannot mark {what} at {local(at, zone)}: {needed} was only done at "
                    f"{local(before.occurred_at, zone)}; check --at"
                )
        amount = _amount(request, step.payment, purchaser, what)
        event = _append(
            session,
            deal,
            Event(
                0,
                purchaser.id,
                standing.last_seq + 1,
                "mark",
                request.step,
                at,
                now,
                request.actor,
                request.host,
                request.evidence_kind if request.evidence else None,
                request.evidence,
                amount,
                request.note,
            ),
        )
        return Recorded(deal, purchaser, event, progress_check.state)


def _amount(request: MarkRequest, payment: bool, purchaser: Purchaser, what: str) -> Decimal | None:
    if not payment:
        if request.amount is not None:
            raise RefusedError(
                f"cannot mark {what}: {request.step} is not a payment; drop --amount"
            )
        return None
    expected = purchaser.purchase_price
    if request.amount is None:
        return expected
    try:
        amount = parse_money(request.amount)
    except ValueError as error:
        raise RefusedError(f"cannot mark {what}: {error}") from None
    if amount <= 0 or amount != amount.quantize(CENT):
        raise RefusedError(
            f"cannot mark {what}: amount {request.amount} is not a positive amount in whole "
            "cents; write it like 450000.00"
        )
    if amount != expected:
        difference = amount - expected
        sign = "+" if difference > 0 else "-"
        raise RefusedError(
            f"cannot mark {what}: amount {format_money(amount)} differs from the purchase price "
            f"{format_money(expected)} by {sign}{format_money(abs(difference))}; nothing recorded"
        )
    return amount


def undo(
    store: Store,
    deal_name: str | None,
    purchaser_text: str,
    step_id: str,
    reason: str,
    actor: str,
    host: str,
    now: datetime,
) -> Recorded:
    """Record a correction: the step is no longer done. The original mark stays in the log."""
    if not reason.strip():
        raise RefusedError("an undo needs a reason; add --reason TEXT")
    with store.session() as session:
        deal, step, purchaser, standing = _locked(session, deal_name, purchaser_text, step_id)
        step_id = step.id
        trial = Progress(standing.state)
        try:
            deal.machine.undo(trial, step_id)
        except Refusal as refusal:
            raise RefusedError(f"cannot undo {step_id} for {purchaser.name}: {refusal}") from None
        event = _append(
            session,
            deal,
            Event(
                0,
                purchaser.id,
                standing.last_seq + 1,
                "undo",
                step_id,
                now,
                now,
                actor,
                host,
                note=reason.strip(),
            ),
        )
        return Recorded(deal, purchaser, event, trial.state)


def _append(session: Session, deal: Deal, event: Event) -> Event:
    """Append one event (never update, never delete); returns it with its id. The unique
    (purchaser, seq) key refuses a second writer that read the same history."""
    values = {name: getattr(event, name) for name in _EVENT_NAMES if name != "id"}
    result: Any = session.execute(EVENTS.insert().values(deal_id=deal.id, **values))
    return event._replace(id=result.inserted_primary_key[0])


# --- reading -----------------------------------------------------------------------------------


def purchasers_of(session: Session, deal: Deal, active_only: bool = True) -> list[Purchaser]:
    query = core_select(*_PURCHASER_COLUMNS).where(P.deal_id == deal.id)
    if active_only:
        query = query.where(P.active)
    return [
        Purchaser(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])
        for r in session.execute(query.order_by(P.position)).all()
    ]


def board(store: Store, deal_name: str | None, as_of: datetime) -> Board:
    """The board as it stood at `as_of`: only events recorded by then count."""
    with store.session(read_only=True) as session:
        deal = open_deal(session, deal_name)
        purchasers = purchasers_of(session, deal)
        events = events_by_purchaser(session, deal.id, as_of)
        failing = failing_deliveries(session, deal.id)
    return build_board(deal.terms, deal.calendar, deal.machine, purchasers, events, as_of, failing)


def failing_deliveries(session: Session, deal_id: int) -> int:
    """Alert deliveries of this deal that failed and have not gone out since."""
    alerts: Any = AlertRow.__table__.c  # type: ignore[attr-defined]
    deliveries: Any = DeliveryRow.__table__  # type: ignore[attr-defined]
    query = (
        core_select(func.count())
        .select_from(deliveries.join(AlertRow.__table__))  # type: ignore[attr-defined]
        .where(alerts.deal_id == deal_id, deliveries.c.status.in_(["retrying", "failed"]))
    )
    return int(session.execute(query).scalar_one())


@dataclass(frozen=True)
class HistoryEntry:
    purchaser: Purchaser
    event: Event


def history(
    store: Store, deal_name: str | None, purchaser_text: str | None
) -> tuple[Deal, list[HistoryEntry]]:
    with store.session(read_only=True) as session:
        deal = open_deal(session, deal_name)
        if purchaser_text:
            one = find_purchaser(session, deal, purchaser_text)
            purchasers = {one.id: one}
            events = _purchaser_events(session, one.id)
        else:
            purchasers = {p.id: p for p in purchasers_of(session, deal, active_only=False)}
            query = core_select(*_EVENT_COLUMNS).where(E.deal_id == deal.id)
            events = [Event(*values) for values in session.execute(query.order_by(E.id)).all()]
    entries = [HistoryEntry(purchasers[e.purchaser_id], e) for e in events]
    entries.sort(key=lambda entry: (entry.event.recorded_at, entry.event.id))
    return deal, entries


@dataclass(frozen=True)
class DealSummary:
    slug: str
    title: str
    closing_date: date
    cutoff: datetime
    purchasers: int
    events: int


def deals(store: Store) -> list[DealSummary]:
    with store.session(read_only=True) as session:
        loaded = all_deals(session)
        counts: dict[int, int] = dict(
            session.execute(
                core_select(P.deal_id, func.count()).where(P.active).group_by(P.deal_id)
            ).all()
        )
        event_counts: dict[int, int] = dict(
            session.execute(core_select(E.deal_id, func.count()).group_by(E.deal_id)).all()
        )
    result = []
    for deal in loaded:
        first = deal.terms.steps[0]
        cutoff = step_deadline(deal.terms, deal.calendar, first, {}).astimezone(deal.terms.zone)
        result.append(
            DealSummary(
                deal.slug,
                deal.terms.title,
                deal.terms.closing_date,
                cutoff,
                counts.get(deal.id, 0),
                event_counts.get(deal.id, 0),
            )
        )
    return result


__all__ = [
    "Deal",
    "HistoryEntry",
    "LoadResult",
    "MarkRequest",
    "Recorded",
    "Standing",
    "board",
    "deals",
    "find_purchaser",
    "history",
    "load_deal",
    "mark",
    "open_deal",
    "undo",
]
