"""Each party's progress through the deal's steps, as `transitions` state machines.

Every step of every purchaser (and of the company) is its own small machine: `pending`, `done`
or `waived`. Its triggers are `mark` (pending -> done), `undo` (a correction: done or waived ->
pending), `reverse` (done came undone in the world: funds sent back -> pending) and `waive`
(the step does not apply: pending -> waived). So a deal of 60 steps has 3 x 60 step states, not
the 2^60 sets of done steps: the state space grows with the steps, not with their subsets.

Across steps the rules are the deal file's `requires`: a step can be marked once each step it
requires is done or waived; a correction (`undo`) of a step is refused while a step that requires
it is done; a `reverse` is not (what was done on top of it stays done, flagged for attention).

One `Machine` is built, once, with `model=None` (the transitions FAQ's pattern: a machine per
model costs about 1 s and 50-130 MiB for 10,000 models): it is the one definition
of a step's states and triggers. Deciding a new event and replaying a stored one both go by its
transition table, read back from the machine's own events into `TABLE`: driving a model through
`transitions` for each event costs about 13 µs, which a 10,000-credit bank file paid 10,000
times (benchmarks/bench_wires.py), for the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from transitions import Machine

from closing.domain.terms import StoredStep, StoredTerms

if TYPE_CHECKING:  # a deal file's terms, when `closing init` reviews a reload: typing only
    from closing.domain.dealfile.schema import DealTerms, Step

PENDING, DONE, WAIVED = "pending", "done", "waived"
MARK, UNDO, REVERSE, WAIVE = "mark", "undo", "reverse", "waive"
NEW = "new"
CLOSED = "closed"

_STEP_MACHINE = Machine(
    model=None,
    states=[PENDING, DONE, WAIVED],
    transitions=[
        {"trigger": MARK, "source": PENDING, "dest": DONE},
        {"trigger": UNDO, "source": [DONE, WAIVED], "dest": PENDING},
        {"trigger": REVERSE, "source": DONE, "dest": PENDING},
        {"trigger": WAIVE, "source": PENDING, "dest": WAIVED},
    ],
    initial=PENDING,
    auto_transitions=False,
    ignore_invalid_triggers=False,
)
# (state, trigger) -> state, read back from the machine's own events.
TABLE: dict[tuple[str, str], str] = {
    (source, trigger): transition.dest
    for trigger, event in _STEP_MACHINE.events.items()
    for source, found in event.transitions.items()
    for transition in found
    if transition.dest is not None
}


class Refusal(Exception):
    """Raised by `ProgressMachine` with the reason a trigger is not allowed."""


# One party's step states: step id -> state, pending steps left out.
States = Mapping[str, str]


class ProgressMachine:
    """The rules across the steps of one party (each purchaser, or the company)."""

    def __init__(self, steps: Sequence[StoredStep | Step]) -> None:
        self.steps = tuple(steps)
        self.order = [step.id for step in self.steps]
        self.requires = {step.id: tuple(step.requires) for step in self.steps}
        self.required_by: dict[str, list[str]] = {step_id: [] for step_id in self.order}
        for step in self.steps:
            for needed in step.requires:
                if needed in self.required_by:
                    self.required_by[needed].append(step.id)
        self._names: dict[tuple[tuple[str, str], ...], str] = {}

    def fire(self, states: States, trigger: str, step_id: str) -> str:
        """The step's state after a new `trigger`, checked against the other steps (what it
        requires, what stands on it); `Refusal` says why not."""
        self.check(states, trigger, step_id)
        return TABLE[states.get(step_id, PENDING), trigger]

    def follow(self, states: States, trigger: str, step_id: str) -> str:
        """The state after a stored event, by the transition table (replaying thousands)."""
        dest = TABLE.get((states.get(step_id, PENDING), trigger))
        if dest is None or step_id not in self.requires:
            raise Refusal(self._why_not(states, trigger, step_id))
        return dest

    def check(self, states: States, trigger: str, step_id: str) -> None:
        if step_id not in self.requires:
            raise Refusal(f"there is no step {step_id!r}; the steps are {', '.join(self.order)}")
        current = states.get(step_id, PENDING)
        if (current, trigger) not in TABLE:
            raise Refusal(self._why_not(states, trigger, step_id))
        if trigger == MARK:
            missing = [s for s in self.requires[step_id] if states.get(s) not in (DONE, WAIVED)]
            if missing:
                raise Refusal(f"{_and(missing)} {'is' if len(missing) == 1 else 'are'} not done")
        elif trigger == UNDO:
            standing_on = [s for s in self.required_by[step_id] if states.get(s) == DONE]
            if standing_on:
                verb = "is" if len(standing_on) == 1 else "are"
                pronoun = "it" if len(standing_on) == 1 else "them"
                raise Refusal(f"{_and(standing_on)} {verb} done; undo {pronoun} first")

    def _why_not(self, states: States, trigger: str, step_id: str) -> str:
        if step_id not in self.requires:
            return f"there is no step {step_id!r}; the steps are {', '.join(self.order)}"
        current = states.get(step_id, PENDING)
        if trigger in (MARK, WAIVE):
            return f"{step_id} is already {current}"
        return f"{step_id} is not done" if current == PENDING else f"{step_id} is {current}"

    def satisfied(self, states: States, step_id: str) -> bool:
        return states.get(step_id) in (DONE, WAIVED)

    def ready(self, states: States, step_id: str) -> bool:
        """Open, and every step it requires is done or waived."""
        return not self.satisfied(states, step_id) and all(
            self.satisfied(states, needed) for needed in self.requires[step_id]
        )

    def still_to_do(self, states: States) -> list[str]:
        """The steps neither done nor waived, in the deal's order."""
        return [step for step in self.order if not self.satisfied(states, step)]

    def state_name(self, states: States) -> str:
        """`new`, `closed`, or the latest steps done (`warrant_faxed+dwac_credited`)."""
        key = tuple(states.items())  # a board names thousands of parties in a few states
        found = self._names.get(key)
        if found is None:
            if len(self._names) >= 10_000:
                self._names.clear()
            found = self._names[key] = self._state_name(states)
        return found

    def _state_name(self, states: States) -> str:
        finished = [s for s in self.order if self.satisfied(states, s)]
        if not finished:
            return NEW
        if len(finished) == len(self.order):
            return CLOSED
        latest = [
            s
            for s in finished
            if states.get(s) == DONE
            and not any(states.get(after) == DONE for after in self.required_by[s])
        ]
        return "+".join(latest) or "+".join(finished)


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


_machines: dict[str, ProgressMachine] = {}


def machine_for(terms: StoredTerms | DealTerms, company: bool = False) -> ProgressMachine:
    """The rules for each purchaser's steps (or the company's), built once per process."""
    steps = terms.company_steps if company else terms.purchaser_steps
    key = repr([(step.id, step.requires) for step in steps])
    if key not in _machines:
        _machines[key] = ProgressMachine(steps)
    return _machines[key]
