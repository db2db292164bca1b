"""The per-purchaser state machine built from the seed deal's steps."""

from __future__ import annotations

import pytest

from closing.deal import load_deal_file
from closing.machine import CLOSED, NEW, Progress, ProgressMachine, Refusal, machine_for
from tests.helpers import SEED


@pytest.fixture(scope="module")
def machine() -> ProgressMachine:
    return machine_for(load_deal_file(SEED).terms)


def progress_after(machine: ProgressMachine, *steps: str) -> Progress:
    progress = Progress()
    for step in steps:
        machine.mark(progress, step)
    return progress


def test_the_states_are_the_orders_the_agreement_allows(machine: ProgressMachine) -> None:
    """Faxing the warrant and the DWAC credit can happen in either order after the wire."""
    assert machine.states == [
        NEW,
        "signed",
        "wired",
        "warrant_faxed",
        "dwac_credited",
        "warrant_delivered",
        "warrant_faxed+dwac_credited",
        CLOSED,
    ]


def test_the_whole_closing_in_the_agreement_order_ends_closed(machine: ProgressMachine) -> None:
    """signed, wired, faxed, delivered, DWAC: each mark moves the purchaser on."""
    progress = Progress()
    seen = []
    for step in ["signed", "wired", "warrant_faxed", "warrant_delivered", "dwac_credited"]:
        machine.mark(progress, step)
        seen.append(progress.state)
    assert seen == ["signed", "wired", "warrant_faxed", "warrant_delivered", CLOSED]


def test_dwac_before_the_fax_reaches_the_same_state(machine: ProgressMachine) -> None:
    """The order of independent steps does not matter."""
    one = progress_after(machine, "signed", "wired", "warrant_faxed", "dwac_credited")
    two = progress_after(machine, "signed", "wired", "dwac_credited", "warrant_faxed")
    assert one.state == two.state == "warrant_faxed+dwac_credited"


@pytest.mark.parametrize(
    ("done", "step", "reason"),
    [
        ((), "wired", "signed is not done"),
        (("signed",), "warrant_faxed", "wired is not done"),
        (("signed",), "dwac_credited", "wired is not done"),
        (("signed", "wired"), "warrant_delivered", "warrant_faxed is not done"),
        ((), "warrant_delivered", "warrant_faxed is not done"),
        (("signed",), "signed", "signed is already done"),
    ],
)
def test_every_out_of_order_mark_is_refused_with_what_is_missing(
    machine: ProgressMachine, done: tuple[str, ...], step: str, reason: str
) -> None:
    """A refused trigger raises with the missing prerequisite and leaves the state alone."""
    progress = progress_after(machine, *done)
    before = progress.state
    with pytest.raises(Refusal) as refused:
        machine.mark(progress, step)
    assert str(refused.value) == reason
    assert progress.state == before


def test_every_allowed_mark_from_every_state(machine: ProgressMachine) -> None:
    """From each state exactly the steps whose prerequisites are done can be marked."""
    requires = {s.id: set(s.requires) for s in machine.steps}
    for state in machine.states:
        done = machine.done(state)
        for step in machine.order:
            progress = Progress(state)
            allowed = step not in done and requires[step] <= done
            if allowed:
                machine.mark(progress, step)
                assert machine.done(progress.state) == done | {step}
            else:
                with pytest.raises(Refusal):
                    machine.mark(progress, step)
                assert progress.state == state


def test_undo_takes_back_the_latest_step_only(machine: ProgressMachine) -> None:
    """Undoing a step that later steps stand on is refused; undoing the latest works."""
    progress = progress_after(machine, "signed", "wired", "warrant_faxed")
    with pytest.raises(Refusal, match=r"^warrant_faxed is done; undo it first$"):
        machine.undo(progress, "wired")
    machine.undo(progress, "warrant_faxed")
    assert progress.state == "wired"
    with pytest.raises(Refusal, match=r"^dwac_credited is not done$"):
        machine.undo(progress, "dwac_credited")


def test_unknown_steps_are_refused_with_the_step_list(machine: ProgressMachine) -> None:
    """A step the deal does not have is named, with the ones it has."""
    with pytest.raises(Refusal, match="there is no step 'funded'; the steps are signed, wired"):
        machine.mark(Progress(), "funded")


def test_no_shortcut_bypasses_the_guards(machine: ProgressMachine) -> None:
    """auto_transitions is off: there is no to_closed() or to_<state> trigger."""
    assert not any(name.startswith("to_") for name in machine.machine.events)


def test_the_machine_is_built_once_per_set_of_steps() -> None:
    """Loading the same deal twice reuses the machine."""
    terms = load_deal_file(SEED).terms
    assert machine_for(terms) is machine_for(load_deal_file(SEED).terms)


def test_replaying_by_the_table_agrees_with_the_machine(machine: ProgressMachine) -> None:
    """Every mark and undo from every state lands where the machine's own trigger lands."""
    for state in machine.states:
        for step in machine.order:
            for kind in ("mark", "undo"):
                progress = Progress(state)
                try:
                    getattr(machine, kind)(progress, step)
                    expected: str | None = progress.state
                except Refusal:
                    expected = None
                try:
                    followed: str | None = machine.follow(state, kind, step)
                except Refusal:
                    followed = None
                assert followed == expected, (state, kind, step)
