"""Whole-process wall times of the `closing` CLI, against budgets.

    python benchmarks/bench_cli.py [--runs N] [--strict] [--before CLOSING]

--before CLOSING also times the same commands with another installation's `closing` script (say a
checkout of the previous commit with its own venv), interleaved in the same run: before and after
figures from one run.

Each command runs as a subprocess: one warm-up round, then N rounds that run every command once
(interleaved, so load drift hits all alike); the median is reported. Databases live in a temp
dir; CLOSING_NOW freezes the clock. Prints a table and PASS/FAIL budget lines; exits 1 on a
FAIL only with --strict.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _deals import BIG, CLOSING, SEED, generate_deal, record_progress

NOW = "2002-06-07T14:00:00-07:00"


def env_for(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    env.update(CLOSING_DATABASE_URL=f"sqlite:///{db}", CLOSING_NOW=NOW, CLOSING_OPERATOR="bench")
    return env


def run(cmd: list[str], env: dict[str, str]) -> float:
    """One process; its wall time in ms. A failing command stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return elapsed


@dataclass
class Case:
    label: str
    cmd: list[str]
    env: dict[str, str]
    prepare: Callable[[], None] | None = None  # run, untimed, before each run
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def measure(cases: list[Case], runs: int) -> None:
    """One warm-up round, then `runs` rounds that run every case once: interleaved, so that a
    change in machine load hits every case alike and the ratios stay fair."""
    for round_number in range(runs + 1):
        for case in cases:
            if case.prepare:
                case.prepare()
            elapsed = run(case.cmd, case.env)
            if round_number:
                case.times.append(elapsed)
        print(f"  round {round_number}/{runs} done", file=sys.stderr, flush=True)


def fresh_copy(source: Path, target: Path) -> Callable[[], None]:
    def prepare() -> None:
        shutil.copyfile(source, target)

    return prepare


def help_imports() -> list[str]:
    """Modules of sqlalchemy/sqlmodel that `closing --help` imports (should be none)."""
    cmd = [sys.executable, "-X", "importtime", "-m", "closing", "--help"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    names = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    return [n for n in names if n.split(".")[0] in ("sqlalchemy", "sqlmodel")]


def report(cases: list[Case], init: Case, verdicts: list[tuple[bool, str]], note: str) -> None:
    baseline = cases[0].median
    runs = len(cases[0].times)
    print(f"\nclosing CLI, whole-process wall times (median of {runs} interleaved runs after one")
    print(f"warm-up) · python {sys.version.split()[0]} · {' '.join(CLOSING)}")
    print(f"{note} · {len(init.times)} init runs\n")
    print(f"{'measurement':<52} {'median ms':>9} {'min ms':>7} {'x baseline':>10}")
    print("-" * 81)
    for case in [*cases, init]:
        ratio = case.median / baseline
        print(f"{case.label:<52} {case.median:>9.0f} {min(case.times):>7.0f} {ratio:>9.2f}x")
    print("\nbudgets:")
    for ok, text in verdicts:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")


def within(label: str, case: Case, reference: Case, name: str) -> tuple[bool, str]:
    ratio = case.median / reference.median
    return ratio <= 1.2, f"{label} {case.median:.0f} ms = {ratio:.3f}x {name} (budget <= 1.20x)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (default 7)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a budget fails")
    parser.add_argument(
        "--before", metavar="CLOSING", help="also time another installation's closing script"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="closing-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        seed_db, signed_db, work_db = tmp / "seed.db", tmp / "signed.db", tmp / "work.db"
        big_yaml, big_db = tmp / "big.yaml", tmp / "big.db"
        # The seed deal (two purchasers); a copy with stonestreet signed, for mark-wired.
        run([*CLOSING, "init", str(SEED)], env_for(seed_db))
        shutil.copyfile(seed_db, signed_db)
        signed = [*CLOSING, "mark-signed", "stonestreet", "--at", "2002-06-07T09:00-07:00"]
        run(signed, env_for(signed_db))
        # A generated deal of 10,000 purchasers (init timed on a fresh db), all signed, half wired.
        generate_deal(big_yaml, BIG)
        fresh = big_db.with_suffix(".init.db")
        init = Case(
            "10k: init (fresh db each run)",
            [*CLOSING, "init", str(big_yaml)],
            env_for(fresh),
            lambda: fresh.unlink(missing_ok=True),
        )
        measure([init], min(args.runs, 3))
        shutil.copyfile(fresh, big_db)
        target = record_progress(f"sqlite:///{big_db}")
        board = subprocess.run(
            [*CLOSING, "status", "--json"], env=env_for(big_db), capture_output=True, check=True
        ).stdout
        steps = json.loads(board)["totals"]["steps"]
        progress = ", ".join(f"{s} {steps[s]['done']:,}" for s in ("signed", "wired"))

        big = env_for(big_db)
        cases = [
            Case(
                "baseline: import sqlmodel, rich.table, transitions",
                [sys.executable, "-c", "import sqlmodel, rich.table, transitions"],
                big,
            ),
            Case("closing --help", [*CLOSING, "--help"], big),
            Case("seed: status", [*CLOSING, "status"], env_for(seed_db)),
            Case("seed: status --json", [*CLOSING, "status", "--json"], env_for(seed_db)),
            Case(
                "seed: mark-wired stonestreet (fresh db copy)",
                [*CLOSING, "mark-wired", "stonestreet"],
                env_for(work_db),
                fresh_copy(signed_db, work_db),
            ),
            Case("10k: status --json", [*CLOSING, "status", "--json"], big),
            Case("10k: status (Rich board, 50 rows)", [*CLOSING, "status"], big),
            Case(
                f"10k: mark-wired {target} (fresh db copy)",
                [*CLOSING, "mark-wired", target],
                env_for(work_db),
                fresh_copy(big_db, work_db),
            ),
        ]
        before: list[Case] = []
        if args.before:
            old = [args.before]
            before = [
                Case(
                    f"before: {case.label}",
                    [*old, *case.cmd[len(CLOSING) :]],
                    case.env,
                    case.prepare,
                )
                for case in cases[2:]
            ]
        measure([*cases, *before], args.runs)
        baseline, _, status, _, seed_wired, big_json, _, big_wired = cases
        leaked = help_imports()
        verdicts = [
            (
                not leaked,
                "closing --help imports no sqlalchemy/sqlmodel module"
                + (f" (it imports {', '.join(leaked[:5])}, ...)" if leaked else ""),
            ),
            within("seed status", status, baseline, "baseline"),
            within("seed mark-wired", seed_wired, baseline, "baseline"),
            (big_json.median < 2000, f"10k status --json {big_json.median:.0f} ms (budget < 2000)"),
            within("10k mark-wired", big_wired, seed_wired, "seed mark-wired"),
        ]
    report([*cases, *before], init, verdicts, f"10k deal done: {progress}")
    return 1 if args.strict and not all(ok for ok, _ in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
