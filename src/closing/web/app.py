"""The web server of `closing serve`: a read-only board per share link, live through server-sent
events, drawn from the status JSON document.

Routes (every one but /static needs a token; a missing, wrong or revoked one gets the same 404
page, "This link is not valid"):
- `GET /b/{token}`: the board page (works without JavaScript; reload for the latest);
- `GET /b/{token}/events`: the board fragment, pushed whenever it changes (SSE; the id is the
  deal's newest event id);
- `GET /api/status` with `Authorization: Bearer {token}` or `?token={token}`: the status JSON,
  filtered to what the link may see.

With a `TeamSite` (`closing.web.team_pages`) the signed-in team's pages are served too: `/`,
`/d/SLUG/`, the sign-in routes, and the actions (POST, CSRF-checked).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from closing.domain.share_link import ShareRecord, match
from closing.views.board_page import View, for_purchaser, view
from closing.web.collector import Collector
from closing.web.link_forms import LinkForms
from closing.web.live import LiveBoard, Snapshot
from closing.web.pages import TEMPLATES
from closing.web.streams import Gzip, Patcher

if TYPE_CHECKING:
    import uvicorn

    from closing.web.team_pages import TeamSite

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STATIC = Path(__file__).parents[1] / "views" / "static"  # the page's CSS, scripts and icon
MAX_ROWS = 100  # rows on the team's page of a large deal, furthest behind first (?all=1: all)

# No inline script or style anywhere: htmx and its SSE extension load from /static, and htmx is
# told (in a meta tag) not to add its indicator styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),  # the token is in the URL
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
]


class SecurityHeaders:
    """Adds the security headers to every response (a plain ASGI middleware, so that streamed
    responses pass through untouched), and `no-store` to everything but the static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


# The one answer to a missing, wrong or revoked token, or an unknown path: the same page and
# status whatever the token was, so that it never tells whether a link existed.
NOT_FOUND_PAGE = (Path(__file__).parents[1] / "views" / "templates" / "not_found.html").read_text()


def not_found() -> Response:
    """The page saying the link is not valid and to ask the deal team for a new one (404)."""
    return Response(NOT_FOUND_PAGE, status_code=404, media_type="text/html; charset=utf-8")


