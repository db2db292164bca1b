"""Recording what a signed-in member asks for in the browser, through the same services as the
CLI (`closing.services.mark`, `closing.services.wires`, `closing.services.proposals`): the same
decisions, the same one-line
refusals, and the member as the actor (`Database.acting_as`: on PostgreSQL the transaction runs
as the member's role, so the database's own checks hold)."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from datetime import datetime

from closing.domain.clock import parse_local
from closing.domain.errors import UsageError
from closing.domain.mark_commands import BY_STEP, GENERIC
from closing.domain.marking import Correction, MarkRequest
from closing.domain.text import MAX_TEXT
from closing.domain.wire_instructions import Verification
from closing.services.database import Database
from closing.services.mark import correct, mark
from closing.services.proposals import answer_details
from closing.services.web_auth import acting_as
from closing.services.wires import verify_instructions
from closing.views.actions import ACCEPT, MARK, REJECT, VERIFY, WITHDRAW, Action

HOST = socket.gethostname()


def _text(form: Mapping[str, str], name: str, label: str, limit: int = MAX_TEXT) -> str | None:
    """A field as the CLI checks its options: one line, at most `limit` characters; empty is
    None."""
    value = form.get(name, "").strip()
    if not value:
        return None
    if len(value) > limit or any(ch in value for ch in "\r\n\x00"):
        raise UsageError(f"{label} must be one line of at most {limit} characters")
    return value


def perform(
    database: Database,
    slug: str,
    login: str,
    action: Action,
    form: Mapping[str, str],
    now: datetime,
) -> str:
    """Record `action` as `login`; what was recorded, in words. A refusal raises the
    `ClosingError` the CLI would print (nothing written)."""
    at_text = _text(form, "at", "At", 100)
    at = None if at_text is None else parse_local(at_text, "At")
    with acting_as(database, login):
        if action.kind == MARK:
            spec = BY_STEP.get(action.step, GENERIC)
            request = MarkRequest(
                purchaser=action.party,
                step=action.step,
                at=at,
                host=HOST,
                evidence_kind=spec.evidence_kind,
                evidence=_text(form, "evidence", "Evidence"),
                amount=_text(form, "amount", "Amount", 100),
                partial=form.get("partial") == "1",
            )
            recorded = mark(database, slug, request, now)
            return f"Marked {recorded.event.step} for {recorded.purchaser.name} by {login}."
        if action.kind == VERIFY:
            verification = Verification(
                callback_number=_text(form, "callback_number", "Callback number", 200) or "",
                spoke_with=_text(form, "spoke_with", "Spoke with") or "",
                actor=login,
                host=HOST,
            )
            verify_instructions(database, slug, verification, now)
            return f"Wire instructions verified by {login}."
        reason = _text(form, "reason", "Reason")
        if action.kind in (ACCEPT, REJECT):  # `closing details accept|reject P`
            accept = action.kind == ACCEPT
            answered = answer_details(
                database, slug, action.party, [], accept, now, reason=reason, host=HOST
            )
            verb = "Accepted" if accept else "Rejected"
            return f"{verb} the proposed details for {answered.party.name} by {login}."
        if reason is None:
            raise UsageError("give a Reason: it is kept with the event")
        correction = Correction(
            kind=action.kind,
            purchaser=action.party,
            step="" if action.kind == WITHDRAW else action.step,
            reason=reason,
            host=HOST,
            at=at,
        )
        recorded = correct(database, slug, correction, now)
        what = recorded.event.step or recorded.purchaser.name
        return f"Recorded {action.kind} of {what} for {recorded.purchaser.name} by {login}."
