"""The progress machine: each step pending, done or waived; marks in the order `requires`
gives; corrections that never leave a step standing on nothing; a state space that grows with
the steps, not with their subsets."""

from __future__ import annotations

import pytest

from closing.domain.dealfile.load import load_deal_file
from closing.domain.dealfile.schema import Step
from closing.domain.machine import (
    CLOSED,
    DONE,
    MARK,
    NEW,
    PENDING,
    REVERSE,
    TABLE,
    UNDO,
    WAIVE,
    WAIVED,
    ProgressMachine,
    Refusal,
    machine_for,
)
from tests.helpers import SEED

TERMS = load_deal_file(SEED).terms
MACHINE = machine_for(TERMS)
COMPANY = {"prospectus_delivered": DONE}


def fire(states: dict[str, str], trigger: str, step: str) -> dict[str, str]:
    """`states` after `trigger` (with the company's states, as a purchaser's mark sees them)."""
    after = MACHINE.fire({**COMPANY, **states}, trigger, step)
    result = {**states, step: after}
    return {k: v for k, v in result.items() if v != PENDING}


def refusal(states: dict[str, str], trigger: str, step: str) -> str:
    with pytest.raises(Refusal) as caught:
        MACHINE.fire({**COMPANY, **states}, trigger, step)
    return str(caught.value)


def test_each_step_is_its_own_three_state_machine() -> None:
    """The transitions library's machine: mark, undo, reverse and waive between pending, done
    and waived, and nothing else (no `to_*` shortcuts)."""
    assert TABLE == {
        (PENDING, MARK): DONE,
        (DONE, UNDO): PENDING,
        (WAIVED, UNDO): PENDING,
        (DONE, REVERSE): PENDING,
        (PENDING, WAIVE): WAIVED,
    }


def test_the_seed_closes_in_the_agreements_order() -> None:
    """Signed, wired, then the fax and DWAC in either order, then the original: closed."""
    states: dict[str, str] = {}
    assert MACHINE.state_name(states) == NEW
    for step in ["signed", "wired", "dwac_credited", "warrant_faxed"]:
        states = fire(states, MARK, step)
    assert MACHINE.state_name(states) == "warrant_faxed+dwac_credited"
    states = fire(states, MARK, "warrant_delivered")
    assert MACHINE.state_name(states) == CLOSED
    assert MACHINE.still_to_do(states) == []


def test_a_step_needs_what_it_requires_done_or_waived() -> None:
    """The fax needs the wire; the wire needs the signature and the company's prospectus."""
    assert refusal({}, MARK, "warrant_faxed") == "wired is not done"
    assert refusal({"signed": DONE}, MARK, "warrant_delivered") == "warrant_faxed is not done"
    with pytest.raises(Refusal, match="prospectus_delivered is not done"):
        MACHINE.fire({"signed": DONE}, MARK, "wired")
    waived = fire({"signed": DONE}, WAIVE, "wired")
    assert fire(waived, MARK, "warrant_faxed")["warrant_faxed"] == DONE


def test_marking_or_waiving_twice_is_refused() -> None:
    """A done step cannot be marked or waived again; a waived one cannot be marked."""
    signed = {"signed": DONE}
    assert refusal(signed, MARK, "signed") == "signed is already done"
    assert refusal(signed, WAIVE, "signed") == "signed is already done"
    assert refusal({"signed": WAIVED}, MARK, "signed") == "signed is already waived"


def test_an_undo_is_refused_while_a_step_stands_on_it() -> None:
    """A correction of the wire must first correct what was done on top of it."""
    states = {"signed": DONE, "wired": DONE, "warrant_faxed": DONE, "dwac_credited": DONE}
    assert refusal(states, UNDO, "wired") == (
        "warrant_faxed and dwac_credited are done; undo them first"
    )
    assert (
        refusal({"signed": DONE, "wired": DONE}, UNDO, "signed") == "wired is done; undo it first"
    )
    assert refusal({}, UNDO, "signed") == "signed is not done"


def test_a_reversal_leaves_what_stands_on_it_done() -> None:
    """A wire returned after the fax and the DWAC credit: the wire is open again, the rest
    stays done (the board flags it for attention)."""
    states = {"signed": DONE, "wired": DONE, "warrant_faxed": DONE, "dwac_credited": DONE}
    after = fire(states, REVERSE, "wired")
    assert after == {"signed": DONE, "warrant_faxed": DONE, "dwac_credited": DONE}
    assert refusal({}, REVERSE, "wired") == "wired is not done"
    assert refusal({"signed": WAIVED}, REVERSE, "signed") == "signed is waived"


def test_undo_reopens_a_waived_step() -> None:
    """A waiver recorded by mistake is corrected like a mark."""
    assert fire({"signed": WAIVED}, UNDO, "signed") == {}


def test_unknown_steps_are_named() -> None:
    assert refusal({}, MARK, "funded") == (
        "there is no step 'funded'; the steps are signed, wired, warrant_faxed, "
        "warrant_delivered, dwac_credited"
    )


def test_replay_follows_the_same_table_as_the_machine() -> None:
    """A stored event replays to the state the machine gave when it was recorded."""
    states: dict[str, str] = {"prospectus_delivered": DONE}
    for trigger, step in [(MARK, "signed"), (MARK, "wired"), (REVERSE, "wired"), (MARK, "wired")]:
        expected = MACHINE.fire(states, trigger, step)
        assert MACHINE.follow(states, trigger, step) == expected
        states[step] = expected


def test_sixty_independent_steps_make_a_machine_of_sixty_steps() -> None:
    """No combinations are enumerated: 60 steps, any mix of chained and independent, build at
    once and close in any order `requires` allows."""
    steps = [
        Step(id=f"s{n:02d}", title=f"Step {n}", requires=[f"s{n - 1:02d}"] if n % 3 == 0 else [])
        for n in range(1, 61)
    ]
    machine = ProgressMachine(steps)
    states: dict[str, str] = {}
    for step in reversed(steps):  # independent ones first, then each chain in order
        if machine.ready(states, step.id):
            states[step.id] = machine.fire(states, MARK, step.id)
    for step in steps:
        if machine.ready(states, step.id):
            states[step.id] = machine.fire(states, MARK, step.id)
    assert machine.state_name(states) == CLOSED


def test_the_table_is_the_transitions_machine_s_own() -> None:
    """Every (state, trigger) the table allows, and only those, is a transition of the
    `transitions` machine, to the same state."""
    from transitions import MachineError

    from closing.domain.machine import _STEP_MACHINE, PENDING, TABLE, WAIVE

    class Model:
        def __init__(self, state: str) -> None:
            self.state = state

    for state in (PENDING, DONE, WAIVED):
        for trigger in (MARK, UNDO, REVERSE, WAIVE):
            model = Model(state)
            try:
                _STEP_MACHINE.events[trigger].trigger(model)
            except MachineError:
                assert (state, trigger) not in TABLE
            else:
                assert TABLE[state, trigger] == model.state
