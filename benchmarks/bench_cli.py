"""Whole-process wall times of the `closing` CLI, against budgets.

    python benchmarks/bench_cli.py [--runs N] [--strict] [--before CLOSING] [--smoke]

--before CLOSING also times the same commands with another installation's `closing` script (say a
checkout of the previous commit with its own venv), interleaved in the same run: before and after
figures from one run.

Each command runs as a subprocess: one warm-up round, then N rounds that run every command once
(interleaved, so load drift hits all alike); the median is reported. Databases live in a temp
dir; CLOSING_NOW freezes the clock. Prints a table and PASS/FAIL budget lines; exits 1 on a
FAIL only with --strict.

The budgets (issue 19), against the import floor `python -c "import sqlmodel, rich.table,
transitions"` timed in the same rounds: `closing --help` within 0.2x of it, importing no database
code; the seed's `status` and `mark-wired` within 0.5x; `status --json` of 10,000 purchasers x 7
steps within 1.0x, as kept between changes (the document the last run printed, while the
database's files are unchanged and it still holds: `closing.store.board_cache`; the board made
afresh, CLOSING_BOARD_CACHE=off, as the first run after a change makes it, is in the table
beside it); and (issue 21: market cutoffs and anchors on every step's deadline) the 60-step
example's `status` with 200 purchasers within 0.6x.

--smoke runs every case once, without the warm-up, on a deal of a few dozen purchasers and
judges no budget: a test of the suite runs it, so that the script keeps working.
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
from datetime import timedelta
from pathlib import Path

from _deals import (
    BIG,
    CHECKLIST,
    CLOSING,
    SEED,
    SMOKE_BIG,
    generate_deal,
    record_progress,
    step_ids,
)

NOW = "2002-06-07T14:00:00-07:00"
CHECKLIST_NOW = "2019-06-28T14:00:00-07:00"  # the 60-step example's closing day, mid-afternoon
CHECKLIST_COUNT = 200
SMOKE_CHECKLIST_COUNT = 6
# What `closing --help` must not import: the store and every database library.
DATABASE_MODULES = ("closing.store", "sqlite3", "sqlalchemy", "sqlmodel", "psycopg")


def env_for(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    env.update(CLOSING_DATABASE_URL=f"sqlite:///{db}", CLOSING_NOW=NOW, CLOSING_OPERATOR="bench")
    env["XDG_CACHE_HOME"] = str(db.parent / "cache")  # the boards `status --json` keeps
    return env


def run(cmd: list[str], env: dict[str, str]) -> float:
    """One process; its wall time in ms. A failing command stops the benchmark. Its output is
    read through a pipe, as a program reading `status --json` would, and kept as bytes: decoding
    the 10,000-purchaser board's 21 MB would be this script's time, not the command's."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        error = done.stderr[-2000:].decode(errors="replace")
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{error}")
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


def measure(cases: list[Case], runs: int, warm_up: bool = True) -> None:
    """One warm-up round (unless not `warm_up`), then `runs` rounds that run every case once:
    interleaved, so that a change in machine load hits every case alike and the ratios stay
    fair."""
    for round_number in range(0 if warm_up else 1, runs + 1):
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


def checklist_env(db: Path) -> dict[str, str]:
    return env_for(db) | {"CLOSING_NOW": CHECKLIST_NOW}


def checklist_deal(yaml_path: Path, db: Path, count: int) -> str:
    """The 60-step example's terms and steps with `count` (200) generated purchasers, loaded
    into `db`, in mid-closing: the company has made 40 of its 46 deliveries (all that purchaser
    steps require), and the purchaser at position p has done its first p % 15 steps, 20 minutes
    apart from 08:00. Returns a line saying how far along it is."""
    generate_deal(yaml_path, count, slug=f"generated-60x{count}", source=CHECKLIST)
    run([*CLOSING, "init", str(yaml_path)], checklist_env(db))
    company, steps = step_ids(CHECKLIST, "company"), step_ids(CHECKLIST, "purchaser")
    record_progress(
        f"sqlite:///{db}",
        lambda position: steps[: position % (len(steps) + 1)],
        base="2019-06-28T08:00:00-07:00",
        spacing=timedelta(minutes=20),
        company_steps=tuple(company[:40]),
    )
    board = json.loads(
        subprocess.run(
            [*CLOSING, "status", "--json"], env=checklist_env(db), capture_output=True, check=True
        ).stdout
    )
    totals = board["totals"]
    done = sum(totals["steps"][step][s] for step in steps for s in ("done", "done_late"))
    return (
        f"60x{count} deal: {totals['closed']} of {totals['purchasers']} purchasers closed, "
        f"{done:,} of {len(steps) * count:,} purchaser steps done"
    )


