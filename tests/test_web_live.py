"""The live board's bookkeeping on its own (closing.web.live, closing.web.team_pages): a page's
refresh that nobody waits for any more is still read, and a member's stream asks whether its
session holds once per deal and snapshot, not once per snapshot number."""

from __future__ import annotations

import asyncio
import gc
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from closing.web.auth import COOKIE
from closing.web.live import LiveBoard
from closing.web.team_pages import TeamSite


def test_a_refresh_left_behind_by_a_page_that_went_away_is_still_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page load gives up waiting (its client went away) while the database read fails: the
    failure is reported by the board, not left as an exception nobody retrieved."""
    monkeypatch.setattr("closing.web.live.board_json", lambda board: {})
    reading = threading.Event()
    release = threading.Event()

    class Feed:
        slug = "deal"

        def read(self, now: Any) -> Any:
            return SimpleNamespace(board=None, marker=(0,), shares=[], alerts=[])

        def marker(self) -> tuple[int, ...]:
            reading.set()
            release.wait(5)
            raise RuntimeError("connection lost")

    unretrieved: list[str] = []
    reported: list[str] = []

    async def go() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: unretrieved.append(context["message"]))
        board = LiveBoard(Feed(), SimpleNamespace(now=lambda: 0))  # type: ignore[arg-type]
        board._report = reported.append  # type: ignore[method-assign]
        page = asyncio.ensure_future(board.opening(wait=5))
        await asyncio.to_thread(reading.wait, 5)
        page.cancel()  # the client went away
        release.set()
        for _ in range(100):
            if reported:
                break
            await asyncio.sleep(0.01)
        gc.collect()
        await asyncio.sleep(0)

    asyncio.run(go())
    assert reported == ["RuntimeError: connection lost"]
    assert unretrieved == []


def test_a_session_that_ended_is_asked_again_for_another_deal_at_the_same_version() -> None:
    """Snapshot versions are counted per deal: deal B's version 7 is not deal A's."""
    signed_in = {"now": True}

    class SignIn:
        async def session(self, request: Any) -> object | None:
            return object() if signed_in["now"] else None

    site = TeamSite.__new__(TeamSite)
    site.sign_in = SignIn()  # type: ignore[assignment]
    site._live_sessions = {}
    request = SimpleNamespace(cookies={COOKIE: "cookie"})

    def snapshot(slug: str) -> Any:
        return SimpleNamespace(version=7, document={"deal": {"slug": slug}})

    async def go() -> tuple[bool, bool]:
        first = await site._still_signed_in(request, snapshot("deal-a"))  # type: ignore[arg-type]
        signed_in["now"] = False  # the session ends
        return first, await site._still_signed_in(request, snapshot("deal-b"))  # type: ignore[arg-type]

    assert asyncio.run(go()) == (True, False)
