"""Purchasers, their events, and replaying the events into where each purchaser stands."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, NamedTuple

from closing.machine import NEW, ProgressMachine


@dataclass(eq=False)  # not frozen: building 10,000 of them per board must be cheap
class Purchaser:
    id: int
    slug: str
    name: str
    position: int
    shares: int
    purchase_price: Decimal
    warrant_shares: int
    details_json: str = "{}"  # notice and DWAC details, parsed when first asked for
    active: bool = True

    @cached_property
    def details(self) -> dict[str, dict[str, Any]]:
        parsed: dict[str, dict[str, Any]] = json.loads(self.details_json)
        return parsed

    def detail(self, dotted: str) -> str | None:
        section, _, key = dotted.partition(".")
        value = self.details.get(section, {}).get(key)
        return value or None


class Event(NamedTuple):
    """One stored mark or undo (a tuple: boards and alert wake-ups build tens of thousands)."""

    id: int
    purchaser_id: int
    seq: int
    kind: str  # "mark" | "undo"
    step: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    host: str
    evidence_kind: str | None = None
    evidence: str | None = None
    amount: Decimal | None = None
    note: str | None = None


@dataclass
class Standing:
    """Where one purchaser stands after its events: machine state and the mark behind each done
    step."""

    state: str
    done: dict[str, Event] = field(default_factory=dict)
    last_seq: int = 0

    @property
    def amount_received(self) -> Decimal:
        total = Decimal("0")
        for event in self.done.values():
            if event.amount is not None:
                total += event.amount
        return total


def replay(machine: ProgressMachine, events: list[Event]) -> Standing:
    """Run a purchaser's events, in order, through the machine's transitions.

    Stored events were accepted by the machine when they were recorded, so a refusal here means
    the deal's steps changed under them; `closing init` refuses such a change.
    """
    state = NEW
    done: dict[str, Event] = {}
    last_seq = 0
    for event in events:
        state = machine.follow(state, event.kind, event.step)
        if event.kind == "mark":
            done[event.step] = event
        else:
            done.pop(event.step, None)
        last_seq = event.seq
    return Standing(state=state, done=done, last_seq=last_seq)
