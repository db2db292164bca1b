"""Importing a 10,000-credit BAI2 file against a 10,000-purchaser deal, against the import floor of
the stack.

    python benchmarks/bench_wires.py [--runs N] [--strict] [--smoke]

Also times a realistic 200 credits against 200 purchasers, in the same run. The generated deals
(benchmarks/_deals.py) get the seed's wire instructions, verified by a second operator, and every
purchaser signed; the bank file has one credit per purchaser of exactly its price, from its own
name, to the company's account. Each run imports it with `closing wires import FILE --apply
--json` as a whole process on a fresh copy of the database (SQLite), so every run records a wired
mark per purchaser. The floor is a process that only imports what the command needs (sqlmodel,
rich.table, transitions, bai2, rapidfuzz, lxml).

Prints the medians and the ratio; goal: under 3x the floor. Exits 1 on a FAIL only with --strict.
--smoke imports once, without the warm-up, on deals of a few purchasers, and judges no budget (a
test of the suite runs it, so that the script keeps working).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from _deals import (
    BIG,
    CLOSING,
    ROOT,
    SMOKE_BIG,
    cli_env,
    closing,
    closing_as,
    generate_deal,
    record_progress,
)

sys.path.insert(0, str(ROOT))
from tests.bank_files import Account, Detail, bai2_text

INIT_NOW = "2002-06-07T07:00:00-07:00"
NOW = "2002-06-07T16:35:00-07:00"
FLOOR = "import sqlmodel, rich.table, transitions, bai2.parsers, rapidfuzz.fuzz, lxml.etree"
INSTRUCTIONS = """  wire_instructions:
    bank: Bank of America, N.A., Irvine, California
    aba: "121000358"
    account: "4881-016789"
    account_name: NeoTherapeutics, Inc.
  callback_numbers: ["+1 949 788 6700"]
"""


def bank_file(path: Path, deal: Path) -> int:
    """One credit per purchaser of the generated deal: its price, from its name."""
    details = []
    name = price = None
    for line in deal.read_text().splitlines():
        if line.startswith("  - name: "):
            name = line.removeprefix("  - name: ")
        elif line.startswith("    purchase_price: $"):
            price = Decimal(line.removeprefix("    purchase_price: $").replace(",", ""))
            n = len(details) + 1
            details.append(
                Detail(
                    "195",
                    int(price * 100),
                    f"0607FW{n:06d}",
                    f"20020607B1Q8021C{n:06d}",
                    [
                        f"FEDWIRE CREDIT IMAD: 20020607B1Q8021C{n:06d}",
                        f"ORG: /00{n:08d} {str(name).upper()}",
                        "OBI: NEOTHERAPEUTICS SPA",
                    ],
                )
            )
    path.write_text(bai2_text([Account("4881016789", details, opening_cents=0)]))
    return len(details)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


SIZES = (BIG, 200)  # the goal's 10,000; and a large real closing's 200
SMOKE_SIZES = (SMOKE_BIG, 5)


def prepare(tmp: Path, count: int) -> tuple[Path, Path, int]:
    """A deal of `count` purchasers, all signed, with verified wire instructions, in a database;
    and a bank file of one credit per purchaser. Returns the database, the file, the credits."""
    deal, db, bai2 = tmp / f"{count}.yaml", tmp / f"{count}.db", tmp / f"{count}.bai2"
    generate_deal(deal, count, slug=f"generated-{count}")
    url = f"sqlite:///{db}"
    closing(["init", str(deal)], cli_env(url, INIT_NOW))
    record_progress(url, lambda position: ["signed"])
    # Then the wire instructions, as a reload would bring them, verified by another operator.
    text = deal.read_text()
    blank = "  wire_instructions:\n  callback_numbers: []\n"
    deal.write_text(text.replace(blank, INSTRUCTIONS, 1))
    closing(["init", str(deal)], cli_env(url, INIT_NOW))
    verify = ["wire-instructions", "verify", "--callback-number", "+1 949 788 6700"]
    closing(["team", "add", "bob", "--role", "verifier"], cli_env(url, INIT_NOW))
    closing_as("bob", [*verify, "--spoke-with", "CFO"], cli_env(url, INIT_NOW))
    return db, bai2, bank_file(bai2, deal)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if the budget fails")
    parser.add_argument(
        "--smoke", action="store_true", help="one run, small deals, no budget judged"
    )
    args = parser.parse_args()
    sizes = SMOKE_SIZES if args.smoke else SIZES
    runs, first = (1, 1) if args.smoke else (args.runs, 0)  # round 0 is the warm-up
    with tempfile.TemporaryDirectory(prefix="closing-bench-wires-") as folder:
        tmp = Path(folder)
        work = tmp / "work.db"
        cases = {count: prepare(tmp, count) for count in sizes}
        env = cli_env(f"sqlite:///{work}", NOW)
        floor_cmd = [sys.executable, "-c", FLOOR]
        imports: dict[int, list[float]] = {count: [] for count in sizes}
        floors: list[float] = []
        recorded: dict[int, int] = {}
        for run in range(first, runs + 1):  # the first round warms the caches, untimed
            for count, (db, bai2, _) in cases.items():
                shutil.copyfile(db, work)
                command = [*CLOSING, "wires", "import", str(bai2), "--apply", "--json"]
                took, out = timed(command, env)
                if run:
                    imports[count].append(took)
                    credits = json.loads(out)["credits"]
                    recorded[count] = sum(1 for c in credits if c["status"] == "recorded")
            floor, _ = timed(floor_cmd, env)
            if run:
                floors.append(floor)
            print(f"  round {run}/{runs} done", file=sys.stderr, flush=True)
    floor = statistics.median(floors)
    print("\nwires import --apply --json of a BAI2 file, one credit per purchaser (SQLite)")
    rounds = "smoke run: one run, no warm-up" if args.smoke else f"median of {runs} runs after one"
    print(f"python {sys.version.split()[0]} · {rounds}{'' if args.smoke else ' warm-up'}\n")
    print(f"{'measurement':<48} {'median s':>9} {'min s':>7} {'x floor':>8}")
    print("-" * 75)
    label = "import floor (sqlmodel, rich, bai2, rapidfuzz...)"
    print(f"{label:<48} {floor:>9.3f} {min(floors):>7.3f} {1:>7.2f}x")
    for count in sizes:
        median = statistics.median(imports[count])
        name = f"{count:,} credits against {count:,} purchasers"
        print(f"{name:<48} {median:>9.3f} {min(imports[count]):>7.3f} {median / floor:>7.2f}x")
    print("\n" + ", ".join(f"recorded {recorded[c]:,} of {cases[c][2]:,}" for c in sizes))
    big = statistics.median(imports[sizes[0]]) / floor
    ok = big < 3 and all(recorded[c] == cases[c][2] for c in sizes)
    verdict = "----" if args.smoke else "PASS" if ok else "FAIL"
    print(f"{verdict}  {sizes[0]:,} credits = {big:.2f}x the floor (goal < 3x)")
    if args.smoke:
        print("(smoke run: the budget is not judged)")
    return 1 if args.strict and not args.smoke and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
