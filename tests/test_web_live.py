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


class CountingFeed:
    """A deal whose marker moves when told to; each read a new board."""

    slug = "deal"

    def __init__(self) -> None:
        self.moved = 0

    def read(self, now: Any) -> Any:
        return SimpleNamespace(board=None, marker=(self.moved,), shares=[], alerts=[])

    def marker(self) -> tuple[int, ...]:
        return (self.moved,)

    def shares(self) -> list[Any]:
        return []


def test_a_new_board_wakes_the_streams_in_batches_and_a_page_goes_between_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Five hundred streams follow one board: at a change they are woken `WAKE_AT_ONCE` at a
    time, each batch sending before the next wakes, so that a page load arriving meanwhile
    waits behind one batch, not behind every stream; every stream gets the new board, once."""
    from closing.web import live as live_module

    monkeypatch.setattr("closing.web.live.board_json", lambda board: {})
    order: list[str] = []

    async def go() -> list[int]:
        feed = CountingFeed()
        board = LiveBoard(feed, SimpleNamespace(now=lambda: 0))  # type: ignore[arg-type]
        got: list[int] = []
        pages: list[asyncio.Task[None]] = []

        async def page() -> None:
            order.append("page")

        async def stream(n: int) -> None:
            async for snapshot in board.follow():
                if snapshot.version == 1:
                    if not pages:  # a page load comes in as the first stream sends
                        pages.append(asyncio.create_task(page()))
                    got.append(n)
                    order.append("stream")
                    return

        streams = [asyncio.create_task(stream(n)) for n in range(500)]
        while board.followers < 500:
            await asyncio.sleep(0)
        feed.moved += 1
        await board.refresh()  # the new board: the streams start waking
        await asyncio.gather(*streams)
        await asyncio.gather(*pages)
        return got

    got = asyncio.run(go())
    assert sorted(got) == list(range(500))
    woken_before_the_page = order.index("page")
    assert woken_before_the_page == live_module.WAKE_AT_ONCE <= 50  # one batch, not 500


def test_a_view_is_made_once_in_a_worker_thread_however_many_wait_for_it() -> None:
    """`Snapshot.in_thread`: fifty streams awaiting the same patch cost one making of it, made
    off the event loop's thread."""
    from closing.web.live import Snapshot

    made: list[int] = []

    def make() -> str:
        made.append(threading.get_ident())
        return "patch"

    async def go() -> list[str]:
        snapshot = Snapshot(1, (1,), 0, {}, [], [])  # type: ignore[arg-type]
        return await asyncio.gather(*(snapshot.in_thread(("patch", 0), make) for _ in range(50)))

    assert asyncio.run(go()) == ["patch"] * 50
    assert len(made) == 1 and made[0] != threading.get_ident()


def test_full_collections_wait_for_a_quiet_moment() -> None:
    """The server's full collections (`closing.web.collector`): none before `every` seconds;
    then one at the first moment no board was rebuilt for `quiet` seconds; with boards rebuilt
    without a pause, one once `every` more have passed."""
    from closing.web.collector import NEVER, Collector, without_full_collections

    now = [0.0]
    rebuilt = [0.0]
    collected: list[float] = []
    collector = Collector(
        lambda: rebuilt,
        every=300,
        quiet=2,
        clock=lambda: now[0],
        collect=lambda: collected.append(now[0]),
    )
    for moment, last_rebuild in ((100, 99.5), (299, 200), (300.5, 299.0), (301.0, 299.0)):
        now[0], rebuilt[0] = moment, last_rebuild
        collector.step()
    assert collected == [301.0]  # due at 300, quiet from 301
    for second in range(302, 1000):  # marks every second from here on
        now[0] = rebuilt[0] = float(second)
        collector.step()
    assert collected == [301.0, 901.0]  # never quiet: overdue at twice `every`
    before = gc.get_threshold()
    try:
        assert without_full_collections() == before
        assert gc.get_threshold() == (before[0], before[1], NEVER)
    finally:
        gc.set_threshold(*before)


def test_a_share_link_of_a_board_open_here_is_found_without_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page load of a share link finds its deal's board among those open (the link in its
    last snapshot) without a read; a link no open board has is asked of the database."""
    from datetime import UTC, datetime

    from closing.domain.share_link import ShareRecord, token_digest

    token = "t" * 43
    share = ShareRecord(
        1, 1, None, None, None, token_digest(token), token[:6], datetime.now(UTC), "a", None, None
    )
    asked: list[str] = []

    def deal_of_share(database: Any, presented: str) -> str | None:
        asked.append(presented)
        return None

    monkeypatch.setattr("closing.services.web_auth.deal_of_share", deal_of_share)
    site = TeamSite.__new__(TeamSite)
    site.database = None  # type: ignore[assignment]
    site._making = asyncio.Lock()
    open_board = SimpleNamespace(snapshot=SimpleNamespace(shares=[share]))
    other = SimpleNamespace(snapshot=SimpleNamespace(shares=[]))
    site.boards = {"other": other, "deal": open_board}  # type: ignore[dict-item]

    async def go() -> tuple[Any, Any]:
        return await site.board_for_share(token), await site.board_for_share("u" * 43)

    found, unknown = asyncio.run(go())
    assert found is open_board and unknown is None
    assert asked == ["u" * 43]
