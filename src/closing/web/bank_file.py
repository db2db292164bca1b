"""A bank file uploaded in the browser (`closing wires import FILE`, then `--apply`): the upload
is read and matched first and shown as a dry run (nothing written); its `Apply` button posts the
same bytes again (in the form: any `closing serve` behind a proxy may answer it) and records the
clear matches, through `closing.services.wires.read_and_import` as the signed-in member (the money
role, on PostgreSQL the member's own role for the transaction). CSRF and Origin are checked as
for every other form of the team's pages."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from closing.domain.documents import safe_file_name
from closing.domain.errors import ClosingError, UsageError
from closing.domain.money import format_amount
from closing.domain.web_session import WebSession
from closing.services.web_auth import acting_as, passkey_refusal_for
from closing.services.wire_import import ImportResult
from closing.services.wires import read_and_import
from closing.web.pages import html_page, message_page, refusal_status

if TYPE_CHECKING:
    from closing.web.team_pages import TeamSite

MAX_BANK_FILE = 10 * 1024 * 1024  # in the browser; `closing wires import` reads larger files
MAX_FORM = MAX_BANK_FILE * 4 // 3 + 64 * 1024  # the Apply form carries the file as base64
SHOWN_ROWS = 200
_OUTCOME = {"left": "LEFT", "already imported": "seen before", "conflict": "CONFLICT"}


@dataclass(frozen=True)
class Shown:
    """An import's result as the page shows it (every value text, escaped by the template)."""

    applied: bool
    heading: str
    warning: str | None
    rows: list[tuple[str, str, str, str, str]]  # bank ref, amount, ordering customer, what, why
    more: int
    debits: list[str]
    summary: str
    name: str
    sha256: str
    content: str  # the file as base64, for the Apply form ('' once applied)


def shown_import(result: ImportResult, content: bytes) -> Shown:
    bank_file = result.file
    rows = []
    for row in result.rows[:SHOWN_ROWS]:
        if row.status == "recorded" and row.purchaser is not None:
            what = row.purchaser.name + (" (part)" if row.partial else "")
        else:
            what = _OUTCOME.get(row.status, row.status)
        amount = format_amount(row.entry.amount, row.entry.currency)
        customer = row.entry.ordering_customer or ""
        rows.append((row.entry.bank_reference, amount, customer, what, row.reason))
    verb = "confirms" if result.applied else "would confirm"
    debits = [
        f"Debit {ref} {verb} disbursement {which} ({why})"
        if which
        else f"Debit {ref}: no disbursement ({why})"
        for ref, which, why in result.disbursements
    ]
    entries = len(bank_file.entries)
    return Shown(
        result.applied,
        f"{bank_file.name}: {bank_file.format}, {entries} entries, sha256 {bank_file.sha256[:16]}",
        result.warning,
        rows,
        max(0, len(result.rows) - SHOWN_ROWS),
        debits,
        result.summary(),
        bank_file.name,
        bank_file.sha256,
        "" if result.applied else base64.b64encode(content).decode(),
    )


class BankFilePage:
    """`/d/SLUG/bank-file`: the upload form, the dry run, and Apply."""

    def __init__(self, site: TeamSite) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [Route("/d/{slug}/bank-file", self.page, methods=["GET", "POST"])]

    async def page(self, request: Request) -> Response:
        site = self.site
        if request.method == "POST":
            session, form, upload, refused = await site.sign_in.posted_upload(request, MAX_FORM)
            if refused is not None or session is None:
                return refused or _not_found()
        else:
            session, form, upload = await site.sign_in.session(request), {}, None
            if session is None:
                return RedirectResponse("/", status_code=303)
        found = await site.deal_of(request, session)
        if found is None:
            return _not_found()
        slug = found[0].slug
        if request.method == "GET":
            return _page(session, slug)
        if form.get("apply") == "1":  # recording, as an action does: the deal's passkey rule
            held_back = await anyio.to_thread.run_sync(
                passkey_refusal_for, site.database, slug, session
            )
            if held_back:
                return _page(session, slug, refusal=held_back, status=403)
        try:
            if form.get("apply") == "1":
                name, content = _resent(form)
            elif upload is None:
                raise UsageError("Bank file: choose the bank's file to upload")
            else:
                name, content = safe_file_name(upload.name), upload.content
            if len(content) > MAX_BANK_FILE:
                raise UsageError(
                    f"Bank file: over {MAX_BANK_FILE / 1_000_000:,.1f} MB; import a larger file "
                    "with closing wires import FILE"
                )
            apply = form.get("apply") == "1"

            def run() -> ImportResult:
                with acting_as(site.database, session.login):
                    return read_and_import(
                        site.database,
                        slug,
                        name,
                        apply,
                        None,
                        socket.gethostname(),
                        site.clock.now(),
                        content=content,
                    )

            result = await anyio.to_thread.run_sync(run)
        except ClosingError as error:
            return _page(session, slug, refusal=error.message, status=refusal_status(error))
        if result.applied:
            await found[0].refresh()
        return _page(session, slug, result=shown_import(result, content))


def _resent(form: dict[str, str]) -> tuple[str, bytes]:
    """The file the dry run showed, as its Apply form sends it back (its SHA-256 checked)."""
    try:
        content = base64.b64decode(form.get("content", ""), validate=True)
    except (binascii.Error, ValueError):
        raise UsageError("Bank file: the dry run's form is damaged; upload it again") from None
    digest = hashlib.sha256(content).hexdigest()
    if not hmac.compare_digest(digest, form.get("sha256", "")):
        raise UsageError("Bank file: the file is not the one the dry run showed; upload it again")
    return safe_file_name(form.get("name", "")), content


def _page(
    session: WebSession,
    slug: str,
    result: Shown | None = None,
    refusal: str = "",
    status: int = 200,
) -> Response:
    return html_page(
        "team_bank_file.html", status, member=session, deal=slug, result=result, refusal=refusal
    )


def _not_found() -> Response:
    return message_page("Not found", "There is no such page, or it is not yours to see.", 404)
