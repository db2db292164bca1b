"""Delivery versus payment: a step `held_until` the payment (the seed's warrant, original and
DWAC credit) is `held` while the payment is not in, or after it was reversed: no alert chases it,
and marking it needs `--out-of-order`. A reversal of the payment after delivery opens a
remediation item for each held step already done (`remedy`: "warrant cancellation", "DWAC
withdrawal"), which stays until it is done (`closing reverse P STEP`: the delivery came undone in
the world) or waived (`closing waive P STEP`: it stays delivered, on purpose); a withdrawn
purchaser with one open keeps the deal from closing.

Pure: from the deal's steps and where a party stands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from closing.domain.events import Standing
from closing.domain.machine import DONE, WAIVED
from closing.domain.terms import StoredStep

HELD = "held"
# The seed's steps, for a deal file that holds them without naming the remedy.
DEFAULT_REMEDIES = {
    "warrant_faxed": "warrant cancellation",
    "warrant_delivered": "warrant cancellation",
    "dwac_credited": "DWAC withdrawal",
}


def is_held(step: StoredStep, states: Mapping[str, str]) -> bool:
    """Held until a step (the payment) that is neither done nor waived."""
    until = step.held_until
    return until is not None and states.get(until) not in (DONE, WAIVED)


def remedy_of(step: StoredStep) -> str:
    return step.remedy or DEFAULT_REMEDIES.get(step.id) or f"{step.title} undone"


def to_remediate(step: StoredStep, standing: Standing) -> bool:
    """Done (delivered) while the payment it was held for was reversed, and not waived."""
    until = step.held_until
    return (
        until is not None
        and step.id in standing.done
        and until in standing.reversed
        and step.id not in standing.remedies_waived
    )


def remediation(steps: Sequence[StoredStep], standing: Standing) -> tuple[str, ...]:
    """The open remediation items of a party, each once, in the deal's order."""
    if not standing.reversed:
        return ()
    return tuple(dict.fromkeys(remedy_of(s) for s in steps if to_remediate(s, standing)))
