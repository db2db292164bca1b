"""A real uvicorn server on 127.0.0.1 for the web tests, and an SSE reader.

Starlette's TestClient never delivers a client disconnect to a streaming response (starlette
#1247), so the streams are tested against uvicorn on a free port, read with httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from closing.domain.clock import FixedClock
from closing.services.live_board import BoardFeed
from closing.store.connection import Database
from closing.web.app import listen
from closing.web.app import server as web_server
from closing.web.live import LiveBoard


@dataclass
class Served:
    base: str
    live: LiveBoard

    def url(self, token: str, suffix: str = "") -> str:
        return f"{self.base}/b/{token}{suffix}"


@contextmanager
def serve(
    database_url: str, now: datetime, deal: str | None = None, poll: float = 0.1
) -> Iterator[Served]:
    """`closing serve` in a thread of this process, on a free port of 127.0.0.1."""
    feed = BoardFeed(Database(database_url), deal)
    live = LiveBoard(feed, FixedClock(now), poll=poll)
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = web_server(live)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield Served(f"http://127.0.0.1:{port}", live)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Event:
    id: str | None
    event: str | None
    data: str
    received: float  # time.monotonic() when the blank line that ends it arrived


@dataclass
class Stream:
    """An SSE connection read by httpx in a thread of its own (with its own event loop, so that
    `close` can cancel the read at once, as a browser tab that closes); its events arrive on
    `events`."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    status: int | None = None
    body: str = ""
    _ended: threading.Event = field(default_factory=threading.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _task: asyncio.Task[None] | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> Stream:
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._task = loop.create_task(self._read())
            started.set()
            try:
                loop.run_until_complete(self._task)
            except asyncio.CancelledError:
                pass
            finally:
                loop.close()
                self._ended.set()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        started.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the connection, as a browser does when its tab closes."""
        if self._loop is not None and self._task is not None and not self._ended.is_set():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(5)

    def wait_ended(self, timeout: float) -> bool:
        """True once the server has ended the stream (or answered with an error)."""
        return self._ended.wait(timeout)

    def next(self, timeout: float = 2.0) -> Event:
        return self.events.get(timeout=timeout)

    async def _read(self) -> None:
        timeout = httpx.Timeout(5, read=None)
        async with (
            httpx.AsyncClient(timeout=timeout) as client,
            client.stream("GET", self.url, headers=self.headers) as response,
        ):
            self.status = response.status_code
            if response.status_code != 200:
                self.body = (await response.aread()).decode()
                return
            fields: dict[str, str] = {}
            data: list[str] = []
            async for line in response.aiter_lines():
                if line == "":
                    if data or fields:
                        event = Event(
                            fields.get("id"), fields.get("event"), "\n".join(data), time.monotonic()
                        )
                        self.events.put(event)
                    fields, data = {}, []
                elif line.startswith(":"):
                    continue  # a comment: sse-starlette's keep-alive ping
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        data.append(value)
                    else:
                        fields[name] = value
