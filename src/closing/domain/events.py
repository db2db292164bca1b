"""Purchasers (and the company), their events, and replaying the events into where each stands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import orjson

from closing.domain.machine import (
    DONE,
    MARK,
    REVERSE,
    UNDO,
    WAIVE,
    WAIVED,
    ProgressMachine,
    Refusal,
)
from closing.domain.terms import NEEDABLE_DETAILS

RECEIPT = "receipt"  # part of a payment received; the step stays open
WITHDRAW = "withdraw"  # the purchaser is out of the deal (step is empty)
REVISION = "revision"  # the deal file was reloaded with changes (on the company's chain)
INSTRUCTIONS = "instructions"  # the company's wire instructions entered or changed (company row)
INSTRUCTIONS_VERIFIED = "instructions_verified"  # ... verified by a second person's callback
SEAL = "seal"  # the record's heads signed with an SSH key into a file kept outside (`closing seal`)
TEAM = "team"  # a member added to the deal's team, or a role granted or revoked
DISBURSED = "disbursed"  # an outgoing wire of the funds flow sent (`closing mark-sent`)
DISBURSEMENT_CONFIRMED = "disbursement_confirmed"  # ... and its debit found in the bank's file
BENEFICIARY = "beneficiary"  # a disbursement's beneficiary bank details entered or changed
BENEFICIARY_VERIFIED = "beneficiary_verified"  # ... verified by a second person's callback
FUNDS_EVENTS = frozenset({DISBURSED, DISBURSEMENT_CONFIRMED, BENEFICIARY, BENEFICIARY_VERIFIED})
# Events of the deal itself, recorded on the company row's chain: no step changes state.
DEAL_EVENTS = frozenset({REVISION, INSTRUCTIONS, INSTRUCTIONS_VERIFIED, SEAL, TEAM, *FUNDS_EVENTS})
ATTACH = "attach"  # a file of the closing set received (closing.domain.documents); moves no step
RELEASE = "release"  # pages held in escrow released; moves no step
# What a purchaser says through its link, and the team's answer (closing.domain.proposals): on
# the purchaser's chain, moving no step.
PROPOSAL = "proposal"  # details proposed through a share link
ACCEPTED = "details_accepted"  # proposed details accepted by a member (then they apply)
REJECTED = "details_rejected"  # ... or rejected, with the reason
WIRE_REPORT = "wire_report"  # the purchaser reports its wire sent: a report, never money
LINK_EVENTS = frozenset({PROPOSAL, ACCEPTED, REJECTED, WIRE_REPORT})
_NO_STEP = DEAL_EVENTS | {ATTACH, RELEASE} | LINK_EVENTS
COMPANY_SLUG = "@company"  # the company's own row: it holds the deal's steps and their events


# (section, ((key, dotted), ...)) of each section of the details a step can need
_NEEDS = tuple(
    (
        section,
        tuple(
            (need.partition(".")[2], need)
            for need in NEEDABLE_DETAILS
            if need.startswith(f"{section}.")
        ),
    )
    for section in dict.fromkeys(need.partition(".")[0] for need in NEEDABLE_DETAILS)
)
_NO: dict[str, Any] = {}  # a section the details lack
_NONE: frozenset[str] = frozenset()
_MISSING: dict[frozenset[str], frozenset[str]] = {}
_MISSING_OF: dict[str, frozenset[str]] = {}  # a purchaser's details (JSON text) -> what is missing
_MISSING_KEPT = 100_000


def detail_of(details: Mapping[str, Any], dotted: str) -> str | None:
    """A purchaser's detail (`dwac.account_number`) from its details, None when blank."""
    section, _, key = dotted.partition(".")
    value = (details.get(section) or {}).get(key)
    return value or None


