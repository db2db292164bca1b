"""The `closing mark-*` command for each of the seed deal's steps, shared by the CLI and the alert
texts that tell people what to type."""

from __future__ import annotations

MARK_COMMANDS: dict[str, str] = {
    "signed": "mark-signed",
    "wired": "mark-wired",
    "warrant_faxed": "mark-faxed",
    "warrant_delivered": "mark-delivered",
    "dwac_credited": "mark-dwac",
}


def mark_command(deal_slug: str, purchaser_slug: str, step_id: str) -> str:
    """The exact command that records `step_id` for a purchaser."""
    name = MARK_COMMANDS.get(step_id)
    target = f"{name} {purchaser_slug}" if name else f"mark {purchaser_slug} {step_id}"
    return f"closing {target} --deal {deal_slug}"
