"""Signing in to the web board: the session cookie (the session's random token, signed with
the database's cookie key: `HttpOnly`, `SameSite=Strict`, `Secure` over HTTPS, including behind
a TLS proxy with `--proxy-headers`), the one-time link's pages and signing out. What a session
is and how long it holds is `closing.services.web_auth`'s; every session lives in the
database, so any `closing serve` on it knows it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from closing.domain.web_session import ABSOLUTE, WebSession
from closing.services import web_auth
from closing.services.database import Database
from closing.web.csrf import (
    FIELD,
    TooLarge,
    Upload,
    forbidden,
    form_fields,
    same_origin,
    token_matches,
    upload_fields,
)
from closing.web.pages import html_page, message_page

COOKIE = "closing_session"

LINK_GONE = (
    "This sign-in link has been used or has expired (a link works once, within 15 minutes). "
    "Ask an admin of your deal for a new one: closing team invite LOGIN."
)


class SignIn:
    """The session cookie and the sign-in routes of one server."""

    def __init__(
        self, database: Database, now: Callable[[], datetime], key: str, public_url: str
    ) -> None:
        self.database = database
        self.now = now
        self._key = key.encode()
        # Where the links this server mails point: configured (`closing serve --url`), never
        # taken from a request, whose Host header anyone outside a browser chooses.
        self.public_url = public_url

    # --- the cookie

    def _signature(self, token: str) -> str:
        digest = hmac.new(self._key, token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def _token(self, request: Request) -> str | None:
        value = request.cookies.get(COOKIE, "")
        token, _, signature = value.rpartition(".")
        expected = self._signature(token).encode()
        if not token or not hmac.compare_digest(signature.encode(), expected):
            return None
        return token

    def set_cookie(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(
            COOKIE,
            f"{token}.{self._signature(token)}",
            max_age=int(ABSOLUTE.total_seconds()),
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    async def session(self, request: Request) -> WebSession | None:
        """The signed-in member's live session, or None."""
        token = self._token(request)
        if token is None:
            return None
        return await anyio.to_thread.run_sync(web_auth.session_of, self.database, token, self.now())

    async def posted(
        self, request: Request
    ) -> tuple[WebSession | None, dict[str, str], Response | None]:
        """A POST's session and form, or the 403 it gets (a foreign origin, no session, or not
        the session's CSRF token): nothing is written then."""
        if not same_origin(request):
            return None, {}, forbidden()
        session = await self.session(request)
        form = await form_fields(request)
        if session is None or form is None or not token_matches(form.get(FIELD), session.csrf):
            return None, {}, forbidden()
        return session, form, None

    async def posted_upload(
        self, request: Request, limit: int
    ) -> tuple[WebSession | None, dict[str, str], Upload | None, Response | None]:
        """As `posted`, for a form with a file (`multipart/form-data`, at most `limit` bytes in
        all: 413 over it); a urlencoded form is read as `posted` reads it."""
        if not same_origin(request):
            return None, {}, None, forbidden()
        session = await self.session(request)
        if session is None:
            return None, {}, None, forbidden()
        upload = None
        try:
            found = await upload_fields(request, limit)
        except TooLarge:
            megabytes = f"{limit / 1_000_000:,.0f} MB"
            text = f"What was sent is over {megabytes}, the most a form may send; nothing recorded."
            return None, {}, None, message_page("Too large", text, 413, alert=True)
        if found is None:
            form = await form_fields(request)
        else:
            form, upload = found
        if form is None or not token_matches(form.get(FIELD), session.csrf):
            return None, {}, None, forbidden()
        return session, form, upload, None

    # --- the routes

    async def link_page(self, request: Request) -> Response:
        """GET /signin/TOKEN: says whom the link signs in, with a button (a mail scanner that
        fetches the link does not use it up)."""
        token = request.path_params["token"]
        link = await anyio.to_thread.run_sync(web_auth.link_for, self.database, token, self.now())
        if link is None:
            return message_page("Sign-in link not valid", LINK_GONE, 410, alert=True)
        return html_page("team_signin.html", login=link.login, token=token)

    async def sign_in(self, request: Request) -> Response:
        """POST /signin: the link used up, a new session, its cookie."""
        if not same_origin(request):
            return forbidden()
        form = await form_fields(request) or {}
        token = form.get("token")
        if not isinstance(token, str) or len(token) > 100:
            return message_page("Sign-in link not valid", LINK_GONE, 410, alert=True)
        made = await anyio.to_thread.run_sync(
            web_auth.sign_in_with_link, self.database, token, self.now()
        )
        if made is None:
            return message_page("Sign-in link not valid", LINK_GONE, 410, alert=True)
        response = RedirectResponse("/", status_code=303)
        self.set_cookie(request, response, made[0])
        return response

    async def email_link(self, request: Request) -> Response:
        """POST /signin/email: a new link mailed to a member's address; the same page whether
        or not the address is a member's (and whether or not the rate limit held it back)."""
        if not same_origin(request):
            return forbidden()
        form = await form_fields(request) or {}
        address = form.get("email", "").strip()
        if 0 < len(address) <= 200:
            await anyio.to_thread.run_sync(
                web_auth.link_by_email, self.database, address, self.public_url, self.now()
            )
        return message_page(
            "Check your e-mail",
            "If that address belongs to a member of a deal's team, a sign-in link is on its way "
            "(it works once, for 15 minutes; one link every 5 minutes at most).",
        )

    async def sign_out(self, request: Request) -> Response:
        session, _, refused = await self.posted(request)
        if refused is not None or session is None:
            return refused or forbidden()
        await anyio.to_thread.run_sync(web_auth.sign_out, self.database, session, self.now())
        response = message_page("Signed out", "You are signed out of the closing board.")
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    def routes(self) -> list[Route]:
        return [
            Route("/signin/{token}", self.link_page),
            Route("/signin", self.sign_in, methods=["POST"]),
            Route("/signin/email", self.email_link, methods=["POST"]),
            Route("/signout", self.sign_out, methods=["POST"]),
        ]
