"""`closing verify` on a 10,000-purchaser deal with five events each (50,001 events, 10,001
chains), as a whole process, against the import floor measured in the same run.

    python benchmarks/bench_verify.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _deals import BIG, CLOSING, cli_env, closing, generate_deal, record_progress

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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="closing-bench-verify-") as tmp:
        deal, url = Path(tmp) / "big.yaml", f"sqlite:///{Path(tmp) / 'big.db'}"
        generate_deal(deal, BIG)
        env = cli_env(url, NOW)
        closing(["init", str(deal)], env)
        record_progress(url, lambda position: FIVE)
        cases = {
            "baseline: import sqlmodel, rich.table, transitions": [
                sys.executable,
                "-c",
                "import sqlmodel, rich.table, transitions",
            ],
            "10k x 5 events: closing verify --json": [*CLOSING, "verify", "--json"],
            "10k x 5 events: closing status --json": [*CLOSING, "status", "--json"],
        }
        times: dict[str, list[float]] = {label: [] for label in cases}
        for round_number in range(args.runs + 1):
            for label, cmd in cases.items():
                elapsed = timed(cmd, env)
                if round_number:
                    times[label].append(elapsed)
    floor = statistics.median(next(iter(times.values())))
    print(f"\nmedian of {args.runs} interleaved whole-process runs after one warm-up\n")
    print(f"{'measurement':<52} {'median ms':>9} {'min ms':>7} {'x floor':>8}")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"{label:<52} {median:>9.0f} {min(values):>7.0f} {median / floor:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
