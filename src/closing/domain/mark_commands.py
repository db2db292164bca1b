"""The table of `closing mark-*` commands: one row per seed step, read by the CLI (which builds a
command from each row), by the alert texts (which tell people what to type) and by the demo."""

from __future__ import annotations

from dataclasses import dataclass

# How a paper of the closing set came (`attach --form`, a document's `form:` in the deal file):
# here, beside the marks' evidence, so that `closing --help` lists `attach` without the terms.
FORMS = ("original", "fax", "pdf", "original-scan", "esign")


@dataclass(frozen=True)
class MarkCommand:
    name: str  # the command, e.g. "mark-wired"
    step: str | None  # the step it marks; None for `mark`, which takes the step as an argument
    help: str
    evidence_option: str  # e.g. "--reference"
    evidence_kind: str  # what the evidence is called in the event log, e.g. "reference"
    evidence_help: str
    takes_amount: bool = False


GENERIC = MarkCommand(
    "mark",
    None,
    "Mark any step of the deal as done for PURCHASER.",
    "--evidence",
    "evidence",
    "Evidence (a reference, a confirmation).",
    takes_amount=True,
)

MARK_COMMANDS: tuple[MarkCommand, ...] = (
    MarkCommand(
        "mark-signed",
        "signed",
        "The purchaser signed (a faxed page counts).",
        "--evidence",
        "evidence",
        "Where the signature page is.",
    ),
    MarkCommand(
        "mark-wired",
        "wired",
        "The purchase price was received.",
        "--reference",
        "reference",
        "The Fed reference of the wire.",
        takes_amount=True,
    ),
    MarkCommand(
        "mark-faxed",
        "warrant_faxed",
        "The warrant was faxed to the purchaser.",
        "--confirmation",
        "confirmation",
        "The fax confirmation.",
    ),
    MarkCommand(
        "mark-delivered",
        "warrant_delivered",
        "The original warrant was delivered.",
        "--tracking",
        "tracking",
        "The courier's tracking number.",
    ),
    MarkCommand(
        "mark-dwac",
        "dwac_credited",
        "The shares were credited through DWAC.",
        "--confirmation",
        "confirmation",
        "The DTC confirmation.",
    ),
)

BY_STEP: dict[str, MarkCommand] = {c.step: c for c in MARK_COMMANDS if c.step is not None}


def evidence_kind(step_id: str) -> str:
    """What a step's evidence is called (`reference` for a wire, `tracking` for a courier)."""
    command = BY_STEP.get(step_id)
    return command.evidence_kind if command else GENERIC.evidence_kind


def mark_command_line(deal_slug: str, purchaser_slug: str, step_id: str) -> str:
    """The exact command that records `step_id` for a purchaser."""
    command = BY_STEP.get(step_id)
    target = f"{command.name} {purchaser_slug}" if command else f"mark {purchaser_slug} {step_id}"
    return f"closing {target} --deal {deal_slug}"
