"""Alert senders sharing the deals of a firm on one PostgreSQL: the 17:00 burst, a sender killed
mid-burst, and a sender's idle CPU.

    python benchmarks/bench_senders.py [--deals N] [--purchasers N] [--idle SECONDS] [--smoke]

200 deals x 20 purchasers (the seed's terms and steps, every detail filled) are loaded into one
PostgreSQL schema, each with `alerts: {before: [], at_deadline: true}` and one webhook: a stdlib
receiver on 127.0.0.1 that answers each POST after 20 ms and counts what it got by the request's
`Idempotency-Key` header. The senders are real `closing alerts run --share` processes on a running
clock (CLOSING_NOW=2002-06-07T17:00:00-07:00@<anchor>, the anchor a few seconds ahead, so that
they have started and planned before 17:00). Between runs the ledger and leases are emptied.

(a) one sender, (b) two sharing the deals: at 17:00 every alert of the burst (a digest per deal
on the webhook) is delivered once (by the receiver's count per key, checked against the ledger),
the last arriving within 3 s of the first.
(c) two senders, one killed with kill -9 as the burst arrives: the survivor finishes the dead
one's deals within 5 s of the kill; repeats (alerts the dead one had in flight) are dropped by
the receiver by Idempotency-Key, and the ledger shows two attempts for each of them.
(d) idle: the CPU time a sender uses over `--idle` seconds (60 by default) with the deals loaded
and nothing changing (after the burst, nothing more falls due).

--smoke: 4 deals x 3 purchasers, a 3-second idle window; no budget judged (a test of the suite
runs it, so that the script keeps working). PostgreSQL is required (CLOSING_TEST_POSTGRES_URL or
postgresql+psycopg://postgres@127.0.0.1:5432/test); without it the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _deals import CLOSING, cli_env, generate_deal, postgres_available, postgres_schema

BURST = datetime.fromisoformat("2002-06-07T17:00:00-07:00")
BURST_TEXT = "2002-06-07T17:00:00-07:00"
LOAD_AT = datetime.fromisoformat("2002-06-07T07:00:00-07:00")
DEADLINE_KEY = "/2002-06-08T00:00:00Z"  # the end of an alert key due at 17:00 PDT
RECEIVER_DELAY = 0.020
ALERTS = "alerts:\n  before: []\n  at_deadline: true\n  notify: ['{url}']\n"


# --- the receiver --------------------------------------------------------------------------------


@dataclass
class Receiver:
    """Counts each POST by its Idempotency-Key and when it came; answers after `delay`."""

    delay: float
    got: list[tuple[str, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def reset(self) -> None:
        with self.lock:
            self.got.clear()

    def arrivals(self) -> list[tuple[str, float]]:
        with self.lock:
            return list(self.got)


@contextmanager
def receiver(delay: float) -> Iterator[Receiver]:
    box = Receiver(delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with box.lock:
                box.got.append((self.headers.get("Idempotency-Key") or "", time.time()))
            time.sleep(box.delay)
            try:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


# --- the internals this script calls -------------------------------------------------------------


def load_deals(url: str, folder: Path, deals: int, purchasers: int, hook: str) -> None:
    """`deals` generated deals loaded in this process (as `closing init` would, without 200
    process start-ups)."""
    from closing.services.load import load_deal
    from closing.store.connection import Database

    database = Database(url)
    for n in range(deals):
        path = folder / f"firm-{n:03d}.yaml"
        generate_deal(path, purchasers, slug=f"firm-{n:03d}", alerts=ALERTS.format(url=hook))
        load_deal(database, str(path), LOAD_AT)
    database.close_all()


def reset_ledger(url: str) -> None:
    """The alert ledger, the leases and the senders' records emptied (the deals stay)."""
    from closing.store.connection import Database

    database = Database(url)
    with database.transaction() as connection:
        for table in ("alert_delivery", "alert", "alert_deal_lease", "alert_sender"):
            connection.execute(f"DELETE FROM {table}")
    database.close_all()


def webhook_ledger(url: str) -> tuple[Counter[str], Counter[str]]:
    """From the ledger: each 17:00 alert key sent on the webhook, and the attempts each took."""
    from closing.store.connection import Database

    database = Database(url)
    with database.transaction(write=False) as connection:
        rows = connection.rows(
            "SELECT alert.key, alert_delivery.status, alert_delivery.attempts FROM alert_delivery "
            "JOIN alert ON alert.id = alert_delivery.alert_id WHERE alert_delivery.channel <> 'log'"
        )
    database.close_all()
    statuses: Counter[str] = Counter()
    attempts: Counter[str] = Counter()
    for key, status, tries in rows:
        if key.endswith(DEADLINE_KEY):
            statuses[status] += 1
            attempts[key] = int(tries)
    return statuses, attempts


