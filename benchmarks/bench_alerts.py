"""Alert wake-up cost on a 10,000-purchaser deal, and due-to-delivery lag of the real daemon.

    python benchmarks/bench_alerts.py [--runs N] [--strict] [--skip-pass] [--skip-lag]
                                      [--no-postgres] [--profile] [--smoke]

Part A (10,000 purchasers, all signed, half wired, every detail filled, alerts at 2h and 30m
before each deadline and at it): the time to decide which alerts are due at one wake-up,
  (i)  the pure planner `closing.domain.alert_plan.plan_alerts` on data already in memory, and
  (ii) one whole wake-up decision as the daemon takes it (`wake_up` below, what
       `closing.services.alerts.decide` does up to its writes): one transaction that reads the
       deal row, the purchasers, their events and the ledger's keys, then plans,
at 16:31 PDT (15,000 alerts due) and at 14:00 PDT (none due), on SQLite and on PostgreSQL; then
  (iii) on SQLite, the daemon's whole first pass at 16:31 (decide: write the ledger; deliver: send
       every delivery to the log channel), and (ii) again at 16:45 with that ledger (none due).
The budget (< 200 ms) is judged on (ii), the real wake-up, at every moment and backend.

Part B: the real daemon (`closing alerts run --safety 30 --notify json://...`) on a running clock
(CLOSING_NOW=2002-06-07T16:59:50-07:00@<anchor>) delivering to a stdlib webhook on 127.0.0.1;
lag = arrival time - (anchor + alert due time - 16:59:50 PDT). Budget: every alert within 1 s.
Once on the seed (2 purchasers) and once on a 10,000-purchaser deal in which 5 purchasers have
not signed (20 alerts, but every wake-up plans all 10,000).

Prints the measurements and PASS/FAIL budget lines; exits 1 on a FAIL only with --strict.

--smoke: every part on a deal of a few dozen purchasers, one timed run each, the daemons' running
clock started at 16:59:58 (the alerts due before it go out late, in its first pass) and the two
daemons run side by side; no budget judged (a test of the suite runs it, so that the script keeps
working).

Every call into closing's services and store is in one of the helpers under "the internals this
script calls", so a change of their API is a change there.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _deals import (
    BIG,
    CLOSING,
    ROOT,
    SMOKE_BIG,
    cli_env,
    closing,
    generate_deal,
    postgres_available,
    postgres_schema,
    purchaser_slug,
    record_progress,
    seed_with_alerts,
)

LOAD_AT_START = os.getloadavg()
BUDGET_MS = 200.0
LAG_BUDGET_S = 1.0
INIT_NOW = "2002-06-07T07:00:00-07:00"
DUE_MANY = "2002-06-07T16:31:00-07:00"  # after 15:00 and 16:30: every open step's alerts due
DUE_NONE = "2002-06-07T14:00:00-07:00"  # before the first (15:00)
AFTER_PASS = "2002-06-07T16:45:00-07:00"  # after the 16:31 pass: the ledger has them all
DEFAULT_ALERTS = "alerts:\n  before: [2h, 30m]\n  at_deadline: true\n"
# Digests off: each of the big deal's 5 unsigned purchasers gets alerts of its own (with them on,
# the default, more than 3 alerts due at one moment go out as one message).
FAST_ALERTS = (
    "alerts:\n  before: [3s]\n  at_deadline: true\n  overdue:\n    every: 2s\n    times: 2\n"
    "  digest: false\n"
)
LAG_START = datetime.fromisoformat("2002-06-07T16:59:50-07:00")
SMOKE_LAG_START = datetime.fromisoformat("2002-06-07T16:59:58-07:00")
LAST_DUE = datetime.fromisoformat("2002-06-07T17:00:04-07:00")  # overdue-2 of the 17:00 cutoff
OVERDUE_EVERY = timedelta(seconds=2)
UNSIGNED = 5  # purchasers of the 10k lag deal that have not signed


# --- the internals this script calls (one place to update when the services API moves) ---------


@contextmanager
def store_of(url: str) -> Iterator[Any]:
    """What the alert service reads and writes through: the `Database`."""
    from closing.store.connection import Database

    database = Database(url)
    try:
        yield database
    finally:
        database.close()


def planner_inputs(database: Any) -> tuple[Any, list[Any], dict[int, list[Any]], set[Any]]:
    """The only deal, its purchasers, their events and the ledger's keys: what `plan_alerts`
    takes."""
    from closing.services.deals import open_deal
    from closing.store.alerts import alert_keys
    from closing.store.deals import parties
    from closing.store.events import events_by_party

    with database.transaction(write=False) as connection:
        deal = open_deal(connection, None)
        purchasers = parties(connection, deal.id)[0]
        events = events_by_party(connection, deal.id)
        return deal, purchasers, events, alert_keys(connection, deal.id)


def wake_up(
    database: Any, deal_id: int, now: datetime, cache: Any = None
) -> tuple[int, datetime | None]:
    """What the daemon computes at a wake-up before it writes: deal row, terms, purchasers,
    events and the ledger's keys, then the plan, with the garbage collector paused as the
    daemon's wake-up pauses it; with `cache` (a warm `new_ledger_cache()`, as the daemon keeps
    between wake-ups) the ledger is not read again. (How many are due, when the next falls.)"""
    from closing.domain.alert_plan import plan_alerts
    from closing.services.alerts.daemon import _no_collection
    from closing.store.alerts import alert_keys
    from closing.store.deals import deal_by_id, parties
    from closing.store.events import events_by_party

    with _no_collection(), database.transaction() as connection:
        deal = deal_by_id(connection, deal_id)
        purchasers, company = parties(connection, deal.id)
        events = events_by_party(connection, deal.id)
        keys = (
            cache.keys(connection, deal_id)
            if cache is not None
            else alert_keys(connection, deal_id)
        )
        plan = plan_alerts(deal, purchasers, events, now, keys, company)
    return len(plan.due), plan.next_at


def new_ledger_cache() -> Any:
    """The daemon's cache of the ledger's keys, kept between wake-ups."""
    from closing.store.alerts import LedgerCache

    return LedgerCache()


@contextmanager
def reading_stages(database: Any, deal_id: int) -> Iterator[list[tuple[str, Callable[[], Any]]]]:
    """The reads of one wake-up, each a call to time, inside one open transaction."""
    from closing.services.deals import open_deal
    from closing.store.alerts import alert_keys
    from closing.store.deals import parties
    from closing.store.events import events_by_party

    with database.transaction(write=False) as connection:
        yield [
            ("deal row + terms", lambda: open_deal(connection, None)),
            ("parties", lambda: parties(connection, deal_id)[0]),
            ("events_by_party", lambda: events_by_party(connection, deal_id)),
            ("alert_keys", lambda: alert_keys(connection, deal_id)),
        ]


def ledger_keys(database: Any, deal_id: int) -> set[Any]:
    """The alert ledger's keys for the deal, read in a transaction of their own."""
    from closing.store.alerts import alert_keys

    with database.transaction(write=False) as connection:
        keys: set[Any] = alert_keys(connection, deal_id)
        return keys