@dataclass(eq=False)  # not frozen: building 10,000 of them per board must be cheap
class Purchaser:
    id: int
    slug: str
    name: str
    position: int
    shares: int
    purchase_price: Decimal
    warrant_shares: int
    details_json: str = "{}"  # notice, DWAC and calendar details, parsed when first asked for
    active: bool = True
    role: str = "purchaser"  # or "company": the row that holds the deal's own steps

    @property
    def details(self) -> dict[str, Any]:
        # Parsed on first use and kept (a board or an import reads thousands; a cached_property
        # takes a lock on every first look).
        found: dict[str, Any] | None = self.__dict__.get("_details")
        if found is None:
            found = self.__dict__["_details"] = orjson.loads(self.details_json)
        return found

    def detail(self, dotted: str) -> str | None:
        return detail_of(self.details, dotted)

    @property
    def missing_details(self) -> frozenset[str]:
        """The notice and DWAC details (`notices.facsimile`, ...) the deal file left blank."""
        # Looked up by the details' text: a board asks for thousands, and a cached_property
        # takes a lock on every first look.
        found = _MISSING_OF.get(self.details_json)
        if found is None:
            details = self.__dict__.get("_details") or orjson.loads(self.details_json)
            missing: list[str] = []
            for section, needs in _NEEDS:
                given = details.get(section) or _NO
                for key, need in needs:
                    if not given.get(key):
                        missing.append(need)
            # Interned: most purchasers of a large deal miss the same few (or none), and the
            # board keys shared step statuses on them.
            found = (
                _MISSING.setdefault(frozenset(missing), frozenset(missing)) if missing else _NONE
            )
            if len(_MISSING_OF) >= _MISSING_KEPT:
                _MISSING_OF.clear()
            _MISSING_OF[self.details_json] = found
        return found

    @property
    def time_zone(self) -> str | None:
        zone: str | None = self.details.get("time_zone")
        return zone

    @property
    def holidays(self) -> tuple[str, ...]:
        return tuple(self.details.get("holidays", ()))

    @property
    def is_company(self) -> bool:
        return self.role == "company"


class Event(NamedTuple):
    """One stored event (a tuple: boards and alert wake-ups build tens of thousands)."""

    id: int
    purchaser_id: int
    seq: int
    kind: str  # mark, undo, reverse, waive, receipt, withdraw, and DEAL_EVENTS' kinds
    step: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    host: str
    evidence_kind: str | None = None
    evidence: str | None = None
    amount: Decimal | None = None
    note: str | None = None
    # For whom the actor acted, as typed (`--by`, `CLOSING_OPERATOR`): shown beside the actor,
    # never in its place, and never counted by the two-person rule.
    on_behalf_of: str | None = None
    # The actor is text someone typed, not an identity the system authenticated: events recorded
    # before closing knew who its operators were (migration 0008).
    actor_declared: bool = False
    # The rehearsal clock's time (`CLOSING_NOW`) when the event was recorded in a rehearsal or
    # a replay; `recorded_at` is always the machine's (the database server's on PostgreSQL).
    rehearsal_at: datetime | None = None

    @property
    def logged_at(self) -> datetime:
        """When the event joined the deal's timeline: the rehearsal clock's time in a rehearsal,
        else the machine's. What the board, history and memo order and filter by."""
        return self.rehearsal_at or self.recorded_at

    @property
    def who(self) -> str:
        """`alice`, `alice for Mary Jones`, or `alice (self-declared)`: the actor as shown."""
        return who_text(self.actor, self.on_behalf_of, self.actor_declared)


def who_text(actor: str, on_behalf_of: str | None, declared: bool = False) -> str:
    """How an actor is shown: `alice`, `alice for Mary Jones`, `alice (self-declared)`."""
    shown = f"{actor} (self-declared)" if declared else actor
    return f"{shown} for {on_behalf_of}" if on_behalf_of else shown


def on_behalf(actor: str, typed: str | None) -> str | None:
    """What `--by` adds beside the authenticated actor: nothing when it names the actor."""
    if typed is None or not typed.strip():
        return None
    return None if typed.strip().casefold() == actor.strip().casefold() else typed.strip()