def start_sender(url: str, anchor: float, log: Path) -> subprocess.Popen[bytes]:
    env = cli_env(url, f"{BURST_TEXT}@{int(anchor)}")
    with log.open("ab") as out:
        return subprocess.Popen(
            [*CLOSING, "alerts", "run", "--share", "--safety", "30"],
            env=env,
            stdout=out,
            stderr=out,
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the runs -------------------------------------------------------------------------------------


@dataclass
class Burst:
    expected: int
    counts: Counter[str]
    first: float
    last: float
    statuses: Counter[str]
    attempts: Counter[str]
    anchor: float  # the Unix time at which the senders' clock read 17:00

    @property
    def spread(self) -> float:
        return self.last - self.first

    def line(self, name: str) -> str:
        anchor = self.anchor
        once = sum(1 for n in self.counts.values() if n == 1)
        repeats = sum(n - 1 for n in self.counts.values())
        return (
            f"{name}: {len(self.counts)}/{self.expected} alerts delivered ({once} once, "
            f"{repeats} repeats dropped by Idempotency-Key); first {self.first - anchor:+.2f} s "
            f"after 17:00, last {self.last - anchor:+.2f} s; last within {self.spread:.2f} s "
            f"of the first; ledger: {dict(self.statuses)}, "
            f"{sum(1 for n in self.attempts.values() if n == 2)} with two attempts"
        )


def run_burst(
    url: str,
    box: Receiver,
    senders: int,
    lead: float,
    expected: int,
    tmp: Path,
    kill_one: bool = False,
    idle: float = 0.0,
) -> tuple[Burst, float | None, float | None]:
    """A burst at 17:00 with `senders` sharing the deals; with `kill_one`, the first is killed
    (-9) as soon as the burst starts to arrive. Returns the burst, the kill time, and the idle CPU
    seconds of a survivor over `idle` seconds after it."""
    reset_ledger(url)
    box.reset()
    anchor = float(int(time.time() + lead))  # CLOSING_NOW's @ part is whole Unix seconds
    processes = [start_sender(url, anchor, tmp / f"sender-{n}.log") for n in range(senders)]
    killed_at: float | None = None
    idle_cpu: float | None = None
    try:
        deadline = anchor + 60
        while time.time() < deadline:
            if all(p.poll() is not None for p in processes) and not kill_one:
                break  # every sender stopped (a refused clock, a lost database): nothing will come
            got = {key for key, _ in box.arrivals() if key.endswith(DEADLINE_KEY)}
            if kill_one and killed_at is None and got:
                time.sleep(0.05)  # a few webhooks in flight
                processes[0].send_signal(signal.SIGKILL)
                processes[0].wait()
                killed_at = time.time()
            if len(got) >= expected:
                break
            time.sleep(0.02)
        time.sleep(1.0)  # any late repeat arrives
        if idle:
            survivor = processes[-1]
            before = cpu_seconds(survivor.pid)
            time.sleep(idle)
            idle_cpu = cpu_seconds(survivor.pid) - before
    finally:
        stop(processes)
    arrivals = [(key, at) for key, at in box.arrivals() if key.endswith(DEADLINE_KEY)]
    counts = Counter(key for key, _ in arrivals)
    times = [at for _, at in arrivals] or [anchor]
    statuses, attempts = webhook_ledger(url)
    burst = Burst(expected, counts, min(times), max(times), statuses, attempts, anchor)
    return burst, killed_at, idle_cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=200)
    parser.add_argument("--purchasers", type=int, default=20)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.deals, args.purchasers, args.idle = 4, 3, 3.0
    url = os.environ.get(
        "CLOSING_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    why = postgres_available(url)
    if why is not None:
        print(f"bench_senders: PostgreSQL is not available ({why}); nothing measured")
        return 0
    print(
        f"bench_senders: {args.deals} deals x {args.purchasers} purchasers on PostgreSQL, "
        f"a {RECEIVER_DELAY * 1000:.0f} ms webhook on 127.0.0.1; load {os.getloadavg()[0]:.2f}"
    )
    lead = 5.0 if args.smoke else 15.0
    results: list[tuple[str, bool]] = []
    with tempfile.TemporaryDirectory(prefix="closing-bench-senders-") as folder:
        tmp = Path(folder)
        with receiver(RECEIVER_DELAY) as box, postgres_schema("bench_senders", url) as scoped:
            hook = f"json://127.0.0.1:{box.port}/hook"
            started = time.perf_counter()
            load_deals(scoped, tmp, args.deals, args.purchasers, hook)
            print(f"loaded in {time.perf_counter() - started:.1f} s")
            expected = args.deals  # a digest per deal on the webhook at 17:00

            one, _, idle_cpu = run_burst(scoped, box, 1, lead, expected, tmp, idle=args.idle)
            print(one.line("(a) one sender"))
            two, _, _ = run_burst(scoped, box, 2, lead, expected, tmp)
            print(two.line("(b) two senders"))
            killed, killed_at, _ = run_burst(scoped, box, 2, lead, expected, tmp, kill_one=True)
            print(killed.line("(c) two senders, one killed -9 mid-burst"))
            after_kill = killed.last - (killed_at or killed.last)
            repeats = {key for key, n in killed.counts.items() if n > 1}
            twice = {key for key, n in killed.attempts.items() if n == 2}
            print(
                f"(c) survivor's last alert {after_kill:.2f} s after the kill; repeats "
                f"{len(repeats)}, ledger entries with two attempts {len(twice)} "
                f"(the repeats among them: {len(repeats & twice)})"
            )
            print(
                f"(d) idle sender ({args.deals} deals, nothing changing): "
                f"{idle_cpu or 0.0:.3f} CPU s over {args.idle:.0f} s "
                f"({100 * (idle_cpu or 0.0) / args.idle:.2f}% of a core)"
            )
            for name, burst in (("one", one), ("two", two), ("killed", killed)):
                results.append((f"{name}: every alert delivered", len(burst.counts) == expected))
            once = all(n == 1 for n in [*one.counts.values(), *two.counts.values()])
            results += [
                ("one: last within 3 s of the first", one.spread <= 3.0),
                ("two: last within 3 s of the first", two.spread <= 3.0),
                ("one/two: each alert once", once),
                ("killed: survivor done within 5 s of the kill", after_kill <= 5.0),
                ("killed: each repeat shows two attempts", repeats <= twice),
            ]
    print("budgets (not judged: smoke run):" if args.smoke else "budgets:")
    for name, ok in results:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
