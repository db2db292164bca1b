"""`closing serve` under load: page render times, and SSE fan-out to 50 connected clients.

    python benchmarks/bench_web.py [--clients N] [--marks K] [--pages P] [--postgres] [--smoke]

For the seed deal (2 purchasers) and a generated 2,000-purchaser deal (signed by everyone, every
other one wired), on SQLite (and PostgreSQL with --postgres): `closing serve` runs as its own
process on a free port of 127.0.0.1 with a frozen clock. N httpx clients (one asyncio loop, one
connection each) hold the team's SSE stream open; then K marks are recorded, one at a time,
in this process (`marks_on`). For each mark, the latency is measured on every stream: from the
mark's commit to the arrival of the event that carries it (its SSE id is the mark's event id or
later). Each mark waits a random 0-0.3 s first, so that marks fall at any
point of the server's 0.3 s poll, as marks made elsewhere do. With the streams open, P
sequential requests of the team's page and of one purchaser's page give the page render times
(whole HTTP round trip).

--smoke: 2 clients, 2 marks, 1 page load, a deal of a few dozen purchasers instead of 2,000, and
no budget judged (a test of the suite runs it, so that the script keeps working).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from _deals import (
    CLOSING,
    SEED,
    SMOKE_BIG,
    cli_env,
    closing,
    generate_deal,
    postgres_available,
    postgres_schema,
    purchaser_slug,
    record_progress,
)

from closing.domain.marking import MarkRequest

NOW = "2002-06-07T15:30:00-07:00"
INIT_NOW = "2002-06-07T07:00:00-07:00"
BIG_WEB = 2_000


# --- the internals this script calls (one place each to update when the services API moves) ----


@contextmanager
def marks_on(url: str) -> Iterator[Callable[[MarkRequest, datetime], Any]]:
    """Record marks in this process through the service `closing mark` uses: `record(request,
    now)` returns what was recorded (`.event.id` is the new event's id)."""
    from closing.services.mark import mark
    from closing.store.connection import Database

    database = Database(url)
    try:
        yield lambda request, now: mark(database, None, request, now)
    finally:
        database.close()


def share_tokens(url: str, parties: tuple[str, str], now: datetime) -> tuple[str, str]:
    """New share links (as `closing share` makes them) for `parties`: their tokens."""
    from closing.services.shares import create_share
    from closing.store.connection import Database

    database = Database(url)
    try:
        first, second = (create_share(database, None, who, "bench", now).token for who in parties)
        return first, second
    finally:
        database.close()


# --- the benchmark -------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    purchasers: int
    clients: int
    page_team_ms: list[float] = field(default_factory=list)
    page_purchaser_ms: list[float] = field(default_factory=list)
    page_bytes: int = 0
    event_bytes: int = 0
    connect_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # every stream, every mark
    worst_per_mark_ms: list[float] = field(default_factory=list)
    missed: int = 0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Streams:
    """N SSE connections; for each, the (id, arrival, data size) of every event, and the bytes
    each response took on the wire (`headers`: e.g. the Accept-Encoding a browser sends)."""

    def __init__(self, url: str, count: int, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.count = count
        self.headers = headers or {}
        self.events: list[list[tuple[int, float, int]]] = [[] for _ in range(count)]
        self.responses: list[httpx.Response | None] = [None] * count
        self.changed = asyncio.Event()

    async def run(self, client: httpx.AsyncClient, n: int) -> None:
        async with client.stream("GET", self.url, headers=self.headers) as response:
            response.raise_for_status()
            self.responses[n] = response
            event_id, size = None, 0
            async for line in response.aiter_lines():
                if line.startswith("id:"):
                    event_id = int(line[3:].strip())
                elif line.startswith("data:"):
                    size += len(line) + 1
                elif line == "" and event_id is not None:
                    self.events[n].append((event_id, time.monotonic(), size))
                    event_id, size = None, 0
                    self.changed.set()

    def wire(self) -> int:
        return sum(r.num_bytes_downloaded for r in self.responses if r is not None)

    async def until(self, test: object, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not test():  # type: ignore[operator]
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                return False
        return True


async def mark_and_wait(
    record: Any, request: MarkRequest, now: datetime, streams: Streams, timeout: float
) -> tuple[int, float, bool]:
    """Record `request` at a random moment of the server's 0.3 s poll (as a mark made elsewhere
    would be); its event id, when it was committed (time.monotonic), and whether every stream got
    it within `timeout` seconds."""
    await asyncio.sleep(random.uniform(0.0, 0.3))
    recorded = await asyncio.to_thread(record, request, now)
    committed = time.monotonic()
    wanted = recorded.event.id

    def arrived() -> bool:
        return all(any(e[0] >= wanted for e in events) for events in streams.events)

    return wanted, committed, await streams.until(arrived, timeout)


def page_loads(url: str, headers: dict[str, str], stop: Any, into: Any) -> None:
    """GET `url` in a loop until `stop` is set; each load's time (ms) into the queue `into`. Run
    in a process of its own, as a browser is: timed on this script's event loop (or a thread of
    it), the loads would wait behind the hundreds of streams that loop is reading."""
    with httpx.Client(timeout=30, headers={"Accept-Encoding": "gzip", **headers}) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = client.get(url)
            response.raise_for_status()
            into.put((time.perf_counter() - started) * 1000)
            time.sleep(0.05)
    into.put(None)


@contextmanager
def pages_meanwhile(
    url: str, into: list[float], headers: dict[str, str] | None = None
) -> Iterator[None]:
    """`page_loads` in another process while the block runs; its times appended to `into`."""
    context = multiprocessing.get_context("spawn")
    stop, times = context.Event(), context.Queue()
    loader = context.Process(target=page_loads, args=(url, headers or {}, stop, times), daemon=True)
    loader.start()
    try:
        yield
    finally:
        stop.set()
        while (found := times.get(timeout=60)) is not None:
            into.append(found)
        loader.join(10)


def wait_for_server(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"closing serve exited: {server.stderr.read() if server.stderr else ''}")
        try:
            httpx.get(f"{base}/static/board.css", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    sys.exit("closing serve did not start")


def timed_get(client: httpx.Client, url: str) -> tuple[float, int]:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        sys.exit(f"GET {url}: {response.status_code}")
    return elapsed, len(response.content)


async def fan_out(
    base: str,
    tokens: tuple[str, str],
    url: str,
    marks: list[tuple[str, str]],
    args: argparse.Namespace,
    result: Result,
) -> None:
    """Hold the streams open while the marks are made (`stream_and_mark`)."""
    streams = Streams(f"{base}/b/{tokens[0]}/events", args.clients)
    limits = httpx.Limits(max_connections=args.clients + 5)
    timeout = httpx.Timeout(30, read=None)
    with marks_on(url) as record:
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
            await stream_and_mark(client, streams, base, tokens, marks, args, result, record)


async def stream_and_mark(
    client: httpx.AsyncClient,
    streams: Streams,
    base: str,
    tokens: tuple[str, str],
    marks: list[tuple[str, str]],
    args: argparse.Namespace,
    result: Result,
    record: Callable[[MarkRequest, datetime], Any],
) -> None:
    """Open the streams, make the marks, load the pages (see `fan_out`)."""
    team, one = tokens
    now = datetime.fromisoformat(NOW)
    started = time.monotonic()
    tasks = [asyncio.create_task(streams.run(client, n)) for n in range(args.clients)]
    if not await streams.until(lambda: all(streams.events), 60):
        sys.exit("not every stream got its first event")
    result.connect_s = time.monotonic() - started
    result.event_bytes = streams.events[0][0][2]
    for step, slug in marks[: args.marks]:
        request = MarkRequest(slug, step, actor="bench", host="bench")
        wanted, committed, everywhere = await mark_and_wait(record, request, now, streams, 10)
        if not everywhere:
            result.missed += sum(
                1 for events in streams.events if not any(e[0] >= wanted for e in events)
            )
        latencies = [
            (next(t for i, t, _ in events if i >= wanted) - committed) * 1000
            for events in streams.events
            if any(i >= wanted for i, _, _ in events)
        ]
        result.latencies_ms += latencies
        result.worst_per_mark_ms.append(max(latencies, default=float("nan")))
    # Page renders while the streams are open.
    with httpx.Client(timeout=30) as pages:
        for who, into in (("team", result.page_team_ms), ("one", result.page_purchaser_ms)):
            link = f"{base}/b/{team if who == 'team' else one}"
            timed_get(pages, link)  # warm
            for _ in range(args.pages):
                elapsed, size = timed_get(pages, link)
                into.append(elapsed)
                if who == "team":
                    result.page_bytes = size
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def bench_deal(
    label: str, url: str, deal_file: Path, count: int, args: argparse.Namespace
) -> Result:
    env = cli_env(url, INIT_NOW)
    closing(["init", str(deal_file)], env)
    if count == 2:
        marks = [
            ("prospectus_delivered", "company"),
            ("signed", "stonestreet"),
            ("signed", "bnc-bach"),
            ("wired", "stonestreet"),
            ("wired", "bnc-bach"),
            ("warrant_faxed", "stonestreet"),
            ("warrant_faxed", "bnc-bach"),
            ("dwac_credited", "stonestreet"),
        ]
        one = "stonestreet"
    else:
        record_progress(url)
        # Odd positions are signed, not wired: wire them, furthest behind first.
        marks = [("wired", purchaser_slug(n)) for n in range(2, 2 * args.marks + 2, 2)]
        one = purchaser_slug(2)
    tokens = share_tokens(url, ("team", one), datetime.fromisoformat(NOW))
    port = free_port()
    serve_env = cli_env(url, NOW)
    server = subprocess.Popen(
        [*CLOSING, "serve", "--port", str(port)],
        env=serve_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    result = Result(label, count, args.clients)
    try:
        wait_for_server(base, server)
        asyncio.run(fan_out(base, tokens, url, marks, args, result))
    finally:
        server.terminate()
        server.wait(10)
    return result


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(results: list[Result], args: argparse.Namespace, notes: list[str]) -> None:
    print(
        f"\nclosing serve: {args.clients} SSE clients, {args.marks} marks, {args.pages} page loads"
        f" each · python {sys.version.split()[0]} · {os.cpu_count()} CPUs · poll 0.3 s"
    )
    for note in notes:
        print(f"  ({note})")
    print(
        f"\n{'deal':<28} {'team page ms':>13} {'one-row page ms':>16} {'page kB':>8} "
        f"{'event kB':>9} {'connect s':>9}"
    )
    for r in results:
        print(
            f"{r.label:<28} {statistics.median(r.page_team_ms):>8.1f} med "
            f"{statistics.median(r.page_purchaser_ms):>11.1f} med {r.page_bytes / 1024:>8.1f} "
            f"{r.event_bytes / 1024:>9.1f} {r.connect_s:>9.2f}"
        )
    print(
        f"\n{'mark -> event, every stream':<28} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} "
        f"{'deliveries':>11} {'missed':>7}"
    )
    for r in results:
        print(
            f"{r.label:<28} {statistics.median(r.latencies_ms):>10.0f} "
            f"{pct(r.latencies_ms, 0.95):>8.0f} {max(r.latencies_ms):>8.0f} "
            f"{len(r.latencies_ms):>11} {r.missed:>7}"
        )
    print(
        "\nbudget: every stream gets every mark within 1 s"
        + (" (not judged: smoke run)" if args.smoke else "")
    )
    for r in results:
        ok = r.missed == 0 and max(r.latencies_ms) < 1000
        verdict = "----" if args.smoke else "PASS" if ok else "FAIL"
        print(f"  {verdict}  {r.label}: worst {max(r.latencies_ms):.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="SSE clients (50)")
    parser.add_argument("--marks", type=int, default=8, help="marks per deal (8)")
    parser.add_argument("--pages", type=int, default=20, help="page loads per kind (20)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL too")
    parser.add_argument("--smoke", action="store_true", help="2 clients, 2 marks, small deals")
    args = parser.parse_args()
    big_web = BIG_WEB
    if args.smoke:
        args.clients, args.marks, args.pages, big_web = 2, 2, 1, SMOKE_BIG
    started = time.perf_counter()
    results: list[Result] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="closing-bench-web-") as tmp_dir:
        tmp = Path(tmp_dir)
        big = tmp / "big.yaml"
        generate_deal(big, big_web, slug=f"generated-{big_web}")
        deals = [("seed, 2 purchasers", SEED, 2), (f"{big_web:,} purchasers", big, big_web)]
        for n, (label, path, count) in enumerate(deals):
            url = f"sqlite:///{tmp / f'web{n}.db'}"
            results.append(bench_deal(f"{label} · sqlite", url, path, count, args))
        if args.postgres:
            why_not = postgres_available()
            if why_not:
                notes.append(f"postgresql skipped: {why_not}")
            else:
                for label, path, count in deals:
                    with postgres_schema("bench_web") as url:
                        results.append(bench_deal(f"{label} · postgresql", url, path, count, args))
    report(results, args, notes)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
