"""The forms on a purchaser's own link (`closing serve`): its details, its signature page, its wire
report. Each is a POST to the link's own path, and is written only when

- the link is active, is a purchaser's, and may act (`closing share P` without `--read-only`);
- the request comes from the board's own origin (`Origin`, else `Referer`: a foreign or missing
  one is refused, 403);
- it carries the form token bound to the link (an HMAC of the link's id and token hash under a
  key made when the server starts: a page from before a restart asks to reload);
- its body is within `MAX_BODY` (413), and the link has not used its hour's submissions (429).

A refusal re-draws the page with one line in `role="alert"`; nothing is written. A submission is
recorded by the services (`closing.services.proposals`) in the link's name, never its token; a
success redirects (303) to the page, which says what was sent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import anyio.to_thread
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from closing.domain.clock import parse_local, resolve_local
from closing.domain.detail_rules import DETAIL_RULES
from closing.domain.errors import ClosingError, NotFoundError, RateLimited, UsageError
from closing.domain.share_link import ShareRecord, match
from closing.domain.signature_page import LINK_MAX_BYTES
from closing.services.proposals import propose_details, report_wire, upload_page
from closing.web.live import LiveBoard, Snapshot

MAX_BODY = LINK_MAX_BYTES + 64 * 1024  # the page, and the form's other fields
MAX_FIELD = 2000  # characters of one text field (the checks allow far fewer)

# What the page says after a submission (the query's `sent`, one of these; nothing else shown).
SENT = {
    "details": "Your details were sent; the deal team will accept them (they show as proposed "
    "until then).",
    "page": "Your signature page was received and is held in escrow until the closing.",
    "wire": "Your wire report was sent; the wire counts as received when the company's bank "
    "confirms it.",
}


@dataclass(frozen=True)
class Forms:
    """What the page's forms need: where they post, and the link's form token."""

    details_url: str
    page_url: str
    wire_url: str
    csrf: str
    fields: tuple[tuple[str, str], ...]  # (field, label) of the details form


# The page for a link, with what the forms add: (request, token, snapshot, share, extra, status).
Render = Callable[[Request, str, Snapshot, ShareRecord, dict[str, Any], int], Response]


class LinkForms:
    def __init__(
        self,
        live: LiveBoard,
        render: Render,
        board_of: Callable[[str], Awaitable[LiveBoard]] | None = None,
    ) -> None:
        self.live = live
        self.render = render
        # The board of the deal a link's token is of (one server serves every deal's links).
        self.board_of = board_of
        self.key = secrets.token_bytes(32)  # a page from before a restart must be reloaded

    def csrf(self, share: ShareRecord) -> str:
        message = f"{share.id}:{share.token_sha256}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def forms(self, token: str, share: ShareRecord) -> Forms | None:
        """The forms a link's page shows: none for the team's or a read-only link."""
        if share.team or not share.can_act:
            return None
        return Forms(
            f"/b/{token}/details",
            f"/b/{token}/signature-page",
            f"/b/{token}/wire",
            self.csrf(share),
            tuple((field, label) for field, (label, _) in DETAIL_RULES.items()),
        )

    def extra(self, request: Request, token: str, share: ShareRecord) -> dict[str, Any]:
        """The page's template values for the forms (and what was just sent, if anything)."""
        sent = request.query_params.get("sent", "")
        return {"forms": self.forms(token, share), "notice": SENT.get(sent), "refusal": None}

    def routes(self) -> list[Route]:
        return [
            Route("/b/{token}/details", self._handler(self._details), methods=["POST"]),
            Route("/b/{token}/signature-page", self._handler(self._page), methods=["POST"]),
            Route("/b/{token}/wire", self._handler(self._wire), methods=["POST"]),
        ]

    # --- one submission ----------------------------------------------------------------------

    def _handler(
        self, act: Callable[[ShareRecord, Any, datetime, ZoneInfo], Awaitable[str]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            token = request.path_params["token"]
            board = await self.board_of(token) if self.board_of else self.live
            snapshot = await board.refresh()
            share = match(token, snapshot.shares)
            if share is None:
                from closing.web.app import not_found

                return not_found()

            def refuse(line: str, status: int) -> Response:
                extra = {"forms": self.forms(token, share), "notice": None, "refusal": line}
                return self.render(request, token, snapshot, share, extra, status)

            if share.team or not share.can_act:
                return refuse("This link is read-only: it cannot send anything.", 403)
            if not _same_origin(request):
                return refuse("Refused: the form was not sent from this page.", 403)
            length = request.headers.get("content-length")
            if length is None or not length.isdigit():
                return refuse("Refused: the form was sent without its length.", 411)
            if int(length) > MAX_BODY:
                return refuse(
                    f"Refused: what was sent is over {LINK_MAX_BYTES / 1_000_000:,.1f} MB.", 413
                )
            try:
                form = await request.form(max_files=1, max_fields=20, max_part_size=MAX_BODY)
            except Exception:  # a malformed body: starlette's parser says why in its own words
                return refuse("Refused: the form could not be read; reload the page.", 400)
            try:
                given = str(form.get("csrf") or "")
                if not hmac.compare_digest(given.encode(), self.csrf(share).encode()):
                    return refuse("Refused: the form has expired; reload the page.", 403)
                zone = ZoneInfo(str(snapshot.document["deal"]["cutoff"]["time_zone"]))
                sent = await act(share, form, board.clock.now(), zone)
            except RateLimited as limited:
                return refuse(limited.message, 429)
            except NotFoundError:
                from closing.web.app import not_found

                return not_found()
            except UsageError as problem:
                return refuse(problem.message, 400)
            except ClosingError as refused:
                return refuse(refused.message, 403)
            finally:
                await form.close()
            return RedirectResponse(f"/b/{token}?sent={sent}", status_code=303)

        return handle

    def _database(self) -> Any:
        return self.live.feed.database

    async def _details(self, share: ShareRecord, form: Any, now: datetime, _: ZoneInfo) -> str:
        given = {field: _text(form, field) for field in DETAIL_RULES if _text(form, field)}
        await anyio.to_thread.run_sync(propose_details, self._database(), share.id, given, now)
        return "details"

    async def _page(self, share: ShareRecord, form: Any, now: datetime, _: ZoneInfo) -> str:
        upload = form.get("page")
        if not isinstance(upload, UploadFile):
            raise UsageError("Signature page: choose the file to upload")
        content = await upload.read(LINK_MAX_BYTES + 1)
        name = upload.filename or ""
        await anyio.to_thread.run_sync(upload_page, self._database(), share.id, name, content, now)
        return "page"

    async def _wire(self, share: ShareRecord, form: Any, now: datetime, zone: ZoneInfo) -> str:
        sent_at = resolve_local(parse_local(_text(form, "sent_at"), "Sent at"), zone, now)

        def report() -> object:
            return report_wire(
                self._database(),
                share.id,
                _text(form, "amount"),
                _text(form, "bank"),
                _text(form, "imad"),
                sent_at,
                now,
            )

        await anyio.to_thread.run_sync(report)
        return "wire"


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UsageError(f"{name}: expected text, not a file")
    if len(value) > MAX_FIELD:
        raise UsageError(f"{DETAIL_RULES.get(name, (name,))[0]}: at most {MAX_FIELD} characters")
    return value


def _same_origin(request: Request) -> bool:
    """The request comes from a page of this server: its Origin (or, without one, its Referer's
    origin) is the server's own, as the browser addressed it."""
    host = request.headers.get("host", "")
    own = f"{request.url.scheme}://{host}"
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return bool(host) and hmac.compare_digest(origin.encode(), own.encode())
