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
from closing.domain.documents import MAX_FILE_BYTES, media_type
from closing.domain.errors import UsageError
from closing.domain.mark_commands import BY_STEP, GENERIC
from closing.domain.marking import Correction, MarkRequest
from closing.domain.signature_page import check_page
from closing.domain.text import MAX_TEXT
from closing.domain.wire_instructions import Verification
from closing.services.database import Database
from closing.services.documents import AttachRequest, attach_file, release_pages
from closing.services.mark import correct, mark
from closing.services.proposals import answer_details
from closing.services.web_auth import acting_as
from closing.services.wires import verify_instructions
from closing.views.actions import ACCEPT, ATTACH, MARK, REJECT, RELEASE, VERIFY, WITHDRAW, Action
from closing.web.csrf import Upload

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
    upload: Upload | None = None,
) -> str:
    """Record `action` as `login` (`upload`: the file an Attach form sent); what was recorded,
    in words. A refusal raises the `ClosingError` the CLI would print (nothing written)."""
    at_text = _text(form, "at", "At", 100)
    at = None if at_text is None else parse_local(at_text, "At")
    if action.kind == ATTACH:
        return _attach(database, slug, login, action, form, now, upload)
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
        if action.kind == RELEASE:  # `closing release P --reason TEXT`
            released = release_pages(database, slug, [action.party], reason, None, HOST, now)
            words = "; ".join(
                f"{', '.join(documents)} of {party.name}" for party, documents in released.released
            )
            return f"Released {words} by {login}."
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


def _attach(
    database: Database,
    slug: str,
    login: str,
    action: Action,
    form: Mapping[str, str],
    now: datetime,
    upload: Upload | None,
) -> str:
    """`closing attach P DOCUMENT FILE`, the file uploaded: checked as a link's signature page
    is (a PDF, PNG or JPEG by its bytes, nothing active in a PDF), within the closing set's
    size limit, then kept by `attach_file` (which checks the rest, the role first)."""
    if upload is None:
        raise UsageError("File: choose the file to attach")
    kind = media_type("", upload.content[:16])  # by its bytes alone: a name can lie
    check_page(upload.name, upload.content, kind, label="File", limit=MAX_FILE_BYTES)
    request = AttachRequest(
        party=action.party,
        document=action.step,
        name=upload.name,
        content=upload.content,
        signatory=_text(form, "signatory", "Signatory"),
        hold=form.get("hold") == "1",
        host=HOST,
    )
    with acting_as(database, login):
        attached = attach_file(database, slug, request, now)
    held = " (held)" if attached.attachment.hold else ""
    return f"Attached {attached.attachment.name} as {action.step}{held} for {attached.party.name}."
