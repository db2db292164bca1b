"""What the board shows: each purchaser's steps as done, pending, due soon, overdue or blocked.

Pure: given the deal, its purchasers, their events and a moment, it returns values. The CLI
renders them with Rich or as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from closing.deadlines import Deal
from closing.deal import NEEDABLE_DETAILS, DealTerms, Step
from closing.events import Event, Purchaser, Standing, replay
from closing.machine import CLOSED

DUE_SOON = timedelta(hours=2)
DONE, PENDING, DUE_SOON_STATUS, OVERDUE, BLOCKED = (
    "done",
    "pending",
    "due_soon",
    "overdue",
    "blocked",
)
# Worst first: the order the board sorts purchasers that need attention.
URGENCY = {OVERDUE: 0, BLOCKED: 1, DUE_SOON_STATUS: 2, PENDING: 3, DONE: 4}


@dataclass(frozen=True)
class StepStatus:
    step: str
    status: str
    deadline: datetime
    done_at: datetime | None = None
    done_by: str | None = None
    blocked_by: tuple[str, ...] = ()
    waiting_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class PurchaserStatus:
    purchaser: Purchaser
    state: str
    steps: dict[str, StepStatus]
    amount_received: Decimal

    @property
    def urgency(self) -> int:
        return min((URGENCY[s.status] for s in self.steps.values()), default=URGENCY[DONE])

    @property
    def closed(self) -> bool:
        return self.state == CLOSED


@dataclass(frozen=True)
class Totals:
    purchasers: int
    closed: int
    shares: int
    purchase_price: Decimal
    warrant_shares: int
    amount_received: Decimal
    by_status: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Board:
    terms: DealTerms
    as_of: datetime
    purchasers: list[PurchaserStatus]
    totals: Totals
    failing_alerts: int = 0

    @property
    def closed(self) -> bool:
        return self.totals.closed == self.totals.purchasers


def step_status(
    deal: Deal, step: Step, purchaser: Purchaser, standing: Standing, now: datetime
) -> StepStatus:
    deadline = deal.deadline(step, standing.done)
    mark = standing.done.get(step.id)
    if mark is not None:
        return StepStatus(step.id, DONE, deadline, mark.occurred_at, mark.actor)
    blocked_by = tuple(
        f"{NEEDABLE_DETAILS[need]} missing" for need in step.needs if not purchaser.detail(need)
    )
    waiting_on = tuple(s for s in step.requires if s not in standing.done)
    if now > deadline:
        status = OVERDUE
    elif blocked_by:
        status = BLOCKED
    elif deadline - now <= DUE_SOON:
        status = DUE_SOON_STATUS
    else:
        status = PENDING
    return StepStatus(step.id, status, deadline, None, None, blocked_by, waiting_on)


def purchaser_status(
    deal: Deal, purchaser: Purchaser, events: list[Event], now: datetime
) -> PurchaserStatus:
    standing = replay(deal.machine, events)
    steps = {
        step.id: step_status(deal, step, purchaser, standing, now) for step in deal.terms.steps
    }
    return PurchaserStatus(purchaser, standing.state, steps, standing.amount_received)


def build_board(
    deal: Deal,
    purchasers: list[Purchaser],
    events: dict[int, list[Event]],
    now: datetime,
    failing_alerts: int = 0,
) -> Board:
    """The board at `now` from the events known by then (the caller filters them)."""
    terms = deal.terms
    rows = [purchaser_status(deal, p, events.get(p.id, []), now) for p in purchasers]
    by_status: dict[str, dict[str, int]] = {
        step.id: dict.fromkeys(URGENCY, 0) for step in terms.steps
    }
    for row in rows:
        for step_id, status in row.steps.items():
            by_status[step_id][status.status] += 1
    totals = Totals(
        purchasers=len(rows),
        closed=sum(1 for row in rows if row.closed),
        shares=sum(p.shares for p in purchasers),
        purchase_price=sum((p.purchase_price for p in purchasers), Decimal("0")),
        warrant_shares=sum(p.warrant_shares for p in purchasers),
        amount_received=sum((row.amount_received for row in rows), Decimal("0")),
        by_status=by_status,
    )
    return Board(terms, now, rows, totals, failing_alerts)


def attention_first(board: Board) -> list[PurchaserStatus]:
    """Purchasers sorted worst first (overdue, blocked, due soon, pending, closed), the furthest
    behind (fewest steps done) first among equals, then in Schedule 1 order."""

    def behind(row: PurchaserStatus) -> tuple[int, int, int]:
        done = sum(1 for status in row.steps.values() if status.status == DONE)
        return (row.urgency, done, row.purchaser.position)

    return sorted(board.purchasers, key=behind)
