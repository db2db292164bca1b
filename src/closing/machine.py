"""Each purchaser's progress through the deal's steps, as a `transitions` state machine.

A state is a set of done steps that respects `requires` (so `warrant_faxed` and `dwac_credited`
can be done in either order once `wired` is). It is named by its latest steps: `new`, `signed`,
`wired`, `warrant_faxed+dwac_credited`, ... and `closed` when every step is done. Each step `s`
has a trigger `mark_s` and a trigger `undo_s`. One machine is built per set of steps with
`model=None`; purchasers are plain objects that only hold `.state` (see LIBRARY-NOTES.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from transitions import Machine, MachineError

from closing.deal import DealTerms, Step, iter_progress_states

NEW = "new"
CLOSED = "closed"


class MachineModel:
    """The machine's model: one purchaser's current state name."""

    def __init__(self, state: str = NEW) -> None:
        self.state = state


class Refusal(Exception):
    """Raised by `ProgressMachine` with the reason a trigger is not allowed."""


class ProgressMachine:
    def __init__(self, steps: tuple[Step, ...]) -> None:
        self.steps = steps
        self.order = [step.id for step in steps]
        self.requires = {step.id: frozenset(step.requires) for step in steps}
        self._by_name: dict[str, frozenset[str]] = {}
        self._by_set: dict[frozenset[str], str] = {}
        for done in iter_progress_states(steps):
            name = self._name(done)
            self._by_name[name] = done
            self._by_set[done] = name
        transitions = []
        for done, name in self._by_set.items():
            for step_id in self.order:
                if step_id not in done and self.requires[step_id] <= done:
                    transitions.append(
                        {
                            "trigger": f"mark_{step_id}",
                            "source": name,
                            "dest": self._by_set[done | {step_id}],
                        }
                    )
                if step_id in done and not self.dependents_done(step_id, done):
                    transitions.append(
                        {
                            "trigger": f"undo_{step_id}",
                            "source": name,
                            "dest": self._by_set[done - {step_id}],
                        }
                    )
        self.machine = Machine(
            model=None,
            states=list(self._by_name),
            transitions=transitions,
            initial=NEW,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        # The same transitions as a table, read back from the machine's own events. Replaying
        # stored events (every board, every alert wake-up, thousands of purchasers) follows the
        # table; recording a new event goes through the machine's trigger.
        self.table: dict[tuple[str, str], str] = {
            (source, trigger): transition.dest
            for trigger, event in self.machine.events.items()
            for source, found in event.transitions.items()
            for transition in found
            if transition.dest is not None
        }

    def _name(self, done: frozenset[str]) -> str:
        if not done:
            return NEW
        if len(done) == len(self.order):
            return CLOSED
        latest = [s for s in self.order if s in done and not self.dependents_done(s, done)]
        return "+".join(latest)

    def dependents_done(self, step_id: str, done: Iterable[str]) -> list[str]:
        return [other for other in done if step_id in self.requires.get(other, ())]

    def done(self, state: str) -> frozenset[str]:
        return self._by_name[state]

    def state_for(self, done: Iterable[str]) -> str:
        return self._by_set[frozenset(done)]

    def still_to_do(self, state: str) -> list[str]:
        """The steps not done in `state`, in the deal's order."""
        done = self.done(state)
        return [step for step in self.order if step not in done]

    @property
    def states(self) -> list[str]:
        return list(self._by_name)

    def mark(self, model: MachineModel, step_id: str) -> None:
        self._fire(model, f"mark_{step_id}", step_id)

    def undo(self, model: MachineModel, step_id: str) -> None:
        self._fire(model, f"undo_{step_id}", step_id)

    def _fire(self, model: MachineModel, trigger: str, step_id: str) -> None:
        if step_id not in self.requires:
            raise Refusal(f"there is no step {step_id!r}; the steps are {', '.join(self.order)}")
        try:
            self.machine.events[trigger].trigger(model)
        except MachineError:
            raise Refusal(self.why_not(model.state, trigger, step_id)) from None

    def follow(self, state: str, kind: str, step_id: str) -> str:
        """The state after a stored `mark` or `undo` event, by the transition table."""
        dest = self.table.get((state, f"{kind}_{step_id}"))
        if dest is None:
            if step_id not in self.requires:
                raise Refusal(
                    f"there is no step {step_id!r}; the steps are {', '.join(self.order)}"
                )
            raise Refusal(self.why_not(state, f"{kind}_{step_id}", step_id))
        return dest

    def why_not(self, state: str, trigger: str, step_id: str) -> str:
        done = self.done(state)
        if trigger.startswith("mark_"):
            if step_id in done:
                return f"{step_id} is already done"
            missing = [s for s in self.order if s in self.requires[step_id] and s not in done]
            return f"{_and(missing)} {'is' if len(missing) == 1 else 'are'} not done"
        if step_id not in done:
            return f"{step_id} is not done"
        blocking = [s for s in self.order if s in self.dependents_done(step_id, done)]
        if len(blocking) == 1:
            return f"{blocking[0]} is done; undo it first"
        return f"{_and(blocking)} are done; undo them first"


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


_machines: dict[str, ProgressMachine] = {}


def machine_for(terms: DealTerms) -> ProgressMachine:
    """The machine for a deal's steps, built once per process per set of steps."""
    key = repr([(step.id, step.requires) for step in terms.steps])
    if key not in _machines:
        _machines[key] = ProgressMachine(tuple(terms.steps))
    return _machines[key]
