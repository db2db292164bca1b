"""What the board shows: each step of each purchaser (and of the company) as done, done late,
pending, due soon, overdue or waived; what blocks it and what needs attention, in fields of their
own that never hide the time status.

Pure: given the deal, its parties, their events and a moment, it returns values. The CLI renders
them with Rich or as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from closing.domain.breach import flagged_steps
from closing.domain.cutoffs import markets_closed
from closing.domain.deal import Deal
from closing.domain.delivery import HELD, is_held, remediation
from closing.domain.events import Event, Purchaser, Standing, replay
from closing.domain.lapse import deal_lapsed, part_lapsed
from closing.domain.machine import CLOSED, DONE, WAIVED, ProgressMachine, Refusal
from closing.domain.terms import DETAIL_NAMES, StoredStep, StoredTerms
from closing.domain.wire_instructions import WireStatus, company_missing

if TYPE_CHECKING:
    from closing.domain.documents import DocumentCopy

DUE_SOON = timedelta(hours=2)
_NO_MONEY = Decimal(0)
DONE_STATUS, DONE_LATE, PENDING, DUE_SOON_STATUS, OVERDUE, WAIVED_STATUS = (
    "done",
    "done_late",
    "pending",
    "due_soon",
    "overdue",
    "waived",
)
# HELD (`closing.domain.delivery`): open, and held until the payment is in.
STATUSES = (OVERDUE, DUE_SOON_STATUS, PENDING, HELD, DONE_LATE, DONE_STATUS, WAIVED_STATUS)
# Worst first: the order the board sorts purchasers that need attention.
URGENCY = {status: rank for rank, status in enumerate(STATUSES)}
FINISHED = (DONE_STATUS, DONE_LATE, WAIVED_STATUS)


class StepStatus(NamedTuple):
    """One step of one party at a moment (a tuple: a board of 10,000 purchasers builds 50,000)."""

    step: str
    status: str
    deadline: datetime
    done_at: datetime | None = None
    done_by: str | None = None
    late_by: int | None = None  # seconds, when done after the deadline
    blocked_by: tuple[str, ...] = ()  # details the deal file lacks
    waiting_on: tuple[str, ...] = ()  # steps it requires that are not done
    attention: tuple[str, ...] = ()  # e.g. "wired was reversed: funds sent back"
    received: Decimal | None = None  # payment step: what has come in so far
    reason: str | None = None  # why it was waived
    practical: datetime | None = None  # the market's deadline, beside the agreement's
    breach: tuple[str, ...] = ()  # recorded out of order (`closing.domain.breach`), in words
    on_behalf_of: str | None = None  # for whom `done_by` marked it (`--by`)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def due_by(self) -> datetime:
        """What an open step is judged against: the earlier of the agreement's deadline and the
        market's (a done step is late only against the agreement's)."""
        practical = self.practical
        return self.deadline if practical is None or self.deadline <= practical else practical

    @property
    def market_first(self) -> bool:
        """Whether the market's cutoff comes before the agreement's deadline."""
        return self.practical is not None and self.practical < self.deadline


@dataclass(slots=True)
class PurchaserStatus:
    purchaser: Purchaser
    state: str
    steps: dict[str, StepStatus]
    amount_received: Decimal
    withdrawn: Event | None = None
    unreadable: str | None = None  # its events cannot be replayed: why (see closing verify)
    remediation: tuple[str, ...] = ()  # delivered against a payment since reversed: to undo
    lapsed: bool = False  # not closed past the outside date (or a step's own `lapses_at`)
    link_events: tuple[Event, ...] = ()  # what it said through its link (domain.proposals)

    @property
    def urgency(self) -> int:
        if self.withdrawn is not None:
            return len(STATUSES)
        return min((URGENCY[s.status] for s in self.steps.values()), default=URGENCY[DONE_STATUS])

    @property
    def closed(self) -> bool:
        return self.state == CLOSED

    @property
    def shortfall(self) -> Decimal:
        """What a completed payment fell short of the purchase price (within its tolerance)."""
        short = self.purchaser.purchase_price - self.amount_received
        if short <= 0:
            return _NO_MONEY
        for step in self.steps.values():  # paid: a payment step is finished
            if step.received is not None and step.status in FINISHED:
                return short
        return _NO_MONEY


@dataclass(frozen=True)
class CompanyStatus:
    """The deal's own steps (the company's deliveries)."""

    steps: dict[str, StepStatus]

    @property
    def closed(self) -> bool:
        return all(s.finished for s in self.steps.values())


@dataclass(frozen=True)
class Totals:
    purchasers: int  # taking part: not withdrawn
    closed: int
    shares: int
    purchase_price: Decimal
    warrant_shares: int
    amount_received: Decimal
    withdrawn: int = 0
    by_status: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        rows: Sequence[PurchaserStatus],
        step_ids: Sequence[str],
        company_steps: Mapping[str, StepStatus] | None = None,
    ) -> Totals:
        """The totals of `rows` (the withdrawn counted apart) and each step's statuses, the
        company's steps' too when given."""
        taking = [row for row in rows if row.withdrawn is None]
        by_status = {step_id: dict.fromkeys(STATUSES, 0) for step_id in step_ids}
        for steps in [*(row.steps for row in taking), *([company_steps] if company_steps else [])]:
            for step_id, status in steps.items():
                by_status[step_id][status.status] += 1
        return cls(
            purchasers=len(taking),
            closed=sum(1 for row in taking if row.closed),
            shares=sum(row.purchaser.shares for row in taking),
            purchase_price=sum((row.purchaser.purchase_price for row in taking), Decimal(0)),
            warrant_shares=sum(row.purchaser.warrant_shares for row in taking),
            amount_received=sum((row.amount_received for row in taking), Decimal(0)),
            withdrawn=len(rows) - len(taking),
            by_status=by_status,
        )


@dataclass(frozen=True)
class Board:
    terms: StoredTerms
    as_of: datetime
    purchasers: list[PurchaserStatus]
    totals: Totals
    company: CompanyStatus
    failing_alerts: int = 0
    wire_instructions: WireStatus | None = None  # None: not looked up
    record_warning: str | None = None  # the event log failed verification, or looks short
    # Each step whose market cutoff has passed with the step still open for someone: (step id,
    # the cutoff, the words: "Fedwire is closed: a wire sent now arrives Monday").
    markets_closed: tuple[tuple[str, datetime, str], ...] = ()
    documents: tuple[DocumentCopy, ...] = ()  # the closing set, when the deal file lists one
    # A board as of a past moment: the deal file's reloads recorded since (when, what changed);
    # its terms and deadlines are those loaded now.
    reloaded_since: tuple[tuple[datetime, str], ...] = ()

    @property
    def lapsed(self) -> bool:
        """Not closed by the end of the outside date."""
        return deal_lapsed(self.terms, self.as_of, self.closed)

    @property
    def closed(self) -> bool:
        """Every purchaser closed or withdrawn, every company step done or waived, and nothing
        delivered against a reversed payment left to remediate."""
        return (
            self.totals.closed == self.totals.purchasers
            and self.company.closed
            and not any(row.remediation for row in self.purchasers)
        )


def step_status(
    deal: Deal,
    step: StoredStep,
    party: Purchaser | None,
    standing: Standing,
    now: datetime,
    states: Mapping[str, str],
    alike: dict[tuple[object, ...], StepStatus] | None = None,
    company_missing: frozenset[str] = frozenset(),
) -> StepStatus:
    """One step's status at `now`. `party` is None for the company's steps; `states` are the
    party's step states with the company's (purchaser steps may require company steps).
    `alike` shares one status between purchasers whose open step is the same in every field (a
    large board's purchasers mostly are). `company_missing` are the company's details (its wire
    instructions) the deal lacks."""
    step_id = step.id
    deadline = deal.deadline(step, standing.done, party)
    practical = None if step.practical is None else deal.practical_deadline(step, deadline, party)
    state = standing.states.get(step_id)
    reversed_steps = standing.reversed
    attention: tuple[str, ...] = ()
    if reversed_steps and state == DONE:
        attention = tuple(
            f"{needed} was reversed: {reversed_steps[needed].note}"
            for needed in step.requires
            if needed in reversed_steps
        )
    received = standing.received(step_id) if step.payment is not False else None
    if state == DONE:
        mark = standing.done[step_id]
        deadline = deal.judged.get(mark.id or 0, deadline)  # as judged, if a reload moved it
        late = int((mark.occurred_at - deadline).total_seconds())
        return StepStatus(
            step_id,
            DONE_LATE if late > 0 else DONE_STATUS,
            deadline,
            mark.occurred_at,
            mark.actor,
            late if late > 0 else None,
            (),
            (),
            attention,
            received,
            None,
            practical,
            on_behalf_of=mark.on_behalf_of,
        )
    if state == WAIVED:
        waiver = standing.waived[step_id]
        return StepStatus(
            step_id,
            WAIVED_STATUS,
            deadline,
            waiver.occurred_at,
            waiver.actor,
            reason=waiver.note,
            practical=practical,
            on_behalf_of=waiver.on_behalf_of,
        )
    blocked_by: tuple[str, ...] = ()
    if step.needs and party is not None:
        missing = party.missing_details
        if missing or company_missing:
            blocked_by = tuple(
                f"{DETAIL_NAMES[need]} missing"
                for need in step.needs
                if need in missing or need in company_missing
            )
    waiting_on = tuple(s for s in step.requires if states.get(s) not in _SATISFIED)
    held = step.held_until is not None and is_held(step, states)
    key: tuple[object, ...] | None = None
    if alike is not None and not reversed_steps and not received:
        key = (step_id, deadline, blocked_by, waiting_on, received, practical, held)
        found = alike.get(key)
        if found is not None:
            return found
    left = (deadline if practical is None or deadline <= practical else practical) - now
    if held:
        status = HELD
    elif left < _ZERO:
        status = OVERDUE
    elif left <= DUE_SOON:
        status = DUE_SOON_STATUS
    else:
        status = PENDING
    reversed_here = reversed_steps.get(step_id) if reversed_steps else None
    if reversed_here is not None:
        attention = (*attention, f"{step_id} was reversed: {reversed_here.note}")
    made = StepStatus(
        step_id,
        status,
        deadline,
        None,
        None,
        None,
        blocked_by,
        waiting_on,
        attention,
        received,
        None,
        practical,
    )
    if key is not None and alike is not None:
        alike[key] = made
    return made


_ZERO = timedelta(0)
_SATISFIED = (DONE, WAIVED)


class _Alike(NamedTuple):
    """What purchasers that stand alike share (see `_steps_alike`)."""

    opened: dict[str, StepStatus]  # the open steps' statuses
    slots: tuple[tuple[StoredStep, StepStatus | None], ...]  # each step, with its status if open
    finished: dict[tuple[object, ...], StepStatus]  # done and waived steps', by their marks
    state: str  # the state name


def purchaser_status(
    deal: Deal,
    purchaser: Purchaser,
    events: list[Event],
    now: datetime,
    company_states: Mapping[str, str],
    machine: ProgressMachine | None = None,
    alike: dict[tuple[object, ...], StepStatus] | None = None,
    company_missing: frozenset[str] = frozenset(),
    open_alike: dict[tuple[object, ...], _Alike] | None = None,
    company_standing: Standing | None = None,
) -> PurchaserStatus:
    rules = machine or deal.machine
    unreadable = None
    try:
        standing = replay(rules, events) if events else Standing()
    except Refusal as error:  # the log was edited behind closing's back: shown, not a crash
        standing, unreadable = Standing(), str(error)
    if open_alike is not None and not standing.reversed and not standing.receipts:
        steps, state = _steps_alike(
            deal, purchaser, standing, now, company_states, alike, company_missing, open_alike
        )
    else:
        states = {**company_states, **standing.states} if company_states else standing.states
        steps = {
            step.id: step_status(
                deal, step, purchaser, standing, now, states, alike, company_missing
            )
            for step in deal.purchaser_steps
        }
        state = rules.state_name(standing.states)
    if standing.withdrawn is not None:
        # The record is closed for it: a reversal before the withdrawal (the money sent back, as
        # a paid purchaser must record before it withdraws) asks nothing more of anyone.
        steps = {k: s._replace(attention=()) if s.attention else s for k, s in steps.items()}
    if standing.done:
        steps = flagged_steps(deal, steps, standing, company_standing, purchaser)
    remedies = remediation(deal.purchaser_steps, standing) if standing.reversed else ()
    lapsed = False
    if deal.lapses and standing.withdrawn is None:
        lapsed = part_lapsed(
            deal.terms, deal.purchaser_steps, standing.states, now, state == CLOSED
        )
    return PurchaserStatus(
        purchaser,
        state,
        steps,
        standing.amount_received,
        standing.withdrawn,
        unreadable,
        remedies,
        lapsed,
        standing.link_events,
    )


def _steps_alike(
    deal: Deal,
    purchaser: Purchaser,
    standing: Standing,
    now: datetime,
    company_states: Mapping[str, str],
    alike: dict[tuple[object, ...], StepStatus] | None,
    company_missing: frozenset[str],
    open_alike: dict[tuple[object, ...], _Alike],
) -> tuple[dict[str, StepStatus], str]:
    """`step_status` of each step, and the state name, shared between purchasers that stand
    alike: the same steps done or waived, the same details missing, the same zone and holidays
    where a deadline is the purchaser's, the same marks where a deadline follows a step. A done
    or waived step is shared with those whose mark for it has the same time, actor and amount
    (a bulk import marks thousands at once): its deadline is the same for all of them."""
    own = standing.states
    done = standing.done
    own_items = tuple(own.items())
    key: tuple[object, ...] = (
        own_items,
        purchaser.missing_details,
        (purchaser.time_zone, purchaser.holidays) if deal.deadlines_per_purchaser else None,
        tuple(done[a].occurred_at if a in done else None for a in deal.anchors)
        if deal.anchors
        else (),
    )
    found = open_alike.get(key)
    if found is None:
        states = {**company_states, **own} if company_states else own
        opened = {
            step.id: step_status(
                deal, step, purchaser, standing, now, states, alike, company_missing
            )
            for step in deal.purchaser_steps
            if step.id not in own
        }
        slots = tuple((step, opened.get(step.id)) for step in deal.purchaser_steps)
        found = open_alike[key] = _Alike(opened, slots, {}, deal.machine.state_name(own))
    opened, slots, finished, state = found
    if not own_items:
        return dict(opened), state
    waived = standing.waived
    steps: dict[str, StepStatus] = {}
    for step, status in slots:
        if status is None:
            step_id = step.id
            mark = done.get(step_id)
            if mark is not None:
                mark_key: tuple[object, ...] = (
                    step_id,
                    mark.occurred_at,
                    mark.actor,
                    mark.on_behalf_of,
                    mark.amount,
                )
            else:
                mark = waived[step_id]
                mark_key = (
                    step_id,
                    mark.occurred_at,
                    mark.actor,
                    mark.on_behalf_of,
                    WAIVED,
                    mark.note,
                )
            status = finished.get(mark_key)
            if status is None:
                status = finished[mark_key] = step_status(
                    deal, step, purchaser, standing, now, own, None, company_missing
                )
        steps[status.step] = status
    return steps, state


def company_status(
    deal: Deal, events: list[Event], now: datetime
) -> tuple[CompanyStatus, Standing]:
    standing = replay(deal.company_machine, events)
    steps = {
        step.id: step_status(deal, step, None, standing, now, standing.states)
        for step in deal.terms.company_steps
    }
    if standing.done:
        steps = flagged_steps(deal, steps, standing, standing, None)
    return CompanyStatus(steps), standing


def build_board(
    deal: Deal,
    purchasers: list[Purchaser],
    events: dict[int, list[Event]],
    now: datetime,
    failing_alerts: int = 0,
    company: Purchaser | None = None,
    wires: WireStatus | None = None,
) -> Board:
    """The board at `now` from the events known by then (the caller filters them); `wires`, where
    the company's wire instructions stand (None when not looked up)."""
    terms = deal.terms
    missing = company_missing(wires)
    company_events = events.get(company.id, []) if company is not None else []
    company_view, company_standing = company_status(deal, company_events, now)
    machine = deal.machine
    alike: dict[tuple[object, ...], StepStatus] = {}
    open_alike: dict[tuple[object, ...], _Alike] = {}
    company_states = company_standing.states
    rows = [
        purchaser_status(
            deal,
            p,
            events.get(p.id, []),
            now,
            company_states,
            machine,
            alike,
            missing,
            open_alike,
            company_standing,
        )
        for p in purchasers
    ]
    totals = Totals.of(rows, terms.step_ids, company_view.steps)
    taking_part = [row for row in rows if row.withdrawn is None]
    closed = markets_closed(deal, taking_part, company_view, now)
    return Board(terms, now, rows, totals, company_view, failing_alerts, wires, None, closed)
