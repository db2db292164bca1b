"""Team streams of `closing serve` on a 2,000-purchaser deal: bytes per mark per stream, mark to
stream p95, page GET p95 during the marks; and the poll query of a deal behind 300,000 newer
events.

    python benchmarks/bench_streams.py [--clients N] [--marks K] [--postgres] [--smoke]

Part A (SQLite, and PostgreSQL with --postgres): the generated 2,000-purchaser deal (everyone
signed, every other one wired), `closing serve` in its own process on 127.0.0.1; N httpx clients
(one asyncio loop; `Accept-Encoding: gzip`, as browsers send) hold the team's stream open; K marks
are recorded one at a time in this process, each at a random moment of the server's 0.3 s poll.
Per mark and stream: the bytes on the wire (compressed) and as sent (the events' data), and the
time from the mark's commit to the event carrying it; meanwhile another client GETs the team's
page in a loop. Goals (issue 28): under 10 KB a mark a stream, p95 under 500 ms, pages under
100 ms.

Part B (each backend): the seed deal loaded, then a second deal with 300,000 events (inserted
directly, as a year of marks would leave them); the poll's query for the first deal's newest
event (`max(id) WHERE deal_id = ?`, and the whole change marker) timed, 200 times on one connection
(a prepared statement's generic plan would show here: closing prepares none), and its plan
shown. Goal: under 1 ms, through the `(deal_id, id)` index.

--smoke: 3 clients, 3 marks, a few dozen purchasers, 3,000 events; no budget judged (a test of
the suite runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
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
    seed_head,
    store_transaction,
)
from bench_web import (
    INIT_NOW,
    NOW,
    Streams,
    free_port,
    mark_and_wait,
    marks_on,
    pages_meanwhile,
    pct,
    share_tokens,
    wait_for_server,
)

from closing.domain.marking import MarkRequest

BIG = 2_000
NEWER_EVENTS = 300_000


@dataclass
class Figures:
    label: str
    clients: int
    marks: int = 0
    wire_bytes: int = 0  # every stream, after the first board
    data_bytes: int = 0
    first_board_bytes: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    pages_ms: list[float] = field(default_factory=list)
    missed: int = 0


async def record_marks(
    marks: list[str], record: Any, now: datetime, streams: Streams, figures: Figures
) -> None:
    """Each mark in turn, at a random moment of the server's 0.3 s poll; the time from its commit
    to its arrival on every stream."""
    for slug in marks:
        request = MarkRequest(slug, "wired", actor="bench", host="bench")
        wanted, committed, everywhere = await mark_and_wait(record, request, now, streams, 15)
        if not everywhere:
            figures.missed += 1
        figures.latencies_ms += [
            (next(t for i, t, _ in events if i >= wanted) - committed) * 1000
            for events in streams.events
            if any(i >= wanted for i, _, _ in events)
        ]
        figures.marks += 1


async def fan_out(base: str, team: str, url: str, marks: list[str], figures: Figures) -> None:
    streams = Streams(f"{base}/b/{team}/events", figures.clients, {"Accept-Encoding": "gzip"})
    limits = httpx.Limits(max_connections=figures.clients + 5)
    now = datetime.fromisoformat(NOW)
    with marks_on(url) as record:
        async with httpx.AsyncClient(timeout=httpx.Timeout(60, read=None), limits=limits) as client:
            tasks = [asyncio.create_task(streams.run(client, n)) for n in range(figures.clients)]
            if not await streams.until(lambda: all(streams.events), 120):
                sys.exit("not every stream got its first board")
            figures.first_board_bytes = streams.events[0][0][2]
            wire_before = streams.wire()
            with pages_meanwhile(f"{base}/b/{team}", figures.pages_ms):
                await record_marks(marks, record, now, streams, figures)
                await asyncio.sleep(0.5)
            figures.wire_bytes = streams.wire() - wire_before
            figures.data_bytes = sum(sum(e[2] for e in ev[1:]) for ev in streams.events)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def part_a(label: str, url: str, folder: Path, count: int, args: argparse.Namespace) -> Figures:
    deal = folder / f"big-{label}.yaml"
    generate_deal(deal, count)
    closing(["init", str(deal)], cli_env(url, INIT_NOW))
    record_progress(url)
    marks = [purchaser_slug(n) for n in range(2, 2 * args.marks + 2, 2)]  # signed, not wired
    team, _ = share_tokens(url, ("team", purchaser_slug(2)), datetime.fromisoformat(NOW))
    port = free_port()
    server = subprocess.Popen(
        [*CLOSING, "serve", "--port", str(port)],
        env=cli_env(url, NOW),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    figures = Figures(label, args.clients)
    try:
        wait_for_server(base, server)
        asyncio.run(fan_out(base, team, url, marks, figures))
    finally:
        server.terminate()
        server.wait(10)
    return figures


def part_b(label: str, url: str, folder: Path, newer: int) -> None:
    """The seed deal, then a deal with `newer` events after it; the poll of the first."""
    from closing.store.shares import change_marker

    env = cli_env(url, INIT_NOW)
    closing(["init", str(SEED)], env)
    other = folder / f"newer-{label}.yaml"
    text = SEED.read_text(encoding="utf-8")
    other.write_text(
        seed_head("newer-deal") + "\npurchasers:" + text.split("\npurchasers:", 1)[1],
        encoding="utf-8",
    )
    closing(["init", str(other)], env)
    closing(["mark-signed", "stonestreet", "--deal", "neotherapeutics-2002-06-07"], env)
    closing(["mark-signed", "stonestreet", "--deal", "newer-deal"], env)
    with store_transaction(url) as connection:
        postgres = not connection.sqlite
        if postgres:
            connection.execute("SET LOCAL session_replication_role = replica")  # no triggers
        ((old,),) = connection.rows("SELECT id FROM deal WHERE slug = 'neotherapeutics-2002-06-07'")
        ((new, template),) = connection.rows(
            "SELECT deal_id, max(id) FROM event WHERE deal_id = "
            "(SELECT id FROM deal WHERE slug = 'newer-deal') GROUP BY deal_id"
        )
        columns = (
            "deal_id, purchaser_id, kind, step, occurred_at, recorded_at, actor, host, "
            "evidence_kind, evidence, amount, note, prev_hash, hash"
        )
        series = (
            "generate_series(1, ?) AS g(n)"
            if postgres
            else "(WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?) "
            "SELECT n FROM g) AS g"
        )
        connection.execute(
            f"INSERT INTO event ({columns}, seq) SELECT {columns}, 1000 + g.n "
            f"FROM event, {series} WHERE event.id = ?",
            (newer, template),
        )
        del new
        if postgres:
            connection.execute("ANALYZE event")
    query = "SELECT coalesce(max(id), 0) FROM event WHERE deal_id = ?"
    with store_transaction(url) as connection:
        if not connection.sqlite:
            connection.execute("ANALYZE event")
        explain = "EXPLAIN QUERY PLAN " if connection.sqlite else "EXPLAIN "
        plan = [" ".join(str(c) for c in row) for row in connection.rows(explain + query, (old,))]
        times, markers = [], []
        for _ in range(200):
            started = time.perf_counter()
            connection.rows(query, (old,))
            times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            change_marker(connection, old)
            markers.append((time.perf_counter() - started) * 1000)
        total = connection.value("SELECT count(*) FROM event")
    print(
        f"(B) {label}: poll of the older deal behind {total - 3:,} newer events: max(id) "
        f"{statistics.median(times):.3f} ms median, {pct(times, 0.95):.3f} ms p95; whole change "
        f"marker {statistics.median(markers):.3f} ms median"
    )
    print(f"(B) {label}: plan: " + " | ".join(plan))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--marks", type=int, default=50)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    count, newer = (BIG, NEWER_EVENTS)
    if args.smoke:
        args.clients, args.marks, count, newer = 3, 3, SMOKE_BIG, 3_000
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    print(f"bench_streams: {count:,} purchasers, {args.clients} team streams, {args.marks} marks")
    with tempfile.TemporaryDirectory(prefix="closing-bench-streams-") as name:
        folder = Path(name)
        for backend in backends:
            for part in ("a", "b"):
                if backend == "sqlite":
                    url = f"sqlite:///{folder / f'{part}.db'}"
                    run(part, backend, url, folder, count, newer, args)
                else:
                    why = postgres_available()
                    if why:
                        print(f"postgresql skipped: {why}")
                        continue
                    with postgres_schema(f"bench_streams_{part}") as url:
                        run(part, backend, url, folder, count, newer, args)
    return 0


def run(
    part: str,
    backend: str,
    url: str,
    folder: Path,
    count: int,
    newer: int,
    args: argparse.Namespace,
) -> None:
    if part == "b":
        part_b(backend, url, folder, newer)
        return
    f = part_a(backend, url, folder, count, args)
    per = max(f.marks * f.clients, 1)
    wire, data = f.wire_bytes / per / 1000, f.data_bytes / per / 1000
    print(
        f"(A) {backend}: first board {f.first_board_bytes / 1000:.1f} KB; per mark per stream "
        f"{wire:.2f} KB on the wire (gzip), {data:.2f} KB of events; mark to stream p50 "
        f"{pct(f.latencies_ms, 0.5):.0f} ms, p95 "
        f"{pct(f.latencies_ms, 0.95):.0f} ms; page GET during the marks p50 "
        f"{pct(f.pages_ms, 0.5):.0f} ms, p95 {pct(f.pages_ms, 0.95):.0f} ms "
        f"({len(f.pages_ms)} GETs); missed {f.missed}"
    )


if __name__ == "__main__":
    sys.exit(main())
