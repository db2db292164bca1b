"""Whole-process wall times of the `closing` CLI, against budgets.

    python benchmarks/bench_cli.py [--runs N] [--strict]

Each command runs as a subprocess (one warm-up, then the median of N runs). Databases live in a
temp dir; CLOSING_NOW freezes the clock. Prints a table and PASS/FAIL budget lines; exits 1 on a
FAIL only with --strict.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "workflows" / "neotherapeutics-2002-06-07.yaml"
NOW = "2002-06-07T14:00:00-07:00"
PRICE, COVERAGE = Decimal("0.2325"), Decimal("0.10")
BIG = 10_000
_script = Path(sys.executable).with_name("closing")
CLOSING = [str(_script)] if _script.exists() else [sys.executable, "-m", "closing"]


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


def measure(
    cmd: list[str], env: dict[str, str], runs: int, prepare: Callable[[], None] | None = None
) -> list[float]:
    """One warm-up, then `runs` timed runs; `prepare` runs (untimed) before each."""
    times = []
    for i in range(runs + 1):
        if prepare:
            prepare()
        elapsed = run(cmd, env)
        if i:
            times.append(elapsed)
    return times


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


def generate_deal(path: Path, count: int) -> None:
    """The seed deal's terms and steps with `count` purchasers that pass the Schedule 1 checks."""
    head = SEED.read_text(encoding="utf-8").split("\npurchasers:", 1)[0]
    lines = [head.replace("slug: neotherapeutics-2002-06-07", "slug: generated-10k"), "purchasers:"]
    for n in range(1, count + 1):
        shares = 100_000 + 37 * n
        price = (shares * PRICE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        warrants = int((shares * COVERAGE).to_integral_value(rounding=ROUND_FLOOR))
        lines += [
            f"  - name: Purchaser {n:05d} LLC",
            f"    shares: {shares:,}",
            f"    purchase_price: ${price:,}",
            f"    warrant_shares: {warrants:,}",
            f"    notices: {{attention: Treasurer {n}, address: '{n} Main Street, New York NY',"
            f" facsimile: '(212) 555-{n % 10_000:04d}'}}",
            f"    dwac: {{dtc_number: '{n % 9000 + 100}', account_number: 'A{n:07d}',"
            f" reference: R{n}}}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def record_progress(db: Path) -> str:
    """Bulk-insert `signed` for every purchaser and `wired` for every other one (events consistent
    with what `closing mark` writes); return the slug of one signed but not wired."""
    from sqlalchemy import select

    from closing.store import EventRow, PurchaserRow, Store

    store = Store(f"sqlite:///{db}")
    signed_at = datetime.fromisoformat("2002-06-07T08:00:00-07:00")
    rows, target = [], ""
    with store.session() as session:
        query = select(
            PurchaserRow.id,
            PurchaserRow.deal_id,
            PurchaserRow.slug,
            PurchaserRow.purchase_price,
            PurchaserRow.position,
        )
        for pid, deal_id, slug, price, position in session.execute(query):
            at = signed_at + timedelta(seconds=position % 3600)
            base = dict(deal_id=deal_id, purchaser_id=pid, kind="mark", actor="bench", host="bench")
            rows.append(base | dict(seq=1, step="signed", occurred_at=at, recorded_at=at))
            if position % 2 == 0:
                wired = at + timedelta(hours=2)
                rows.append(
                    base
                    | dict(seq=2, step="wired", occurred_at=wired, recorded_at=wired, amount=price)
                )
            elif position == BIG // 2 + 1:
                target = slug
        session.execute(EventRow.__table__.insert(), rows)  # type: ignore[attr-defined]
    store.engine.dispose()
    return target


class Report:
    def __init__(self, runs: int) -> None:
        self.runs = runs
        self.rows: list[tuple[str, float, float]] = []
        self.verdicts: list[tuple[bool, str]] = []
        self.baseline = 0.0

    def add(self, label: str, times: list[float]) -> float:
        median = statistics.median(times)
        self.rows.append((label, median, min(times)))
        print(f"  measured {label}: {median:.0f} ms", file=sys.stderr, flush=True)
        return median

    def budget(self, ok: bool, text: str) -> None:
        self.verdicts.append((ok, text))

    def within(self, label: str, value: float, reference: float, ref_label: str) -> None:
        ratio = value / reference
        self.budget(ratio <= 1.2, f"{label} {value:.0f} ms = {ratio:.2f}x {ref_label} (<= 1.20x)")

    def print(self) -> None:
        print(f"\nclosing CLI, whole-process wall times (median of {self.runs} after 1 warm-up)")
        print(f"python {sys.version.split()[0]} · command: {' '.join(CLOSING)}\n")
        print(f"{'measurement':<46} {'median ms':>10} {'min ms':>8} {'x baseline':>11}")
        print("-" * 78)
        for label, median, low in self.rows:
            print(f"{label:<46} {median:>10.0f} {low:>8.0f} {median / self.baseline:>10.2f}x")
        print("\nbudgets:")
        for ok, text in self.verdicts:
            print(f"  {'PASS' if ok else 'FAIL'}  {text}")

    @property
    def failed(self) -> bool:
        return not all(ok for ok, _ in self.verdicts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (default 7)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a budget fails")
    args = parser.parse_args()
    report = Report(args.runs)
    with tempfile.TemporaryDirectory(prefix="closing-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        seed_db, signed_db, work_db = tmp / "seed.db", tmp / "signed.db", tmp / "work.db"
        baseline_cmd = [sys.executable, "-c", "import sqlmodel, rich.table, transitions"]
        baseline = report.add(
            "baseline: import sqlmodel, rich, transitions",
            measure(baseline_cmd, env_for(seed_db), args.runs),
        )
        report.baseline = baseline

        report.add("closing --help", measure([*CLOSING, "--help"], env_for(seed_db), args.runs))
        leaked = help_imports()
        report.budget(
            not leaked,
            "closing --help imports no sqlalchemy/sqlmodel module"
            + (f" (imported: {', '.join(leaked[:5])}...)" if leaked else ""),
        )

        # The seed deal: two purchasers.
        seed_env = env_for(seed_db)
        run([*CLOSING, "init", str(SEED)], seed_env)
        status = report.add("seed: status", measure([*CLOSING, "status"], seed_env, args.runs))
        report.add("seed: status --json", measure([*CLOSING, "status", "--json"], seed_env, 1))
        shutil.copyfile(seed_db, signed_db)
        run(
            [*CLOSING, "mark-signed", "stonestreet", "--at", "2002-06-07T09:00-07:00"],
            env_for(signed_db),
        )
        wired_cmd = [*CLOSING, "mark-wired", "stonestreet"]
        seed_wired = report.add(
            "seed: mark-wired stonestreet (fresh db copy)",
            measure(wired_cmd, env_for(work_db), args.runs, fresh_copy(signed_db, work_db)),
        )
        report.within("seed status", status, baseline, "baseline")
        report.within("seed mark-wired", seed_wired, baseline, "baseline")

        # A generated deal of 10,000 purchasers, all signed, half wired.
        big_yaml, big_db, big_progress = tmp / "big.yaml", tmp / "big.db", tmp / "progress.db"
        generate_deal(big_yaml, BIG)
        init_times = measure(
            [*CLOSING, "init", str(big_yaml)],
            env_for(big_db),
            min(args.runs, 3),
            lambda: big_db.unlink(missing_ok=True),
        )
        report.add(f"10k: init (median of {len(init_times)}, fresh db)", init_times)
        target = record_progress(big_db)
        shutil.copyfile(big_db, big_progress)
        big_env = env_for(big_progress)
        as_json = report.add(
            "10k: status --json", measure([*CLOSING, "status", "--json"], big_env, args.runs)
        )
        report.add(
            "10k: status (Rich board, 50 rows)", measure([*CLOSING, "status"], big_env, args.runs)
        )
        big_wired = report.add(
            f"10k: mark-wired {target} (fresh db copy)",
            measure(
                [*CLOSING, "mark-wired", target],
                env_for(work_db),
                args.runs,
                fresh_copy(big_progress, work_db),
            ),
        )
        report.budget(as_json < 2000, f"10k status --json {as_json:.0f} ms (< 2000 ms)")
        report.within("10k mark-wired", big_wired, seed_wired, "seed mark-wired")
    report.print()
    return 1 if args.strict and report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