@dataclass(slots=True)  # one per party on every board
class Standing:
    """Where one party stands after its events."""

    states: dict[str, str] = field(default_factory=dict)  # step -> done | waived
    done: dict[str, Event] = field(default_factory=dict)  # the mark behind each done step
    waived: dict[str, Event] = field(default_factory=dict)
    receipts: dict[str, list[Event]] = field(default_factory=dict)  # partial payments, open step
    reversed: dict[str, Event] = field(default_factory=dict)  # reversed and not done again
    withdrawn: Event | None = None
    last_seq: int = 0
    # held steps left delivered on purpose after the payment was reversed (a waiver of a done
    # step: `closing.domain.delivery`)
    remedies_waived: dict[str, Event] = field(default_factory=dict)
    link_events: tuple[Event, ...] = ()  # proposals, their answers, wire reports (LINK_EVENTS)

    def received(self, step_id: str) -> Decimal:
        """What has come in for a payment step: its partial receipts and the completing mark."""
        total = _NOTHING
        for receipt in self.receipts.get(step_id, ()):
            if receipt.amount is not None:
                total += receipt.amount
        mark = self.done.get(step_id)
        if mark is not None and mark.amount is not None:
            total += mark.amount
        return total

    @property
    def amount_received(self) -> Decimal:
        """What has come in for every step: partial receipts and the marks that carry money."""
        total = _NOTHING
        for receipts in self.receipts.values():
            for receipt in receipts:
                if receipt.amount is not None:
                    total += receipt.amount
        for mark in self.done.values():
            if mark.amount is not None:
                total += mark.amount
        return total


_NOTHING = Decimal(0)


def deal_event(
    company: Purchaser,
    seq: int,
    kind: str,
    at: datetime,
    actor: str,
    host: str,
    note: str | None = None,
    evidence_kind: str | None = None,
    evidence: str | None = None,
    on_behalf_of: str | None = None,
) -> Event:
    """An event that moves no step, on `company`'s chain: the deal's own (a reload, a
    wire-instruction change or its verification, a seal, a team change), or a release of a
    party's held pages (then `company` is that party)."""
    return Event(
        id=0,
        purchaser_id=company.id,
        seq=seq,
        kind=kind,
        step="",
        occurred_at=at,
        recorded_at=at,
        actor=actor,
        host=host,
        evidence_kind=evidence_kind,
        evidence=evidence,
        note=note,
        on_behalf_of=on_behalf_of,
    )


def replay(machine: ProgressMachine, events: list[Event]) -> Standing:
    """Run a party's events, in order, through the machine's transitions.

    Stored events were accepted by the machine when they were recorded, so a refusal here means
    the deal's steps changed under them; `closing init` refuses such a change.
    """
    standing = Standing()
    states = standing.states
    for event in events:
        kind, step = event.kind, event.step
        standing.last_seq = event.seq
        if event.amount is not None and not event.amount.is_finite():
            raise Refusal(f"event #{event.seq} ({kind} {step}) has an amount that is not a number")
        if kind == RECEIPT:
            standing.receipts.setdefault(step, []).append(event)
            continue
        if kind == WITHDRAW:
            standing.withdrawn = event
            continue
        if kind in _NO_STEP:
            if kind in LINK_EVENTS:
                standing.link_events = (*standing.link_events, event)
            continue
        if kind == UNDO and states.get(step) is None and standing.receipts.get(step):
            standing.receipts[step].pop()  # the correction of a partial receipt
            continue
        if kind == WAIVE and states.get(step) == DONE:
            standing.remedies_waived[step] = event  # its remediation waived; it stays done
            continue
        state = machine.follow(states, kind, step)
        if state == DONE:
            states[step] = state
            standing.done[step] = event
            standing.reversed.pop(step, None)
        elif state == WAIVED:
            states[step] = state
            standing.waived[step] = event
        else:
            states.pop(step, None)
            standing.done.pop(step, None)
            standing.waived.pop(step, None)
            standing.remedies_waived.pop(step, None)
            if kind == REVERSE:
                standing.reversed[step] = event
                standing.receipts.pop(step, None)  # the money went back
    return standing


__all__ = [
    "COMPANY_SLUG",
    "INSTRUCTIONS",
    "INSTRUCTIONS_VERIFIED",
    "MARK",
    "RECEIPT",
    "REVERSE",
    "SEAL",
    "UNDO",
    "WAIVE",
    "WITHDRAW",
    "Event",
    "Purchaser",
    "Standing",
    "replay",
]
