"""Every script under benchmarks/ runs: each with --smoke (tiny sizes, every code path, no budget
judged) as a whole process, so that a renamed function breaks a test here rather than the next
person's measurement. PostgreSQL parts run only when CLOSING_TEST_POSTGRES_URL names a server.

The eight scripts start together (they mostly wait on the subprocesses they time), and each
test then waits for its own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import POSTGRES_URL

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

# What each script must print: one line of each of its figures.
FIGURES = {
    "bench_senders": ["bench_senders: "],
    "bench_streams": [
        "(A) sqlite: first board",
        "(B) sqlite: poll of the older deal behind 3,001 newer events",
        "(B) sqlite: plan:",
    ],
    "bench_schedule": [
        "24 from .xlsx: closing init",
        "24 from .csv: closing init",
        "import floor:",
        "24: status --json",
        "budgets (not judged: smoke run):",
    ],
    "bench_alerts": [
        "(i)  plan_alerts in memory at 16:31",
        "(ii) sqlite: wake-up read + plan at 16:31",
        "(iii) sqlite: whole pass at 16:31: deliver (log)",
        "seed (2 purchasers)",
        "24 purchasers, 5 unsigned",
        "budgets (not judged: smoke run):",
    ],
    "bench_binder": [
        "import floor: attach",
        "(a) closing attach of a",
        "(b) closing binder -o closing-set.pdf",
        "(c) closing binder --format zip",
        "budgets (not judged: smoke run):",
    ],
    "bench_cli": [
        "baseline: import sqlmodel, rich.table, transitions",
        "closing --help ",
        "seed: mark-wired stonestreet (fresh db copy)",
        "24: status --json",
        "60 steps x 6: status --json",
        "60x6 status ",
        "24: init (fresh db each run)",
        "closing --help imports no database code",
        "budgets (not judged: smoke run):",
    ],
    "bench_marks": [
        "sqlite      in-process      1",
        "sqlite      in-process      2",
        "sqlite      whole CLI       2",
        "profile of one in-process worker (sqlite",
        "PASS  sqlite whole CLI x2: 2 events for 2 accepted marks",
    ],
    "bench_report": [
        "seed memo, PDF",
        "seed export, CSV",
        "50-purchaser memo, PDF",
        "50-purchaser memo, HTML",
        "50-purchaser export, CSV",
    ],
    "bench_verify": [
        "baseline: import sqlmodel, rich.table, transitions",
        "24 x 5 events: closing verify --json",
        "24 x 5 events: closing status --json",
    ],
    "bench_web": [
        "seed, 2 purchasers · sqlite",
        "24 purchasers · sqlite",
        "(not judged: smoke run)",
    ],
    "bench_web_team": [
        "streams of /d/SLUG/events, 2 CLI marks",
        "commit -> arrival, every stream: p50",
        "page loads of /d/SLUG/ meanwhile: p50",
        "(not judged: smoke run)",
    ],
    "bench_wires": [
        "import floor (sqlmodel, rich, bai2, rapidfuzz...)",
        "24 credits against 24 purchasers",
        "5 credits against 5 purchasers",
        "recorded 24 of 24, recorded 5 of 5",
    ],
}
POSTGRES_FIGURES = {
    "bench_streams": ["(A) postgresql: first board", "(B) postgresql: plan:"],
    "bench_senders": [
        "(a) one sender: 4/4 alerts delivered",
        "(b) two senders: 4/4 alerts delivered",
        "(c) two senders, one killed -9 mid-burst: 4/4",
        "(c) survivor's last alert",
        "(d) idle sender (4 deals, nothing changing)",
        "budgets (not judged: smoke run):",
    ],
    "bench_alerts": ["(ii) postgresql: wake-up read + plan at 16:31"],
    "bench_marks": ["postgresql  in-process      2", "postgresql  whole CLI       2"],
    "bench_web": ["seed, 2 purchasers · postgresql", "24 purchasers · postgresql"],
}


def smoke_command(name: str) -> list[str]:
    """The script's smoke run; PostgreSQL only when the suite has a server."""
    command = [sys.executable, str(BENCHMARKS / f"{name}.py"), "--smoke"]
    if name in ("bench_alerts", "bench_marks") and not POSTGRES_URL:
        command.append("--no-postgres")
    if name in ("bench_web", "bench_streams") and POSTGRES_URL:
        command.append("--postgres")
    return command


@pytest.fixture(scope="module")
def smoke_runs() -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Every script's smoke run, started at once, each in a session of its own; killed, with
    whatever it started (servers, alert senders), if a test leaves it running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    if POSTGRES_URL:
        env["CLOSING_TEST_POSTGRES_URL"] = POSTGRES_URL
    with tempfile.TemporaryDirectory(prefix="closing-bench-smoke-") as folder:
        env["TMPDIR"] = folder
        runs = {
            name: subprocess.Popen(
                smoke_command(name),
                cwd=BENCHMARKS,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            for name in FIGURES
        }
        try:
            yield runs
        finally:
            for process in runs.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)  # the script and its children
                if process.returncode is None:
                    process.communicate()


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_benchmark_smoke_run(name: str, smoke_runs: dict[str, subprocess.Popen[str]]) -> None:
    """The script's --smoke run exits 0 and prints a line of each of its figures."""
    out, err = smoke_runs[name].communicate(timeout=240)
    assert smoke_runs[name].returncode == 0, err[-3000:]
    wanted = FIGURES[name] + (POSTGRES_FIGURES.get(name, []) if POSTGRES_URL else [])
    missing = [line for line in wanted if line not in out]
    assert not missing, out