def create_app(live: LiveBoard, max_rows: int = MAX_ROWS, team: TeamSite | None = None) -> ASGIApp:
    templates = TEMPLATES
    page_template = templates.get_template("page.html")
    board_template = templates.get_template("board.html")
    patcher = Patcher(templates.get_template("board_parts.html").module)

    def page_view(snapshot: Snapshot, share: ShareRecord, show_all: bool) -> View:
        key = ("view", share.team, share.purchaser_id, show_all)
        return snapshot.render(key, lambda: make_view(snapshot, share, show_all))

    def make_view(snapshot: Snapshot, share: ShareRecord, show_all: bool) -> View:
        if share.team:
            document = snapshot.document
            alerts = snapshot.alerts
        else:
            slug = share.purchaser_slug or ""
            document = for_purchaser(snapshot.document, slug)
            alerts = [alert for alert in snapshot.alerts if alert.purchaser_slug == slug]
        return view(
            document,
            team=share.team,
            max_rows=None if show_all else max_rows,
            recent_alerts=[(alert.due_at, alert.title) for alert in alerts],
        )

    def fragment(snapshot: Snapshot, share: ShareRecord, show_all: bool) -> str:
        key = ("team", show_all) if share.team else ("purchaser", share.purchaser_id)
        return snapshot.render(
            key, lambda: board_template.render(v=page_view(snapshot, share, show_all))
        )

    def sse_message(snapshot: Snapshot, share: ShareRecord, show_all: bool) -> bytes:
        """The encoded event, once per snapshot and kind of link (sent as is to every stream)."""
        key = ("sse", share.team, share.purchaser_id, show_all)

        def encode() -> bytes:
            html = fragment(snapshot, share, show_all)
            return ServerSentEvent(data=html, event="board", id=str(snapshot.event_id)).encode()

        return snapshot.render(key, encode)

    def patch_message(
        before: Snapshot, after: Snapshot, share: ShareRecord, show_all: bool
    ) -> bytes | None:
        """A team stream's update: the rows and parts that changed since `before`, as htmx
        out-of-band swaps (b"" when nothing did; None when only a whole board will do), once per
        pair of snapshots."""
        key = ("patch", before.version, show_all)

        def encode() -> bytes | None:
            swaps = patcher.patch(
                page_view(before, share, show_all), page_view(after, share, show_all)
            )
            if swaps is None or not swaps:
                return None if swaps is None else b""
            return ServerSentEvent(data=swaps, event="patch", id=str(after.event_id)).encode()

        return after.render(key, encode)

    async def authorised(request: Request, token: str) -> tuple[Snapshot, ShareRecord | None]:
        board = await board_of(token)
        # The database as it is, or the last board; the links admitted are those active now,
        # whichever board is shown (a revoked link is refused at once, not at the next rebuild).
        snapshot, shares = await board.admitted()
        return snapshot, match(token, shares)

    async def board_of(token: str) -> LiveBoard:
        """The board the link opens: with the team's pages, any deal's (one server serves every
        deal); else the one deal served."""
        found = None if team is None else await team.board_for_share(token)
        return found or live

    def wants_all(request: Request, share: ShareRecord) -> bool:
        return share.team and request.query_params.get("all") == "1"

    def render(
        request: Request,
        token: str,
        snapshot: Snapshot,
        share: ShareRecord,
        extra: dict[str, Any],
        status_code: int = 200,
    ) -> Response:
        show_all = wants_all(request, share)
        suffix = "?all=1" if show_all else ""
        html = page_template.render(
            v=page_view(snapshot, share, show_all),
            board=Markup(fragment(snapshot, share, show_all)),
            events_url=f"/b/{token}/events{suffix}",
            json_url=f"/api/status?token={token}",
            all_url=f"/b/{token}?all=1",
            **extra,
        )
        return Response(html, status_code=status_code, media_type="text/html; charset=utf-8")

    forms = LinkForms(live, render, board_of)  # a purchaser's own forms (web.link_forms)

    def drawing(snapshot: Snapshot, share: ShareRecord, show_all: bool) -> asyncio.Future[str]:
        """The link's board fragment (and view), drawn in a worker thread once per snapshot."""
        key = ("drawn", share.team, share.purchaser_id, show_all)
        return snapshot.start(key, partial(fragment, snapshot, share, show_all))

    async def drawn(snapshot: Snapshot, share: ShareRecord, show_all: bool) -> str:
        return await asyncio.shield(drawing(snapshot, share, show_all))

    async def page(request: Request) -> Response:
        token = request.path_params["token"]
        snapshot, share = await authorised(request, token)
        if share is None:
            return not_found()
        await drawn(snapshot, share, wants_all(request, share))
        return render(request, token, snapshot, share, forms.extra(request, token, share))

    async def events(request: Request) -> Response:
        _, share = await authorised(request, request.path_params["token"])
        if share is None:
            return not_found()
        show_all = wants_all(request, share)

        board = await board_of(request.path_params["token"])

        async def stream() -> AsyncIterator[bytes]:
            # A (re)connecting browser gets the board as it is now: a whole board, not a list
            # of changes, so a Last-Event-ID older than the current id loses nothing.
            # After it, a team's stream gets only the rows and parts that changed.
            last = ""
            previous: Snapshot | None = None
            async for current in board.follow():
                if not any(s.id == share.id for s in current.shares):
                    return  # revoked: the browser's reconnection then gets a 404
                patch = None
                if share.team and previous is not None:
                    patch = await current.in_thread(
                        ("patch", previous.version, show_all),
                        partial(patch_message, previous, current, share, show_all),
                    )
                previous = current
                if patch is not None:
                    if patch:
                        yield patch
                    drawing(current, share, show_all)  # what a page load or reconnection will want
                    continue
                html = await drawn(current, share, show_all)
                if html != last:  # e.g. another purchaser's mark: nothing new for this link
                    last = html
                    yield sse_message(current, share, show_all)

        return EventSourceResponse(stream(), ping=15, send_timeout=30)

    async def api_status(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        token = token or request.query_params.get("token", "")
        snapshot, share = await authorised(request, token)
        if share is None:
            return not_found()
        if share.team:
            return JSONResponse(snapshot.document)
        return JSONResponse(for_purchaser(snapshot.document, share.purchaser_slug or ""))

    async def http_error(request: Request, error: Exception) -> Response:
        if isinstance(error, HTTPException) and error.status_code != 404:
            return PlainTextResponse(f"{error.detail}\n", status_code=error.status_code)
        return not_found()

    app = Starlette(
        routes=[
            Route("/b/{token}", page),
            Route("/b/{token}/events", events),
            *forms.routes(),
            Route("/api/status", api_status),
            *(team.routes() if team is not None else []),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={HTTPException: http_error},
    )
    return Gzip(SecurityHeaders(app))


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts so that a taken port is one clear
    error. Raises OSError.

    Made from getaddrinfo's answer, protocol included: asyncio sets TCP_NODELAY only on sockets
    whose protocol is IPPROTO_TCP, and without it every response on a kept-alive connection
    waited about 40 ms for a delayed ACK (`socket.create_server` leaves the protocol 0).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(512)
    except OSError:
        sock.close()
        raise
    return sock


def server(
    live: LiveBoard, team: TeamSite | None = None, proxy_headers: bool = False
) -> uvicorn.Server:
    """The uvicorn server of `closing serve`. The access log is off: every path carries a token."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # uvicorn raises SIGINT or SIGTERM again once it has shut down gracefully, which
            # would end the command as killed; a stop asked for is a clean stop (exit 0), as
            # for `closing alerts run`.
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

        # The poller runs with the server (not in an ASGI lifespan, whose task uvicorn cancels
        # with a traceback when Ctrl-C comes during start-up).
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await live.start()
            if team is not None:
                await team.start(live)
            collector = Collector(lambda: [board.built_at for board in boards()])
            self.collecting = asyncio.get_running_loop().create_task(collector.run())
            await super().startup(sockets)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            self.collecting.cancel()
            await live.end_streams()  # open streams end now, not after the grace period
            if team is not None:
                await team.stop(keep=live)
            await super().shutdown(sockets)
            await live.stop()

    def boards() -> list[LiveBoard]:
        return [live, *(team.boards.values() if team is not None else [])]

    config = uvicorn.Config(
        create_app(live, team=team),
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=2,
        lifespan="off",
        proxy_headers=proxy_headers,  # X-Forwarded-Proto from a TLS proxy on this machine
    )
    return Server(config)


def serve_board(
    live: LiveBoard, sock: socket.socket, team: TeamSite | None = None, proxy_headers: bool = False
) -> None:
    """Serve on `sock` until SIGINT or SIGTERM."""
    server(live, team, proxy_headers).run(sockets=[sock])
