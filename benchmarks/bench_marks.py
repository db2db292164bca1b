"""Marks per second with 1, 2 and 4 concurrent OS processes, on SQLite and on PostgreSQL.

    python benchmarks/bench_marks.py [--seconds S] [--rounds R] [--cli-marks N] [--procs 1,2,4]
                                     [--no-postgres] [--profile] [--strict] [--smoke]

Each backend gets the generated 10,000-purchaser deal (nothing marked yet). Every process marks
purchasers of its own (a disjoint slice; no two processes touch one purchaser), two ways:

  in-process  a worker process imports closing once, then records marks through the service
              `closing mark` uses (`marks_on` below) in a
              loop (signed for each of its purchasers, then wired, ...) for S seconds on a fixed
              clock: what the database sustains without Python start-up. R interleaved rounds
              (1, 2, 4 processes, then again), each continuing where the last stopped; the
              median round is reported;
  whole CLI   `closing mark-signed SLUG` as one subprocess per mark, N marks per process.

Throughput is accepted marks / wall time (from the first start to the last finish). Afterwards
the event table is checked: for each configuration, exactly one event per accepted mark (no loss,
no duplicates) and no event for anything else. Those checks are the budget lines; exits 1 on a
FAIL only with --strict.

--smoke: a deal of a few dozen purchasers, 1 and 2 processes, one short round, one CLI mark per
process, and the profiled worker (a test of the suite runs it, so that the script keeps working;
its checks are of correctness, not time, and still say PASS or FAIL).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
    store_transaction,
)

from closing.domain.marking import MarkRequest

LOAD_AT_START = os.getloadavg()
NOW = "2002-06-07T14:00:00-07:00"
INIT_NOW = "2002-06-07T07:00:00-07:00"
STEPS = ["signed", "wired", "warrant_faxed", "dwac_credited", "warrant_delivered"]


@dataclass(frozen=True)
class Sizes:
    purchasers: int  # of the generated deal
    in_process: int  # purchasers per in-process configuration (x5 steps of capacity)
    cli: int  # purchasers per whole-CLI configuration
    profile: int  # purchasers for the profiled worker (--profile), after the measured ones


REAL = Sizes(BIG, 2_400, 400, 1_000)
SMOKE = Sizes(SMOKE_BIG, 4, 2, 2)


# --- the internals this script calls (one place to update when the services API moves) ---------


@contextmanager
def marks_on(url: str) -> Iterator[Callable[[MarkRequest, datetime], Any]]:
    """Record marks in this process through the service `closing mark` uses: `record(request,
    now)`, which raises `RefusedError` for a mark the deal does not allow."""
    from closing.services.mark import mark
    from closing.store.connection import Database

    database = Database(url)
    try:
        yield lambda request, now: mark(database, None, request, now)
    finally:
        database.close()


# --- the worker process --------------------------------------------------------------------------


def worker(url: str, first: int, count: int, skip: int, seconds: float, profile: bool) -> None:
    """Mark the purchasers at positions [first, first + count), step by step, for `seconds`,
    skipping the first `skip` (step, purchaser) pairs (done in an earlier round).

    Prints `ready` once warmed up, waits for a line on stdin, then prints one JSON line."""
    with marks_on(url) as record:
        marks(record, first, count, skip, seconds, profile)


def marks(
    record: Callable[[MarkRequest, datetime], Any],
    first: int,
    count: int,
    skip: int,
    seconds: float,
    profile: bool,
) -> None:
    """The worker's loop (see `worker`)."""
    from closing.domain.errors import ClosingError, RefusedError

    now = datetime.fromisoformat(NOW)
    actor = f"bench-{os.getpid()}"
    # Warm up (connection, schema check, statement cache) with a mark that is always refused
    # (already signed, or else dated in the future), so it writes nothing.
    tomorrow = now + timedelta(days=1)
    with contextlib.suppress(RefusedError):
        record(MarkRequest(purchaser_slug(first + 1), "signed", at=tomorrow), now)
    print("ready", flush=True)
    sys.stdin.readline()
    profiler = cProfile.Profile() if profile else None
    accepted: list[tuple[int, str]] = []
    latencies: list[float] = []
    refused = 0
    errors: list[str] = []
    work = [(step, position) for step in STEPS for position in range(first, first + count)]
    work = work[skip:]
    start = time.time()
    stop = time.perf_counter() + seconds
    if profiler:
        profiler.enable()
    for step, position in work:
        began = time.perf_counter()
        if began >= stop:
            break
        request = MarkRequest(purchaser_slug(position + 1), step, actor=actor, host="bench")
        try:
            record(request, now)
            accepted.append((position, step))
        except RefusedError:
            refused += 1
        except ClosingError as error:
            errors.append(f"{type(error).__name__}: {error.message}"[:200])
        except Exception as error:  # a bug: report it, keep measuring
            errors.append(f"{type(error).__name__}: {error}"[:200])
        latencies.append((time.perf_counter() - began) * 1000)
    end = time.time()
    if profiler:
        profiler.disable()
    result = {
        "accepted": accepted,
        "refused": refused,
        "errors": errors,
        "start": start,
        "end": end,
        "latencies": latencies,
        "tried": len(latencies),
        "exhausted": len(latencies) == len(work),
        "profile": top_of(profiler) if profiler else "",
    }
    print(json.dumps(result), flush=True)


