"""`closing serve` with the team's pages, in a thread of this process on a free port, for the
signed-in team's tests (browser and HTTP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from closing.domain.clock import FixedClock
from closing.services.live_board import BoardFeed
from closing.services.web_auth import cookie_key, first_deal
from closing.store.connection import Database
from closing.web.app import listen
from closing.web.app import server as web_server
from closing.web.auth import SignIn
from closing.web.live import LiveBoard
from closing.web.team_pages import TeamSite


@dataclass
class TeamServer:
    base: str  # http://localhost:PORT (a domain: WebAuthn's RP ID cannot be an IP address)
    port: int
    live: LiveBoard


@contextmanager
def serve_team(
    database_url: str, now: datetime, deal: str | None = None, poll: float = 0.1
) -> Iterator[TeamServer]:
    database = Database(database_url)
    clock = FixedClock(now)
    live = LiveBoard(BoardFeed(database, deal or first_deal(database)), clock, poll=poll)
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sign_in = SignIn(database, clock.now, cookie_key(database), f"http://localhost:{port}")
    team = TeamSite(database, clock, sign_in, poll)
    server = web_server(live, team)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield TeamServer(f"http://localhost:{port}", port, live)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