def decide_pass(database: Any, now: datetime) -> list[Any]:
    """The daemon's decide step at `now`: every due alert written to the ledger (`.superseded`
    says whether a later one collapsed it)."""
    from closing.services.alerts.decide import decide

    decided, _ = decide(database, now, [])
    return decided


def deliver_pass(database: Any, now: datetime) -> list[Any]:
    """The daemon's deliver step at `now`, to the channels configured (here the log): the
    outcomes (`.status`)."""
    from closing.services.alerts.channels import Notifier
    from closing.services.alerts.deliver import configured_channels, deliver

    outcomes, _ = deliver(database, Notifier(), lambda: configured_channels(database, []), now)
    return outcomes


# --- measuring -----------------------------------------------------------------------------------


def median_ms(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """One warm-up call, then `runs` timed calls: (median ms, min ms, last result)."""
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times), result


# --- part A: the wake-up computation -------------------------------------------------------------


@dataclass
class Row:
    label: str
    median: float
    best: float
    note: str = ""


@dataclass
class PartA:
    rows: list[Row] = field(default_factory=list)
    verdicts: list[tuple[bool, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: str = ""


def local(moment: datetime | None) -> str:
    if moment is None:
        return "none"
    return moment.astimezone(LAG_START.tzinfo).strftime("%m-%d %H:%M")


def measure_backend(
    part: PartA, backend: str, url: str, runs: int, pure: bool, profile: bool
) -> None:
    with store_of(url) as store:
        measure_store(part, backend, store, runs, pure, profile)


def measure_store(
    part: PartA, backend: str, store: Any, runs: int, pure: bool, profile: bool
) -> None:
    from closing.domain.alert_plan import plan_alerts
    from closing.domain.events import replay

    deal, purchasers, events, ledger = planner_inputs(store)
    machine = deal.machine
    if pure:
        for moment in (DUE_MANY, DUE_NONE):
            now = datetime.fromisoformat(moment)

            def plan(now: datetime = now) -> Any:
                return plan_alerts(deal, purchasers, events, now, ledger)

            med, best, result = median_ms(plan, runs)
            part.rows.append(
                Row(
                    f"(i)  plan_alerts in memory at {moment[11:16]}",
                    med,
                    best,
                    f"{len(result.due):,} due, next {local(result.next_at)}",
                )
            )
        med, _, _ = median_ms(
            lambda: [replay(machine, events.get(p.id, [])) for p in purchasers], runs
        )
        part.notes.append(
            f"of (i): replaying {len(purchasers):,} purchasers' events through the transitions "
            f"machine alone takes {med:.0f} ms"
        )
    for moment in (DUE_MANY, DUE_NONE):
        now = datetime.fromisoformat(moment)
        med, best, (due, next_at) = median_ms(lambda now=now: wake_up(store, deal.id, now), runs)
        label = f"(ii) {backend}: wake-up read + plan at {moment[11:16]}"
        part.rows.append(Row(label, med, best, f"{due:,} due, next {local(next_at)}"))
        part.verdicts.append((med < BUDGET_MS, f"{label}: {med:.0f} ms (budget < {BUDGET_MS:.0f})"))
    # Where one wake-up's reading time goes, query by query.
    with reading_stages(store, deal.id) as stages:
        parts = []
        for name, fn in stages:
            med, _, result = median_ms(fn, runs)
            size = f" ({len(result):,} rows)" if isinstance(result, list | set) else ""
            parts.append(f"{name}{size} {med:.0f} ms")
    part.notes.append(f"of (ii) {backend}, reading: " + ", ".join(parts))
    if profile and not part.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        wake_up(store, deal.id, datetime.fromisoformat(DUE_MANY))
        profiler.disable()
        part.profile = top_of(profiler, "tottime", 16)


def top_of(profiler: cProfile.Profile, order: str, count: int) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(count)
    text = out.getvalue()
    text = text[text.find("   ncalls") :].rstrip()
    for prefix in (sysconfig.get_paths()["purelib"] + "/", str(ROOT / "src") + "/"):
        text = text.replace(prefix, "")
    return text.replace(sysconfig.get_paths()["stdlib"] + "/", "")


def first_pass(part: PartA, url: str, runs: int, log_path: Path, count: int) -> None:
    """The daemon's whole first pass at 16:31 (SQLite): every alert written to the ledger, every
    delivery sent to the log channel (logged to a file, as a daemon's stderr would be)."""
    with store_of(url) as store:
        pass_on(part, store, url, runs, log_path, count)


def pass_on(part: PartA, store: Any, url: str, runs: int, log_path: Path, count: int) -> None:
    now = datetime.fromisoformat(DUE_MANY)
    logger = logging.getLogger("closing")
    handler = logging.FileHandler(log_path)
    logger.handlers[:], logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    # A read-only command run by someone else while the pass decides: every session of closing
    # starts with BEGIN IMMEDIATE on SQLite, so it waits for the decide transaction.
    probe = ["history", purchaser_slug(count // 2 + 2), "--json"]
    probe_env = cli_env(url, DUE_MANY)
    idle = statistics.median(timed_cli(probe, probe_env) for _ in range(min(runs, 3)))
    during: list[float] = []

    def concurrent_probe() -> None:
        time.sleep(0.5)
        during.append(timed_cli(probe, probe_env))

    prober = threading.Thread(target=concurrent_probe)
    try:
        start = time.perf_counter()
        prober.start()
        decided = decide_pass(store, now)
        decided_s = time.perf_counter() - start
        start = time.perf_counter()
        outcomes = deliver_pass(store, now)
        deliver_s = time.perf_counter() - start
    finally:
        prober.join()
        handler.close()
        logger.handlers[:] = []
    collapsed = sum(d.superseded for d in decided)
    sent = sum(1 for o in outcomes if o.status == "sent")
    part.rows.append(
        Row(
            "(iii) sqlite: whole pass at 16:31: decide (ledger)",
            decided_s * 1000,
            decided_s * 1000,
            f"{len(decided):,} alerts, {collapsed:,} collapsed",
        )
    )
    part.rows.append(
        Row(
            "(iii) sqlite: whole pass at 16:31: deliver (log)",
            deliver_s * 1000,
            deliver_s * 1000,
            f"{sent:,} sent, {(decided_s + deliver_s) / max(sent, 1) * 1000:.2f} ms/alert",
        )
    )
    part.notes.append(
        f"the last 16:30 alert of the first pass reached the log {60 + decided_s + deliver_s:.0f}"
        " s after its due time (the pass starts at 16:31, one wake-up per deal, serial deliveries)"
    )
    part.notes.append(
        f"`closing {' '.join(probe)}` started 0.5 s into decide took {during[0]:.1f} s "
        f"({idle:.2f} s when idle): the decide transaction holds SQLite's write lock and every "
        "closing session that writes begins with BEGIN IMMEDIATE (reads do not wait: WAL)"
    )
    now = datetime.fromisoformat(AFTER_PASS)
    deal_id = planner_inputs(store)[0].id
    cache = new_ledger_cache()
    wake_up(store, deal_id, now, cache)  # the daemon's first wake-up (or safety tick) reads it
    for label, ledger in (
        ("(ii) sqlite: wake-up at 16:45, full ledger kept by the daemon", cache),
        ("(ii) sqlite: safety wake-up at 16:45, full ledger re-read", None),
    ):
        med, best, (due, next_at) = median_ms(
            lambda ledger=ledger: wake_up(store, deal_id, now, ledger), runs
        )
        part.rows.append(Row(label, med, best, f"{due:,} due, next {local(next_at)}"))
        if ledger is not None:
            part.verdicts.append(
                (med < BUDGET_MS, f"{label}: {med:.0f} ms (budget < {BUDGET_MS:.0f})")
            )
    read, _, rows = median_ms(lambda: ledger_keys(store, deal_id), runs)
    part.notes.append(f"of (ii) at 16:45: alert_keys reads {len(rows):,} rows in {read:.0f} ms")


def timed_cli(args: list[str], env: dict[str, str]) -> float:
    """Seconds one `closing` command takes (it must succeed)."""
    start = time.perf_counter()
    closing(args, env)
    return time.perf_counter() - start


def part_a(tmp: Path, args: argparse.Namespace) -> PartA:
    part = PartA()
    deal_file = tmp / "big-alerts.yaml"
    generate_deal(deal_file, args.purchasers, slug="generated-alerts", alerts=DEFAULT_ALERTS)
    sqlite_db = tmp / "alerts-10k.db"
    url = f"sqlite:///{sqlite_db}"
    closing(["init", str(deal_file)], cli_env(url, INIT_NOW))
    record_progress(url)
    print("  A: sqlite deal loaded", file=sys.stderr, flush=True)
    measure_backend(part, "sqlite", url, args.runs, True, args.profile)
    why_not = None if args.no_postgres else postgres_available()
    if args.no_postgres:
        part.notes.append("postgresql skipped (--no-postgres)")
    elif why_not:
        part.notes.append(f"postgresql skipped: {why_not}")
    else:
        with postgres_schema("bench_alerts") as pg_url:
            closing(["init", str(deal_file)], cli_env(pg_url, INIT_NOW))
            record_progress(pg_url)
            print("  A: postgresql deal loaded", file=sys.stderr, flush=True)
            measure_backend(part, "postgresql", pg_url, args.runs, False, False)
    if not args.skip_pass:
        copy = tmp / "alerts-10k-pass.db"
        shutil.copyfile(sqlite_db, copy)
        print("  A: whole first pass (about a minute) ...", file=sys.stderr, flush=True)
        first_pass(part, f"sqlite:///{copy}", args.runs, tmp / "pass.log", args.purchasers)
    return part


# --- part B: lag to a webhook --------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    at: float
    key: str


class Webhook:
    """A stdlib HTTP server on 127.0.0.1 (ephemeral port) that records each POST's arrival."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                arrived = time.time()
                try:
                    message = str(json.loads(raw).get("message", ""))
                except ValueError:
                    message = raw.decode("utf-8", "replace")
                key = next(
                    (line[7:] for line in message.splitlines() if line.startswith("Alert: ")), "?"
                )
                with hook.lock:
                    hook.arrivals.append(Arrival(arrived, key))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def received(self) -> list[Arrival]:
        with self.lock:
            return list(self.arrivals)


@contextmanager
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()


def due_time(key: str, anchor: float, start: datetime) -> float:
    """The Unix time at which the running clock reached this alert's due time."""
    from closing.domain.dealfile.fields import parse_duration

    rule, stamp = key.split("/")[-2:]  # deal/purchaser/step/rule/deadline, deal/digest/rule/...
    deadline = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if rule.startswith("before-"):
        fire_at = deadline - parse_duration(rule[7:])
    elif rule.startswith("overdue-"):
        fire_at = deadline + OVERDUE_EVERY * int(rule[8:])
    else:
        fire_at = deadline
    return anchor + (fire_at - start).total_seconds()


@dataclass
class Lag:
    label: str
    expected: int
    lags: list[float]
    caught_up: str  # the daemon's first-pass log line: alerts already late when it started
    log_problems: list[str]


@dataclass(frozen=True)
class Daemon:
    """A daemon to run: on which deal, how many alerts it should deliver, how long to wait for a
    missing one after the last is due, where its log goes, and when its running clock starts."""

    label: str
    url: str
    expected: int
    wait_after: float
    log: Path
    start: datetime = LAG_START


def run_daemon(daemon: Daemon) -> Lag:
    """Start the daemon on the running clock; collect the webhook's arrivals; SIGTERM it."""
    label, url, expected, wait_after, log, start = astuple(daemon)
    with webhook() as hook:
        launched = time.time()
        anchor = float(int(launched) + 2)  # the clock reads `start` (16:59:50) then: whole seconds
        env = cli_env(url, f"{start.isoformat()}@{int(anchor)}")
        hook_url = f"json://127.0.0.1:{hook.port}/hook"
        with ExitStack() as stack:
            err = stack.enter_context(log.open("w"))
            process = subprocess.Popen(
                [*CLOSING, "alerts", "run", "--safety", "30", "--notify", hook_url],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            try:
                last_due = anchor + (LAST_DUE - start).total_seconds()
                stop_at = last_due + wait_after
                while time.time() < stop_at and len(hook.received()) < expected:
                    if process.poll() is not None:
                        break
                    time.sleep(0.05)
                time.sleep(0.3)  # anything still in flight
            finally:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(10)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
        arrivals = hook.received()
    text = log.read_text(encoding="utf-8", errors="replace")
    caught_up = next((line for line in text.splitlines() if "event=caught-up" in line), "")
    problems = [line for line in text.splitlines() if "level=ERROR" in line]
    if process.returncode not in (0, -signal.SIGTERM):
        problems.append(f"daemon exited {process.returncode}: {text[-500:]}")
    lags = [a.at - due_time(a.key, anchor, start) for a in arrivals if a.key != "?"]
    return Lag(label, expected, lags, caught_up[caught_up.find("event=") :], problems)


def part_b(tmp: Path, args: argparse.Namespace) -> list[Lag]:
    """The daemons on the seed and (unless --skip-big-lag) on the big deal, one after the other
    (side by side under --smoke, which starts their clocks later)."""
    start = SMOKE_LAG_START if args.smoke else LAG_START
    seed_file = tmp / "seed-alerts.yaml"
    seed_with_alerts(seed_file, FAST_ALERTS)
    seed_url = f"sqlite:///{tmp / 'lag-seed.db'}"
    closing(["init", str(seed_file)], cli_env(seed_url, INIT_NOW))
    # Nothing is signed: `signed` of each of the 2 purchasers has 4 occurrences.
    daemons = [Daemon("seed (2 purchasers)", seed_url, 2 * 4, 5.0, tmp / "seed.log", start)]
    if not args.skip_big_lag:
        count = args.purchasers
        big_file = tmp / "big-fast-alerts.yaml"
        generate_deal(big_file, count, slug="generated-fast", alerts=FAST_ALERTS)
        big_url = f"sqlite:///{tmp / 'lag-big.db'}"
        closing(["init", str(big_file)], cli_env(big_url, INIT_NOW))
        spread = count // UNSIGNED
        unsigned = {n * spread for n in range(UNSIGNED)}  # positions 0, 2000, ...

        def steps(position: int) -> list[str]:
            # Everyone else has signed, wired, been faxed and credited: only the original warrant
            # is open (due the next business day), so every wake-up plans all the purchasers.
            if position in unsigned:
                return []
            return ["signed", "wired", "warrant_faxed", "dwac_credited"]

        record_progress(big_url, steps, spacing=timedelta(minutes=30))
        label = f"{size_label(count)} purchasers, {UNSIGNED} unsigned"
        daemons.append(Daemon(label, big_url, UNSIGNED * 4, 8.0, tmp / "big.log", start))
    if args.smoke:
        with ThreadPoolExecutor(len(daemons)) as pool:
            return list(pool.map(run_daemon, daemons))
    results = []
    for daemon in daemons:
        print(f"  B: daemon on {daemon.label} (about 20 s) ...", file=sys.stderr, flush=True)
        results.append(run_daemon(daemon))
    return results


def size_label(count: int) -> str:
    return "10k" if count == BIG else f"{count:,}"


# --- report --------------------------------------------------------------------------------------


def report(
    part: PartA | None, lags: list[Lag], runs: int, count: int, smoke: bool
) -> list[tuple[bool, str]]:
    verdicts: list[tuple[bool, str]] = []
    load = ", ".join(f"{x:.1f}" for x in LOAD_AT_START)
    print(
        f"\nclosing alerts · python {sys.version.split()[0]} · {os.cpu_count()} CPUs"
        f" · load average at start {load}"
    )
    if part is not None:
        print(f"\nA. due-alert computation at one wake-up, {count:,} purchasers (all signed, half")
        print(f"   wired; alerts 2h and 30m before and at each deadline); median of {runs} after")
        print("   one warm-up")
        print(f"\n{'measurement':<54} {'median ms':>9} {'min ms':>8}  result")
        print("-" * 100)
        for row in part.rows:
            print(f"{row.label:<54} {row.median:>9.0f} {row.best:>8.0f}  {row.note}")
        for note in part.notes:
            print(f"  · {note}")
        print("  · the budget is judged on (ii), the real wake-up (session + deal + reads + plan)")
        if part.profile:
            print("\n  profile of one (ii) sqlite wake-up at 16:31, by own time:")
            print("\n".join("    " + line for line in part.profile.splitlines()))
        verdicts += part.verdicts
    if lags:
        print("\nB. due-to-webhook lag of `closing alerts run` (running clock, SQLite, json://)")
        print(f"\n{'deal':<60} {'alerts':>7} {'min s':>6} {'median':>7} {'max s':>6}")
        print("-" * 90)
        for lag in lags:
            got = f"{len(lag.lags)}/{lag.expected}"
            if lag.lags:
                low, mid, high = min(lag.lags), statistics.median(lag.lags), max(lag.lags)
                print(f"{lag.label:<60} {got:>7} {low:>6.3f} {mid:>7.3f} {high:>6.3f}")
            else:
                print(f"{lag.label:<60} {got:>7} {'-':>6} {'-':>7} {'-':>6}")
            order = ", ".join(f"{x:.3f}" for x in sorted(lag.lags))
            print(f"  · lags (s): {order or 'none'}")
            print(f"  · daemon's first pass: {lag.caught_up or 'not logged'} (0: up in time)")
            for problem in lag.log_problems[:5]:
                print(f"  · daemon log: {problem[:160]}")
            if lag.label.startswith(size_label(count)):
                names = ", ".join(
                    purchaser_slug(n * (count // UNSIGNED) + 1) for n in range(UNSIGNED)
                )
                others = f"the other {count - UNSIGNED:,}"
                print(f"  · unsigned: {names}; {others} have only the original warrant open")
            ok = len(lag.lags) == lag.expected and bool(lag.lags)
            ok = ok and max(lag.lags) < LAG_BUDGET_S and not lag.log_problems
            worst = f"{max(lag.lags):.3f} s" if lag.lags else "n/a"
            verdicts.append(
                (
                    ok,
                    f"lag, {lag.label}: max {worst}, {got} alerts received "
                    f"(budget: all, each < {LAG_BUDGET_S:.0f} s)",
                )
            )
    print("\nbudgets (not judged: smoke run):" if smoke else "\nbudgets:")
    for ok, text in verdicts:
        print(f"  {'----' if smoke else 'PASS' if ok else 'FAIL'}  {text}")
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per measurement (7)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a budget fails")
    parser.add_argument("--skip-pass", action="store_true", help="skip (iii), the whole pass")
    parser.add_argument("--skip-lag", action="store_true", help="skip part B")
    parser.add_argument("--skip-big-lag", action="store_true", help="part B on the seed only")
    parser.add_argument("--no-postgres", action="store_true", help="part A on SQLite only")
    parser.add_argument("--profile", action="store_true", help="profile one (ii) wake-up")
    parser.add_argument("--smoke", action="store_true", help="every part, small, once")
    args = parser.parse_args()
    args.purchasers = BIG
    if args.smoke:
        args.purchasers, args.runs, args.profile = SMOKE_BIG, 1, True
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="closing-bench-alerts-") as tmp_dir:
        tmp = Path(tmp_dir)
        part = part_a(tmp, args)
        lags = [] if args.skip_lag else part_b(tmp, args)
    verdicts = report(part, lags, args.runs, args.purchasers, args.smoke)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    failed = not args.smoke and not all(ok for ok, _ in verdicts)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