def top_of(profiler: cProfile.Profile, count: int = 22) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(count)
    text = out.getvalue()
    text = text[text.find("   ncalls") :].rstrip()
    for prefix in (sysconfig.get_paths()["purelib"] + "/", str(ROOT / "src") + "/"):
        text = text.replace(prefix, "")
    return text.replace(sysconfig.get_paths()["stdlib"] + "/", "")


# --- the runner ----------------------------------------------------------------------------------


@dataclass
class Config:
    backend: str
    mode: str  # in-process | whole CLI
    procs: int
    first: int  # the block of purchaser positions this configuration owns
    count: int
    accepted: list[tuple[int, str]] = field(default_factory=list)
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0
    rates: list[float] = field(default_factory=list)  # one per round
    done: dict[int, int] = field(default_factory=dict)  # worker slice -> pairs tried so far
    latencies: list[float] = field(default_factory=list)
    exhausted: bool = False
    check: str = ""
    check_ok: bool = False
    profile: str = ""

    @property
    def rate(self) -> float:
        """The median round's marks per second."""
        if self.rates:
            return statistics.median(self.rates)
        return len(self.accepted) / self.wall if self.wall else 0.0


def slices(first: int, count: int, procs: int) -> list[tuple[int, int]]:
    size = count // procs
    return [(first + i * size, size) for i in range(procs)]


