"""The live board behind `closing serve`: one poller per server, shared by every page and stream.

Every `poll` seconds it reads a change marker from the database (the deal's newest event, alert,
deal file revision and share link: a few indexed `max` queries). When the marker moves, or every
`tick` seconds while the clock runs (time left changes with nobody marking), it rebuilds the
status document once and wakes every stream. Streams re-render per link (memoised per snapshot,
so fifty team browsers cost one render) and send only what changed.

A mark made anywhere (another terminal, the alert sender, another machine on PostgreSQL) is seen
within `poll` seconds; nothing here depends on who wrote it. A page or stream opens with the board
as the database is when finding out takes at most `page_wait` (50 ms); else with the last board
at once, and its stream brings the new one the moment it is built (`opening`). The status
document is the view `closing.views.status_document.board_json`: the web board shows what
`closing status --json` says, and nothing here reaches back into the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread

from closing.domain.clock import Clock
from closing.domain.errors import ClosingError
from closing.domain.share_link import RecentAlert, ShareRecord
from closing.services.live_board import BoardFeed
from closing.views.status_document import board_json

log = logging.getLogger("closing.web")
T = TypeVar("T")


@dataclass
class Snapshot:
    """The deal as of one rebuild: the status document and who may see it."""

    version: int
    marker: tuple[int, ...]
    now: datetime
    document: dict[str, Any]
    shares: list[ShareRecord]
    alerts: list[RecentAlert]
    rendered: dict[Any, Any] = field(default_factory=dict)  # per link kind, this snapshot only
    making: dict[Any, asyncio.Future[Any]] = field(default_factory=dict)  # `in_thread`'s

    @property
    def event_id(self) -> int:
        """The deal's newest event id: the SSE id (ids only grow, so a browser that reconnects
        with an older Last-Event-ID has missed something and gets the current board)."""
        return self.marker[0]

    def render(self, key: Any, make: Callable[[], T]) -> T:
        """`make()`, once per snapshot and key."""
        if key not in self.rendered:
            self.rendered[key] = make()
        result: T = self.rendered[key]
        return result

    async def in_thread(self, key: Any, make: Callable[[], T]) -> T:
        """`make()` in a worker thread, once per snapshot and key however many pages and streams
        await it: a large deal's view, board or patch is never drawn on the event loop, where
        every page load and stream would wait behind it."""
        result: T = await asyncio.shield(self.start(key, make))
        return result

    def start(self, key: Any, make: Callable[[], T]) -> asyncio.Future[T]:
        """`in_thread`'s making, started now (a stream starts drawing the board the next page
        load will want), awaited later or never. One that fails is logged and forgotten: those
        awaiting it get the error, the next asking makes it again."""
        making = self.making.get(key)
        if making is None:
            making = self.making[key] = asyncio.ensure_future(anyio.to_thread.run_sync(make))
            making.add_done_callback(partial(self._made, key))
        return making

    def _made(self, key: Any, making: asyncio.Future[Any]) -> None:
        if making.cancelled() or making.exception() is None:
            return
        if self.making.get(key) is making:
            del self.making[key]
        error = making.exception()
        log.error("event=render-failed key=%r error=%r", key, f"{type(error).__name__}: {error}")


class LiveBoard:
    def __init__(
        self,
        feed: BoardFeed,
        clock: Clock,
        poll: float = 0.3,
        tick: float = 30.0,
        page_wait: float = 0.05,
    ) -> None:
        self.feed = feed  # the deal's reads, on the Database (found before the server starts)
        self.clock = clock
        self.poll = poll
        self.tick = tick
        self.page_wait = page_wait  # how long a page waits for a newer board (`opening`)
        self.slug = feed.slug
        self.snapshot = self._build(0)
        self.built_at = time.monotonic()  # the last rebuild (`web.collector`)
        self._waiting: list[asyncio.Future[None]] = []  # followers waiting for a newer board
        self._waking: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._failing = False
        self.followers = 0  # streams open now
        self.ending = False

    # --- reading the database (in a worker thread) ----------------------------------------------

    def _build(self, version: int) -> Snapshot:
        now = self.clock.now()
        read = self.feed.read(now)
        document = board_json(read.board)
        return Snapshot(version, read.marker, now, document, read.shares, read.alerts)

    # --- keeping the snapshot current -----------------------------------------------------------

    async def refresh(self) -> Snapshot:
        """The current snapshot, rebuilt first if the database moved or the clock ran a `tick`
        since the last build."""
        async with self._lock:
            try:
                marker = await anyio.to_thread.run_sync(self.feed.marker)
                stale = time.monotonic() - self.built_at >= self.tick
                if marker != self.snapshot.marker or (
                    stale and self.clock.now() != self.snapshot.now
                ):
                    snapshot = await anyio.to_thread.run_sync(
                        self._build, self.snapshot.version + 1
                    )
                    self.built_at = time.monotonic()
                    self._publish(snapshot)
                if self._failing:
                    log.warning("event=database-back deal=%s", self.slug)
                    self._failing = False
            except ClosingError as error:
                self._report(error.message)
            return self.snapshot

    async def opening(self, wait: float | None = None) -> tuple[Snapshot, bool]:
        """The board a page or a stream opens with, and whether it is as the database is now:
        `refresh`, when that takes at most `wait` seconds (`page_wait`); else the board there
        was when the page came, and False (not one published while the wait ran out: its board
        is not drawn yet, and the page would wait for that instead). The refresh goes on, and
        the page's stream brings its board the moment it is built: a page load never waits
        behind a large deal's rebuild. (An action's redirect still shows its own mark: the
        action refreshes before it redirects.)"""
        last = self.snapshot
        refreshing = asyncio.ensure_future(self.refresh())
        refreshing.add_done_callback(self._reported)  # read, should nobody wait for it
        try:
            return await asyncio.wait_for(asyncio.shield(refreshing), wait or self.page_wait), True
        except TimeoutError:
            return last, False

    async def admitted(self) -> tuple[Snapshot, list[ShareRecord]]:
        """The board a share link's page opens with (`opening`), and the links active now, read
        afresh while the board is waited for: a link revoked during a slow rebuild is refused
        at once, and the page waits for the one or the other, not both in turn."""
        fresh = asyncio.ensure_future(anyio.to_thread.run_sync(self.feed.shares))
        fresh.add_done_callback(self._reported)  # read, should the opening fail
        snapshot, _ = await self.opening()
        try:
            return snapshot, await fresh
        except ClosingError:  # the database is out of reach: the last board's links, as the
            return snapshot, snapshot.shares  # last board is shown (its stream stays open)

    def _reported(self, task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._report(f"{type(task.exception()).__name__}: {task.exception()}")

    def _report(self, message: str) -> None:
        if not self._failing:  # one line per outage, not one per poll
            log.error("event=database-failing deal=%s error=%r", self.slug, message)
            self._failing = True

    def wake(self) -> None:
        """Look now rather than at the next poll (PostgreSQL's NOTIFY of a change)."""
        self._wake.set()

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)
            self._wake.clear()
            try:
                await self.refresh()
            except Exception as error:  # keep serving the last board; say so once
                self._report(f"{type(error).__name__}: {error}")

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _publish(self, snapshot: Snapshot) -> None:
        """`snapshot` is the board from now on (pages get it at once); the streams following the
        board are woken `WAKE_AT_ONCE` at a time, each batch sending before the next wakes, so
        that a page load or an action arriving meanwhile waits behind one batch, not behind
        every stream of a large team."""
        self.snapshot = snapshot
        waiting, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(_wake(waiting))
        self._waking.add(task)
        task.add_done_callback(self._waking.discard)

    async def end_streams(self) -> None:
        """Let every stream end (the server is stopping): browsers reconnect to its successor
        rather than being cut off after the grace period."""
        self.ending = True
        waiting, self._waiting = self._waiting, []
        await _wake(waiting)

    async def follow(self) -> AsyncIterator[Snapshot]:
        """The current snapshot, then each newer one as it is built."""
        self.followers += 1
        loop = asyncio.get_running_loop()
        try:
            snapshot = self.snapshot
            yield snapshot
            while True:
                while self.snapshot.version <= snapshot.version and not self.ending:
                    woken = loop.create_future()
                    self._waiting.append(woken)
                    await woken
                if self.ending:
                    return
                snapshot = self.snapshot
                yield snapshot
        finally:
            self.followers -= 1


WAKE_AT_ONCE = 25  # streams woken in one turn of the event loop (`LiveBoard._publish`)


async def _wake(waiting: list[asyncio.Future[None]]) -> None:
    """Wake the followers `waiting`, `WAKE_AT_ONCE` per turn of the event loop."""
    for start in range(0, len(waiting), WAKE_AT_ONCE):
        if start:
            await asyncio.sleep(0)  # the woken send; requests that came in are read
        for woken in waiting[start : start + WAKE_AT_ONCE]:
            if not woken.done():
                woken.set_result(None)