def help_imports() -> list[str]:
    """The database modules (the store's, a driver's, SQLAlchemy's) that `closing --help`
    imports (there should be none)."""
    cmd = [sys.executable, "-X", "importtime", "-m", "closing", "--help"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    names = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    return [n for n in names if n.startswith(DATABASE_MODULES)]


def report(
    cases: list[Case], init: Case, verdicts: list[tuple[bool, str]], note: str, smoke: bool
) -> None:
    baseline = cases[0].median
    runs = len(cases[0].times)
    if smoke:
        print("\nclosing CLI, whole-process wall times (smoke run: one round, no warm-up)")
    else:
        print(f"\nclosing CLI, whole-process wall times (median of {runs} interleaved runs after")
        print("one warm-up)")
    print(f"python {sys.version.split()[0]} · {' '.join(CLOSING)}")
    print(f"{note} · {len(init.times)} init runs\n")
    print(f"{'measurement':<52} {'median ms':>9} {'min ms':>7} {'x baseline':>10}")
    print("-" * 81)
    for case in [*cases, init]:
        ratio = case.median / baseline
        print(f"{case.label:<52} {case.median:>9.0f} {min(case.times):>7.0f} {ratio:>9.2f}x")
    print("\nbudgets (not judged: smoke run):" if smoke else "\nbudgets:")
    for ok, text in verdicts:
        print(f"  {'----' if smoke else 'PASS' if ok else 'FAIL'}  {text}")


def within(
    label: str, case: Case, reference: Case, name: str, budget: float = 1.2
) -> tuple[bool, str]:
    ratio = case.median / reference.median
    return (
        ratio <= budget,
        f"{label} {case.median:.0f} ms = {ratio:.3f}x {name} (budget <= {budget:.2f}x)",
    )


def before_cases(script: Path, tmp: Path) -> list[Case]:
    """The seed cases run by another installation (its checkout's own seed deal file and its own
    databases: an older closing cannot read a newer schema)."""
    old = [str(script)]
    checkout = script.resolve().parents[2]  # CHECKOUT/.venv/bin/closing
    seed = checkout / "workflows" / SEED.name
    seed_db, signed_db, work_db = tmp / "b-seed.db", tmp / "b-signed.db", tmp / "b-work.db"
    run([*old, "init", str(seed)], env_for(seed_db))
    shutil.copyfile(seed_db, signed_db)
    prospectus = [*old, "mark", "company", "prospectus_delivered", "--at", "07:30"]
    subprocess.run(prospectus, env=env_for(signed_db), capture_output=True)  # older: no such step
    run([*old, "mark-signed", "stonestreet", "--at", "2002-06-07T09:00-07:00"], env_for(signed_db))
    return [
        Case("before: seed: status", [*old, "status"], env_for(seed_db)),
        Case("before: seed: status --json", [*old, "status", "--json"], env_for(seed_db)),
        Case(
            "before: seed: mark-wired stonestreet (fresh db copy)",
            [*old, "mark-wired", "stonestreet"],
            env_for(work_db),
            fresh_copy(signed_db, work_db),
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (default 7)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a budget fails")
    parser.add_argument(
        "--before", metavar="CLOSING", help="also time another installation's closing script"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="every case once, small deals, no budget judged"
    )
    args = parser.parse_args()
    big_count = SMOKE_BIG if args.smoke else BIG
    sixty_count = SMOKE_CHECKLIST_COUNT if args.smoke else CHECKLIST_COUNT
    runs, warm_up = (1, False) if args.smoke else (args.runs, True)
    size = "10k" if big_count == BIG else f"{big_count}"
    with tempfile.TemporaryDirectory(prefix="closing-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        seed_db, signed_db, work_db = tmp / "seed.db", tmp / "signed.db", tmp / "work.db"
        big_yaml, big_db = tmp / "big.yaml", tmp / "big.db"
        sixty_yaml, sixty_db = tmp / "sixty.yaml", tmp / "sixty.db"
        # The seed deal (two purchasers); a copy with the prospectus supplement delivered and
        # stonestreet signed, for mark-wired.
        run([*CLOSING, "init", str(SEED)], env_for(seed_db))
        shutil.copyfile(seed_db, signed_db)
        delivered = [*CLOSING, "mark", "company", "prospectus_delivered", "--at", "07:30"]
        run(delivered, env_for(signed_db))  # the prospectus supplement: a condition of the wire
        signed = [*CLOSING, "mark-signed", "stonestreet", "--at", "2002-06-07T09:00-07:00"]
        run(signed, env_for(signed_db))
        # A generated deal of 10,000 purchasers (init timed on a fresh db), all signed, half wired.
        generate_deal(big_yaml, big_count)
        fresh = big_db.with_suffix(".init.db")
        init = Case(
            f"{size}: init (fresh db each run)",
            [*CLOSING, "init", str(big_yaml)],
            env_for(fresh),
            lambda: fresh.unlink(missing_ok=True),
        )
        measure([init], min(runs, 3), warm_up)
        shutil.copyfile(fresh, big_db)
        target = record_progress(f"sqlite:///{big_db}")
        board = subprocess.run(
            [*CLOSING, "status", "--json"], env=env_for(big_db), capture_output=True, check=True
        ).stdout
        steps = json.loads(board)["totals"]["steps"]
        progress = ", ".join(f"{s} {steps[s]['done']:,}" for s in ("signed", "wired"))

        sixty_progress = checklist_deal(sixty_yaml, sixty_db, sixty_count)

        big = env_for(big_db)
        sixty = checklist_env(sixty_db)
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
            Case(f"{size}: status --json", [*CLOSING, "status", "--json"], big),
            Case(
                f"{size}: status --json afresh (cache off)",
                [*CLOSING, "status", "--json"],
                big | {"CLOSING_BOARD_CACHE": "off"},
            ),
            Case(f"{size}: status (Rich board, 50 rows)", [*CLOSING, "status"], big),
            Case(
                f"{size}: mark-wired {target} (fresh db copy)",
                [*CLOSING, "mark-wired", target],
                env_for(work_db),
                fresh_copy(big_db, work_db),
            ),
            Case(f"60 steps x {sixty_count}: status", [*CLOSING, "status"], sixty),
            Case(f"60 steps x {sixty_count}: status --json", [*CLOSING, "status", "--json"], sixty),
        ]
        before: list[Case] = []
        if args.before:
            before = before_cases(Path(args.before), tmp)
        measure([*cases, *before], runs, warm_up)
        baseline, help_, status, _, seed_wired, big_json, _, _, big_wired = cases[:9]
        sixty_text, sixty_json = cases[9:]
        leaked = help_imports()
        verdicts = [
            (
                not leaked,
                "closing --help imports no database code (store, sqlite3, SQLAlchemy, psycopg)"
                + (f" (it imports {', '.join(leaked[:5])}, ...)" if leaked else ""),
            ),
            within("closing --help", help_, baseline, "the import floor", 0.2),
            within("seed status", status, baseline, "the import floor", 0.5),
            within("seed mark-wired", seed_wired, baseline, "the import floor", 0.5),
            within(f"{size} status --json", big_json, baseline, "the import floor", 1.0),
            within(f"{size} mark-wired", big_wired, seed_wired, "seed mark-wired"),
            within(f"60x{sixty_count} status", sixty_text, baseline, "the import floor", 0.6),
            within(f"60x{sixty_count} status --json", sixty_json, baseline, "the import floor"),
        ]
    note = f"{size} deal done: {progress}\n{sixty_progress}"
    report([*cases, *before], init, verdicts, note, args.smoke)
    failed = not args.smoke and not all(ok for ok, _ in verdicts)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