def run_in_process(config: Config, url: str, seconds: float, profile: bool) -> None:
    """One round: `procs` worker processes, started together, each on its own purchasers."""
    script = str(Path(__file__).resolve())
    workers = []
    parts = slices(config.first, config.count, config.procs)
    for index, (first, count) in enumerate(parts):
        skip = str(config.done.get(index, 0))
        cmd = [sys.executable, script, "--worker", url, str(first), str(count), skip, str(seconds)]
        if profile:
            cmd.append("--profile")
        workers.append(
            subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")},
            )
        )
    for process in workers:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if line != "ready":
            process.wait()
            sys.exit(f"worker failed to start ({process.returncode}): {line}")
    for process in workers:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process in workers:
        out, _ = process.communicate(timeout=seconds + 120)
        if process.returncode != 0:
            sys.exit(f"worker failed ({process.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    for index, result in enumerate(results):
        config.done[index] = config.done.get(index, 0) + result["tried"]
        config.accepted += [(p, s) for p, s in result["accepted"]]
        config.refused += result["refused"]
        config.errors += result["errors"]
        config.latencies += result["latencies"]
        config.exhausted = config.exhausted or result["exhausted"]
        config.profile = config.profile or result["profile"]
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    config.wall += wall
    config.rates.append(sum(len(r["accepted"]) for r in results) / wall)


def run_cli(config: Config, url: str, marks: int) -> None:
    """`procs` threads, each running `closing mark-signed SLUG` subprocesses one after another."""
    env = cli_env(url, NOW)
    lock = threading.Lock()

    def loop(first: int, count: int) -> None:
        for position in range(first, first + min(count, marks)):
            began = time.perf_counter()
            done = subprocess.run(
                [*CLOSING, "mark-signed", purchaser_slug(position + 1)],
                env=env,
                capture_output=True,
                text=True,
            )
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                config.latencies.append(elapsed)
                if done.returncode == 0:
                    config.accepted.append((position, "signed"))
                elif done.returncode == 5:
                    config.refused += 1
                else:
                    config.errors.append(f"exit {done.returncode}: {done.stderr.strip()[-200:]}")

    threads = [
        threading.Thread(target=loop, args=part)
        for part in slices(config.first, config.count, config.procs)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    config.wall = time.perf_counter() - start


def verify(config: Config, url: str) -> None:
    """Exactly one event per accepted mark in this configuration's block, and nothing else."""
    query = (
        "SELECT purchaser.position, event.step, count(*) FROM purchaser"
        " JOIN event ON event.purchaser_id = purchaser.id"
        " WHERE purchaser.position >= ? AND purchaser.position < ?"
        " GROUP BY purchaser.position, event.step"
    )
    with store_transaction(url) as connection:
        rows = connection.rows(query, (config.first, config.first + config.count))
    found = {(position, step): n for position, step, n in rows}
    wanted = Counter(config.accepted)
    duplicates = sum(1 for n in found.values() if n > 1)
    missing = sum(1 for key in wanted if key not in found)
    extra = sum(1 for key in found if key not in wanted)
    twice = sum(1 for n in wanted.values() if n > 1)
    total = sum(found.values())
    config.check_ok = total == len(config.accepted) and not (
        duplicates or missing or extra or twice
    )
    config.check = (
        f"{total:,} events for {len(config.accepted):,} accepted marks"
        + (f", {missing} lost" if missing else "")
        + (f", {duplicates} duplicated" if duplicates else "")
        + (f", {extra} unexpected" if extra else "")
        + (f", {twice} accepted twice" if twice else "")
    )


def count_events(url: str) -> int:
    with store_transaction(url) as connection:
        # the marks: not the deal's own events (its load made its operator the admin)
        return int(connection.value("SELECT count(*) FROM event WHERE step <> ''"))


def bench_backend(
    backend: str,
    url: str,
    deal_file: Path,
    args: argparse.Namespace,
    procs: list[int],
    sizes: Sizes,
) -> list[Config]:
    closing(["init", str(deal_file)], cli_env(url, INIT_NOW))
    print(f"  {backend}: deal loaded", file=sys.stderr, flush=True)
    configs: list[Config] = []
    position = 0
    for n in procs:
        configs.append(Config(backend, "in-process", n, position, sizes.in_process))
        position += sizes.in_process
    for round_number in range(args.rounds):
        for config in configs:
            run_in_process(config, url, args.seconds, False)
        rates = ", ".join(f"x{c.procs} {c.rates[-1]:.0f}/s" for c in configs)
        print(f"  {backend}: in-process round {round_number + 1}: {rates}", file=sys.stderr)
    for config in configs:
        verify(config, url)
    for n in procs:
        config = Config(backend, "whole CLI", n, position, sizes.cli)
        position += sizes.cli
        run_cli(config, url, args.cli_marks)
        verify(config, url)
        configs.append(config)
        print(f"  {backend}: whole CLI x{n}: {config.rate:.1f}/s", file=sys.stderr, flush=True)
    if args.profile:  # an extra, unmeasured run: the profiler slows the worker down
        config = Config(backend, "profiled", 1, position, sizes.profile)
        run_in_process(config, url, args.seconds, True)
        verify(config, url)
        configs.append(config)
    total = count_events(url)
    accepted = sum(len(c.accepted) for c in configs)
    configs[-1].check += f"; whole table: {total:,} events, {accepted:,} accepted in all"
    configs[-1].check_ok = configs[-1].check_ok and total == accepted
    return configs


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(configs: list[Config], notes: list[str], args: argparse.Namespace, sizes: Sizes) -> bool:
    load = ", ".join(f"{x:.1f}" for x in LOAD_AT_START)
    print(
        f"\nclosing marks per second · python {sys.version.split()[0]} · {os.cpu_count()} CPUs"
        f" · load average at start {load}"
    )
    print(
        f"{sizes.purchasers:,}-purchaser deal per backend · each process marks its own purchasers"
    )
    print(
        f"in-process: {args.seconds:g} s of marks (marks_on) per worker process,"
        f" median of {args.rounds} interleaved rounds (min-max under (range))"
    )
    print(f"whole CLI: {args.cli_marks} `closing mark-signed` subprocesses per process\n")
    header = (
        f"{'backend':<11} {'mode':<11} {'procs':>5} {'marks':>6} {'wall s':>7} "
        f"{'marks/s':>8} {'(range)':>11} {'x 1 proc':>8} {'p50 ms':>7} {'p95 ms':>7}  check"
    )
    print(header)
    print("-" * (len(header) + 40))
    base: dict[tuple[str, str], float] = {}
    for c in configs:
        if c.mode == "profiled":
            continue
        key = (c.backend, c.mode)
        base.setdefault(key, c.rate)
        scale = c.rate / base[key] if base[key] else 0.0
        spread = f"{min(c.rates):.0f}-{max(c.rates):.0f}" if len(c.rates) > 1 else ""
        print(
            f"{c.backend:<11} {c.mode:<11} {c.procs:>5} {len(c.accepted):>6} {c.wall:>7.2f} "
            f"{c.rate:>8.1f} {spread:>11} {scale:>7.2f}x {percentile(c.latencies, 0.5):>7.1f} "
            f"{percentile(c.latencies, 0.95):>7.1f}  {c.check}"
        )
        if c.refused or c.errors or c.exhausted:
            print(
                f"{'':<11} {'':<11} {'':>5} refused {c.refused}, errors {len(c.errors)}"
                + (", a worker ran out of purchasers" if c.exhausted else "")
            )
            for error in c.errors[:3]:
                print(f"{'':<30}   {error}")
    for note in notes:
        print(f"  · {note}")
    for c in configs:
        if c.profile:
            print(
                f"\nprofile of one in-process worker ({c.backend}, 1 process, {len(c.accepted):,}"
                f" marks in {args.seconds:g} s under the profiler), cumulative:"
            )
            print("\n".join("    " + line for line in c.profile.splitlines()))
    verdicts = [
        (
            c.check_ok and not c.errors,
            f"{c.backend} {c.mode} x{c.procs}: {c.check}"
            + (f"; {len(c.errors)} errors" if c.errors else ""),
        )
        for c in configs
    ]
    print("\nchecks (no loss, no duplicates, no errors):")
    for ok, text in verdicts:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return all(ok for ok, _ in verdicts)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        url, first, count, skip, seconds = sys.argv[2:7]
        worker(url, int(first), int(count), int(skip), float(seconds), "--profile" in sys.argv[7:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="in-process round (3 s)")
    parser.add_argument("--rounds", type=int, default=3, help="in-process rounds (3)")
    parser.add_argument("--cli-marks", type=int, default=8, help="CLI marks per process (8)")
    parser.add_argument("--procs", default="1,2,4", help="process counts (1,2,4)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--profile", action="store_true", help="profile a 1-process worker")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a check fails")
    parser.add_argument("--smoke", action="store_true", help="a few marks of each kind, quickly")
    args = parser.parse_args()
    sizes = REAL
    if args.smoke:
        sizes = SMOKE
        args.seconds, args.rounds, args.cli_marks, args.procs = 0.3, 1, 1, "1,2"
        args.profile = True
    procs = [int(n) for n in args.procs.split(",")]
    needed = len(procs) * (sizes.in_process + sizes.cli) + sizes.profile
    if needed > sizes.purchasers or max(procs) > sizes.cli:
        parser.error(f"too many configurations for {sizes.purchasers:,} purchasers")
    started = time.perf_counter()
    notes: list[str] = []
    configs: list[Config] = []
    with tempfile.TemporaryDirectory(prefix="closing-bench-marks-") as tmp_dir:
        tmp = Path(tmp_dir)
        deal_file = tmp / "big.yaml"
        generate_deal(deal_file, sizes.purchasers)
        sqlite = f"sqlite:///{tmp / 'marks.db'}"
        configs += bench_backend("sqlite", sqlite, deal_file, args, procs, sizes)
        why_not = "--no-postgres" if args.no_postgres else postgres_available()
        if why_not:
            notes.append(f"postgresql skipped: {why_not}")
        else:
            with postgres_schema("bench_marks") as url:
                configs += bench_backend("postgresql", url, deal_file, args, procs, sizes)
    ok = report(configs, notes, args, sizes)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
