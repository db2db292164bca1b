"""The passkey routes (JSON, POST only, from this server's own origin): a signed-in member
registers a passkey (with the session's CSRF token in `X-CSRF-Token`); anyone signs in with
one. The ceremonies themselves are `closing.services.passkeys`'; the browser's side is
`static/passkeys.js`."""

from __future__ import annotations

from urllib.parse import urlsplit

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from closing.domain.errors import ClosingError, RateLimited
from closing.domain.web_session import WebSession
from closing.services import passkeys
from closing.web.auth import SignIn
from closing.web.csrf import MAX_FORM, own_origin, same_origin, token_matches


def _refused(message: str, status_code: int = 403) -> Response:
    return JSONResponse({"error": message}, status_code=status_code)


def _rp_id(request: Request) -> str:
    """The relying party: the host the browser opened, without its port."""
    return urlsplit(own_origin(request)).hostname or ""


async def _body(request: Request) -> bytes | None:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    return body


class Passkeys:
    def __init__(self, sign_in: SignIn) -> None:
        self.sign_in = sign_in
        self.database = sign_in.database

    async def _member(self, request: Request) -> WebSession | None:
        if not same_origin(request):
            return None
        session = await self.sign_in.session(request)
        if session is None or not token_matches(request.headers.get("x-csrf-token"), session.csrf):
            return None
        return session

    async def register_options(self, request: Request) -> Response:
        session = await self._member(request)
        if session is None:
            return _refused("sign in first (from this board's own page)")
        try:
            options = await anyio.to_thread.run_sync(
                passkeys.registration_options,
                self.database,
                session,
                _rp_id(request),
                self.sign_in.now(),
            )
        except RateLimited as limited:
            return _refused(limited.message, 429)
        return Response(options, media_type="application/json")

    async def register(self, request: Request) -> Response:
        session = await self._member(request)
        body = await _body(request)
        if session is None or body is None:
            return _refused("sign in first (from this board's own page)")
        try:
            credential = passkeys.parse_credential(body)
            await anyio.to_thread.run_sync(
                passkeys.register,
                self.database,
                session,
                credential,
                _rp_id(request),
                own_origin(request),
                self.sign_in.now(),
            )
        except ClosingError as error:
            return _refused(error.message, 400)
        return JSONResponse({"message": "Passkey registered: sign in with it from now on."})

    async def signin_options(self, request: Request) -> Response:
        if not same_origin(request):
            return _refused("not from this board's own page")
        try:
            options = await anyio.to_thread.run_sync(
                passkeys.signin_options, self.database, _rp_id(request), self.sign_in.now()
            )
        except RateLimited as limited:
            return _refused(limited.message, 429)
        return Response(options, media_type="application/json")

    async def sign_in_with(self, request: Request) -> Response:
        body = await _body(request)
        if not same_origin(request) or body is None:
            return _refused("not from this board's own page")
        try:
            credential = passkeys.parse_credential(body)
            token, _ = await anyio.to_thread.run_sync(
                passkeys.sign_in_with_passkey,
                self.database,
                credential,
                _rp_id(request),
                own_origin(request),
                self.sign_in.now(),
            )
        except ClosingError as error:
            return _refused(error.message)
        response = JSONResponse({"next": "/"})
        self.sign_in.set_cookie(request, response, token)
        return response

    def routes(self) -> list[Route]:
        return [
            Route("/passkeys/register/options", self.register_options, methods=["POST"]),
            Route("/passkeys/register", self.register, methods=["POST"]),
            Route("/passkeys/signin/options", self.signin_options, methods=["POST"]),
            Route("/passkeys/signin", self.sign_in_with, methods=["POST"]),
        ]
