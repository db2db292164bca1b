"""The signed-in team's live board under load: 200 streams, 50 marks from the CLI.

    python benchmarks/bench_web_team.py [--streams N] [--marks K] [--smoke]

On a generated 2,000-purchaser deal (signed by everyone, every other one wired) in SQLite,
`closing serve` runs as its own process with a frozen clock; its first admin signs in through a
one-time link (`closing team invite --print`) and N streams of the deal's board
(`/d/SLUG/events`, the session's cookie) stay open. K marks are then recorded one at a time by
the CLI as a whole process (`closing mark-wired PURCHASER`), each at a random moment of the
server's 0.3 s poll. A mark's latency on a stream: from its commit (the CLI process's return,
timed in that process on the wall clock) to the arrival of the stream's next event, on every
stream. Meanwhile another client loads the deal's page (`/d/SLUG/`) over and over: its round
trips are the page loads' latency.

--smoke: 2 streams, 2 marks, a few dozen purchasers, no budget judged (a test runs it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _deals import (
    CLOSING,
    SMOKE_BIG,
    cli_env,
    closing,
    generate_deal,
    purchaser_slug,
    record_progress,
)
from bench_web import free_port, pages_meanwhile, pct, wait_for_server

NOW = "2002-06-07T15:30:00-07:00"
INIT_NOW = "2002-06-07T07:00:00-07:00"
BIG = 2_000
# The CLI in a process of its own, saying on stdout when it returned (its commit is done by then).
TIMED_CLI = (
    "import sys, time\nfrom closing.cli import main\ntry:\n    main(sys.argv[1:])\n"
    "except SystemExit as stop:\n    code = stop.code or 0\nelse:\n    code = 0\n"
    "print(f'COMMITTED {time.time()!r}')\nsys.exit(code)\n"
)


class Streams:
    """N SSE connections; for each, the wall-clock arrival of every event."""

    def __init__(self, url: str, count: int) -> None:
        self.url = url
        self.count = count
        self.arrivals: list[list[float]] = [[] for _ in range(count)]

    async def run(self, client: httpx.AsyncClient, n: int) -> None:
        async with client.stream("GET", self.url) as response:
            response.raise_for_status()
            seen = False
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    seen = True
                elif line == "" and seen:
                    self.arrivals[n].append(time.time())
                    seen = False


def sign_in(base: str, env: dict[str, str], slug: str) -> str:
    """The cookie of a session of the deal's first admin (this OS account), signed in by link."""
    import pwd

    login = pwd.getpwuid(os.geteuid()).pw_name
    link = closing(["team", "invite", login, "--print", "--url", base, "--deal", slug], env)
    token = link.strip().rsplit("/", 1)[1]
    answer = httpx.post(f"{base}/signin", data={"token": token}, headers={"origin": base})
    if answer.status_code != 303:
        sys.exit(f"sign-in failed: {answer.status_code}")
    return answer.headers["set-cookie"].split(";")[0]


async def run(
    base: str, slug: str, cookie: str, env: dict[str, str], args: argparse.Namespace
) -> tuple[list[float], int, list[float]]:
    streams = Streams(f"{base}/d/{slug}/events", args.streams)
    limits = httpx.Limits(max_connections=args.streams + 5)
    latencies: list[float] = []
    missed_by: list[int] = []
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(60, read=None), limits=limits, headers={"cookie": cookie}
    ) as client:
        tasks = [asyncio.create_task(streams.run(client, n)) for n in range(args.streams)]
        deadline = time.monotonic() + 120
        while not all(streams.arrivals) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if not all(streams.arrivals):
            sys.exit("not every stream got its first event")
        pages: list[float] = []
        with pages_meanwhile(f"{base}/d/{slug}/", pages, {"cookie": cookie}):
            await record_marks(streams, env, args, latencies, missed_by)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return latencies, sum(missed_by), pages


async def record_marks(
    streams: Streams,
    env: dict[str, str],
    args: argparse.Namespace,
    latencies: list[float],
    missed_by: list[int],
) -> None:
    """The CLI's marks, one at a time, each at a random moment of the server's poll; each
    mark's arrival on every stream (or its absence, counted in `missed_by`)."""
    for n in range(args.marks):
        await asyncio.sleep(random.uniform(0.0, 0.3))
        counts = [len(a) for a in streams.arrivals]
        command = [sys.executable, "-c", TIMED_CLI, "mark-wired", purchaser_slug(2 * n + 2)]
        done = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"mark failed: {done.stderr[-2000:]}")
        committed = float(done.stdout.rsplit("COMMITTED ", 1)[1])
        end = time.monotonic() + 10
        while time.monotonic() < end and any(
            len(a) <= c for a, c in zip(streams.arrivals, counts, strict=True)
        ):
            await asyncio.sleep(0.01)
        for arrivals, count in zip(streams.arrivals, counts, strict=True):
            if len(arrivals) > count:
                latencies.append(max(0.0, arrivals[count] - committed) * 1000)
            else:
                missed_by.append(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200, help="open streams (200)")
    parser.add_argument("--marks", type=int, default=50, help="CLI marks (50)")
    parser.add_argument("--smoke", action="store_true", help="2 streams, 2 marks, a small deal")
    args = parser.parse_args()
    size = BIG
    if args.smoke:
        args.streams, args.marks, size = 2, 2, SMOKE_BIG
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="closing-bench-web-team-") as folder:
        deal = Path(folder) / "big.yaml"
        slug = f"generated-{size}"
        generate_deal(deal, size, slug=slug)
        url = f"sqlite:///{Path(folder) / 'team.db'}"
        closing(["init", str(deal)], cli_env(url, INIT_NOW))
        record_progress(url)
        port = free_port()
        base = f"http://localhost:{port}"
        env = cli_env(url, NOW)
        server = subprocess.Popen(
            [*CLOSING, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for_server(f"http://127.0.0.1:{port}", server)
            cookie = sign_in(base, env, slug)
            latencies, missed, pages = asyncio.run(run(base, slug, cookie, env, args))
        finally:
            server.terminate()
            server.wait(10)
    print(
        f"\nclosing serve, signed-in team: {args.streams} streams of /d/SLUG/events, "
        f"{args.marks} CLI marks · {size:,} purchasers · sqlite · poll 0.3 s · "
        f"python {sys.version.split()[0]} · {os.cpu_count()} CPUs"
    )
    print(
        f"commit -> arrival, every stream: p50 {statistics.median(latencies):.0f} ms, "
        f"p95 {pct(latencies, 0.95):.0f} ms, max {max(latencies):.0f} ms "
        f"({len(latencies)} deliveries, {missed} missed)"
    )
    print(
        f"page loads of /d/SLUG/ meanwhile: p50 {statistics.median(pages):.0f} ms, "
        f"p95 {pct(pages, 0.95):.0f} ms ({len(pages)} loads)"
    )
    judged = "" if not args.smoke else " (not judged: smoke run)"
    print(f"budgets: arrival p95 under 1 s, page loads p95 under 300 ms{judged}")
    if not args.smoke:
        ok_arrival = missed == 0 and pct(latencies, 0.95) < 1000
        ok_pages = pct(pages, 0.95) < 300
        print(f"  {'PASS' if ok_arrival else 'FAIL'}  arrival p95 {pct(latencies, 0.95):.0f} ms")
        print(f"  {'PASS' if ok_pages else 'FAIL'}  page loads p95 {pct(pages, 0.95):.0f} ms")
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
