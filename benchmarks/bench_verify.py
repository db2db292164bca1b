"""`closing verify` on a 10,000-purchaser deal with five events each (50,001 events, 10,001
chains), as a whole process, against the import floor measured in the same run.

    python benchmarks/bench_verify.py [--runs N] [--smoke]

--smoke runs each command once, without the warm-up, on a deal of a few dozen purchasers (a test
of the suite runs it, so that the script keeps working).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _deals import BIG, CLOSING, SMOKE_BIG, cli_env, closing, generate_deal, record_progress

NOW = "2002-06-07T18:00:00-07:00"
FIVE = ["signed", "wired", "warrant_faxed", "dwac_credited", "warrant_delivered"]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="one run, a small deal")
    args = parser.parse_args()
    count = SMOKE_BIG if args.smoke else BIG
    size = "10k" if count == BIG else f"{count}"
    runs, first = (1, 1) if args.smoke else (args.runs, 0)  # round 0 is the warm-up
    with tempfile.TemporaryDirectory(prefix="closing-bench-verify-") as tmp:
        deal, url = Path(tmp) / "big.yaml", f"sqlite:///{Path(tmp) / 'big.db'}"
        generate_deal(deal, count)
        env = cli_env(url, NOW)
        closing(["init", str(deal)], env)
        record_progress(url, lambda position: FIVE)
        cases = {
            "baseline: import sqlmodel, rich.table, transitions": [
                sys.executable,
                "-c",
                "import sqlmodel, rich.table, transitions",
            ],
            f"{size} x 5 events: closing verify --json": [*CLOSING, "verify", "--json"],
            f"{size} x 5 events: closing status --json": [*CLOSING, "status", "--json"],
        }
        times: dict[str, list[float]] = {label: [] for label in cases}
        for round_number in range(first, runs + 1):
            for label, cmd in cases.items():
                elapsed = timed(cmd, env)
                if round_number:
                    times[label].append(elapsed)
    floor = statistics.median(next(iter(times.values())))
    if args.smoke:
        print("\none whole-process run of each, no warm-up (smoke run)\n")
    else:
        print(f"\nmedian of {runs} interleaved whole-process runs after one warm-up\n")
    print(f"{'measurement':<52} {'median ms':>9} {'min ms':>7} {'x floor':>8}")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:<52} {median:>9.0f} {min(values):>7.0f} {median / floor:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
