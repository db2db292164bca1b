"""The signed-in team's pages of `closing serve`: `/` (the deals a member may see), `/d/SLUG/`
(a deal's live board), `/d/SLUG/p/PARTY` (a party's steps, each with its buttons) and
`/d/SLUG/p/PARTY/act` (an action's form; POSTed with the session's CSRF token from this
server's own origin, recorded through the CLI's services as the signed-in member).

One live board (`closing.web.live.LiveBoard`) per deal, made when a member first opens it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING

import anyio.to_thread
from markupsafe import Markup
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from closing.domain.clock import Clock
from closing.domain.documents import MAX_FILE_BYTES
from closing.domain.errors import ClosingError
from closing.domain.share_link import match
from closing.domain.web_session import WebSession
from closing.services import web_auth
from closing.services.board import board
from closing.services.change_feed import listen_for_changes
from closing.services.database import Database
from closing.services.live_board import BoardFeed
from closing.services.passkeys import passkey_count
from closing.services.web_auth import acting_as
from closing.views.actions import MyItem, find_action, my_items, party_links, party_page
from closing.views.board_page import View, view
from closing.views.status_document import board_json
from closing.web.actions import perform
from closing.web.auth import COOKIE, SignIn
from closing.web.bank_file import BankFilePage
from closing.web.live import LiveBoard, Snapshot
from closing.web.pages import TEMPLATES, html_page, message_page, refusal_status, rendered
from closing.web.passkeys import Passkeys
from closing.web.streams import Patcher

if TYPE_CHECKING:
    from closing.services.change_feed import ChangeListener

MAX_ROWS = 100
UPLOAD = MAX_FILE_BYTES + 64 * 1024  # bytes an action's form may send: a closing file, its fields


def _not_found() -> Response:
    return message_page("Not found", "There is no such page, or it is not yours to see.", 404)


class TeamSite:
    """The team's pages on one server: its sign-in, and a live board per deal."""

    def __init__(
        self, database: Database, clock: Clock, sign_in: SignIn, poll: float = 0.3
    ) -> None:
        self.database = database
        self.clock = clock
        self.sign_in = sign_in
        self.poll = poll
        self.boards: dict[str, LiveBoard] = {}
        self._making = asyncio.Lock()
        self._listener: ChangeListener | None = None
        self._live_sessions: dict[tuple[str, str, int], bool] = {}
        self.patcher = Patcher(TEMPLATES.get_template("board_parts.html").module)

    async def start(self, live: LiveBoard) -> None:
        """Serve `live` (the deal `closing serve` was started for, whose board the share links
        read) among the others, and wake every board at each change PostgreSQL notifies."""
        self.boards[live.slug] = live
        loop = asyncio.get_running_loop()

        def changed() -> None:  # in the listener's thread
            loop.call_soon_threadsafe(self._wake_all)

        self._listener = await anyio.to_thread.run_sync(listen_for_changes, self.database, changed)

    def _wake_all(self) -> None:
        for live in self.boards.values():
            live.wake()

    async def board(self, slug: str) -> LiveBoard | None:
        async with self._making:
            live = self.boards.get(slug)
            if live is None:
                try:
                    feed = await anyio.to_thread.run_sync(BoardFeed, self.database, slug)
                except ClosingError:
                    return None
                if feed.slug != slug:  # a prefix: the pages have one address each
                    return None
                live = LiveBoard(feed, self.clock, poll=self.poll)
                await live.start()
                self.boards[slug] = live
            return live

    async def _still_signed_in(self, request: Request, snapshot: Snapshot) -> bool:
        """Whether the stream's session still holds, asked once per session and snapshot (a
        stream of a session that ended stops at the next change)."""
        key = (request.cookies.get(COOKIE, ""), snapshot.document["deal"]["slug"], snapshot.version)
        if key not in self._live_sessions:
            if len(self._live_sessions) > 10_000:
                self._live_sessions.clear()
            self._live_sessions[key] = await self.sign_in.session(request) is not None
        return self._live_sessions[key]

    async def board_for_share(self, token: str) -> LiveBoard | None:
        """The board of the deal whose share link `token` is (None: no such active link): a
        board open here whose last snapshot has the link, else the database's answer. (Either
        way the page then reads the deal's links afresh: one revoked since is refused.)"""
        for live in list(self.boards.values()):
            if match(token, live.snapshot.shares) is not None:
                return live
        slug = await anyio.to_thread.run_sync(web_auth.deal_of_share, self.database, token)
        return None if slug is None else await self.board(slug)

    async def stop(self, keep: LiveBoard | None = None) -> None:
        if self._listener is not None:
            await anyio.to_thread.run_sync(self._listener.stop)
            self._listener = None
        for live in self.boards.values():
            if live is not keep:
                await live.end_streams()
                await live.stop()

    # --- who may see what

    async def deal_of(
        self, request: Request, session: WebSession
    ) -> tuple[LiveBoard, Snapshot] | None:
        """The deal the path names, when the member is on its team."""
        slug = request.path_params["slug"]
        deals = await anyio.to_thread.run_sync(web_auth.deals_of, self.database, session.login)
        if slug not in {d[0] for d in deals}:
            return None
        live = await self.board(slug)
        if live is None:
            return None
        return live, (await live.opening())[0]  # the database as it is, or the last board

    def _view(self, snapshot: Snapshot) -> View:
        """The board's view, once per snapshot (every member's page and stream share it)."""

        def make() -> View:
            alerts = [(a.due_at, a.title) for a in snapshot.alerts]
            return view(snapshot.document, team=True, max_rows=MAX_ROWS, recent_alerts=alerts)

        return snapshot.render(("member-view",), make)

    def _fragment(self, snapshot: Snapshot) -> str:
        act = f"/d/{snapshot.document['deal']['slug']}"  # the rows' buttons (proposed details)
        return snapshot.render(
            ("member-board",), lambda: rendered("board.html", v=self._view(snapshot), act=act)
        )

    def _patch(self, before: Snapshot, after: Snapshot) -> bytes | None:
        """The stream's update from `before` to `after`: the changed rows and parts as htmx
        out-of-band swaps (b"" when nothing changed, None when only a whole board will do),
        encoded once per pair of snapshots and sent as is to every member's stream."""

        def encode() -> bytes | None:
            act = f"/d/{after.document['deal']['slug']}"
            swaps = self.patcher.patch(self._view(before), self._view(after), act)
            if not swaps:
                return None if swaps is None else b""
            return ServerSentEvent(data=swaps, event="patch", id=str(after.event_id)).encode()

        return after.render(("member-patch", before.version), encode)

    def _message(self, snapshot: Snapshot) -> bytes:
        """The stream's event, encoded once per snapshot and sent as is to every stream."""

        def encode() -> bytes:
            html = self._fragment(snapshot)
            return ServerSentEvent(data=html, event="board", id=str(snapshot.event_id)).encode()

        return snapshot.render(("member-sse",), encode)

    # --- the pages

    async def home(self, request: Request) -> Response:
        session = await self.sign_in.session(request)
        if session is None:
            return html_page("team_signin.html", login=None, token="")
        deals = await anyio.to_thread.run_sync(web_auth.deals_of, self.database, session.login)
        count = await anyio.to_thread.run_sync(passkey_count, self.database, session.login)
        return html_page("team_deals.html", member=session, deals=deals, passkeys=count)

    async def deal_page(self, request: Request) -> Response:
        session = await self.sign_in.session(request)
        if session is None:
            return RedirectResponse("/", status_code=303)
        found = await self.deal_of(request, session)
        if found is None:
            return _not_found()
        live, snapshot = found
        await asyncio.shield(self._drawing(snapshot))
        return html_page(
            "team_deal.html",
            member=session,
            v=self._view(snapshot),
            board=Markup(self._fragment(snapshot)),
            events_url=f"/d/{live.slug}/events",
            parties=Markup(self._parties(snapshot)),
            deal=live.slug,
        )

    def _drawing(self, snapshot: Snapshot) -> asyncio.Future[str]:
        """`_drawn`, in a worker thread once per snapshot (started now, awaited or not)."""
        return snapshot.start(("member-drawn",), partial(self._drawn, snapshot))

    def _drawn(self, snapshot: Snapshot) -> str:
        """The board and the list of parties (a link per purchaser: 2,000 at a large deal), drawn
        once per snapshot for every member's page."""
        self._parties(snapshot)
        return self._fragment(snapshot)

    def _parties(self, snapshot: Snapshot) -> str:
        document = snapshot.document
        return snapshot.render(
            ("member-parties",),
            lambda: rendered(
                "team_parties.html", parties=party_links(document), deal=document["deal"]["slug"]
            ),
        )

    async def events(self, request: Request) -> Response:
        session = await self.sign_in.session(request)
        found = None if session is None else await self.deal_of(request, session)
        if found is None:
            return _not_found()
        live = found[0]

        async def stream() -> AsyncIterator[bytes]:
            # The board as it is now (a reconnecting browser misses nothing), then only the rows
            # and parts that changed, as the share links' team streams get them.
            last = ""
            previous: Snapshot | None = None
            async for current in live.follow():
                if not await self._still_signed_in(request, current):
                    return  # signed out or revoked: the browser's reconnection is refused
                patch = None
                if previous is not None:
                    patch = await current.in_thread(
                        ("member-patch", previous.version), partial(self._patch, previous, current)
                    )
                previous = current
                if patch is not None:
                    if patch:
                        yield patch
                    # the board a page load or a reconnection will want
                    self._drawing(current)
                    continue
                html = await asyncio.shield(self._drawing(current))
                if html != last:
                    last = html
                    yield self._message(current)

        return EventSourceResponse(stream(), ping=15, send_timeout=30)

    async def mine(self, request: Request) -> Response:
        """My items: the open steps of the member's party (`status --mine`), most urgent first."""
        session = await self.sign_in.session(request)
        if session is None:
            return RedirectResponse("/", status_code=303)
        found = await self.deal_of(request, session)
        if found is None:
            return _not_found()
        live = found[0]

        def read() -> list[MyItem]:
            with acting_as(self.database, session.login):
                cut = board(self.database, live.slug, self.clock.now(), mine=True)
            return my_items(board_json(cut))

        items: list[MyItem] = []
        why = ""
        try:
            items = await anyio.to_thread.run_sync(read)
        except ClosingError as error:
            why = error.message
        return html_page("team_mine.html", member=session, deal=live.slug, items=items, why=why)

    async def party(self, request: Request) -> Response:
        session = await self.sign_in.session(request)
        if session is None:
            return RedirectResponse("/", status_code=303)
        found = await self.deal_of(request, session)
        page = (
            None if found is None else party_page(found[1].document, request.path_params["party"])
        )
        if found is None or page is None:
            return _not_found()
        return html_page("team_party.html", member=session, p=page, deal=found[0].slug, notice="")

    async def action(self, request: Request) -> Response:
        upload = None
        if request.method == "POST":  # an Attach form sends a file (multipart/form-data)
            session, form, upload, refused = await self.sign_in.posted_upload(request, UPLOAD)
            if refused is not None or session is None:
                return refused or _not_found()
            values = form
        else:
            session = await self.sign_in.session(request)
            if session is None:
                return RedirectResponse("/", status_code=303)
            values = {k: v for k, v in request.query_params.items()}
        found = await self.deal_of(request, session)
        if found is None:
            return _not_found()
        live, snapshot = found
        party = request.path_params["party"]
        action = find_action(
            snapshot.document, party, str(values.get("do", "")), str(values.get("step", ""))
        )
        page = party_page(snapshot.document, party)
        if action is None or page is None:
            return _not_found()
        refusal = ""
        status = 200
        if request.method == "POST":
            held_back: str | None = await anyio.to_thread.run_sync(
                web_auth.passkey_refusal_for, self.database, live.slug, session
            )
            refusal = held_back or ""
            status = 403 if refusal else 200
        if request.method == "POST" and not refusal:
            try:
                await anyio.to_thread.run_sync(
                    perform,
                    self.database,
                    live.slug,
                    session.login,
                    action,
                    values,
                    self.clock.now(),
                    upload,
                )
            except ClosingError as error:
                refusal = error.message
                status = refusal_status(error)
            else:
                await live.refresh()
                return RedirectResponse(f"/d/{live.slug}/p/{party}", status_code=303)
        return html_page(
            "team_action.html",
            status,
            member=session,
            a=action,
            deal=live.slug,
            party_name=page.name,
            refusal=refusal,
            values={k: v for k, v in values.items() if k in {f.name for f in action.fields}},
        )

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home),
            Route("/d/{slug}/", self.deal_page),
            Route("/d/{slug}/events", self.events),
            Route("/d/{slug}/mine", self.mine),
            Route("/d/{slug}/p/{party}", self.party),
            Route("/d/{slug}/p/{party}/act", self.action, methods=["GET", "POST"]),
            *BankFilePage(self).routes(),
            *self.sign_in.routes(),
            *Passkeys(self.sign_in).routes(),
        ]
