"""Whole-process wall times of `closing report` (the closing memorandum) and `closing export`,
against a baseline measured in the same run: `python -c "import weasyprint"`.

    python benchmarks/bench_report.py [--runs N] [--purchasers N] [--smoke]

Three deals in SQLite databases under a temp dir: the seed after the README's closing day; a
generated deal of 200 purchasers on the seed's steps (every detail filled, all signed, every
other one wired); and the 60-step example with 200 purchasers after its closing (every step
done but one purchaser in 25 still waiting for its wire). Each command runs as a subprocess,
one warm-up and N timed runs; the median is reported, with the PDF's page count. Judged: the
seed's PDF memo within 2x of the baseline, the 200-purchaser 60-step PDF memo under 4x
(PASS/FAIL lines; not judged on a smoke run). --smoke runs each once, without the warm-up, with
50 purchasers (the fewest that still has a withdrawal): a test of the suite runs it, so that the
script keeps working.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from _deals import (
    CHECKLIST,
    CLOSING,
    SEED,
    cli_env,
    closing,
    generate_deal,
    purchaser_slug,
    record_progress,
    step_ids,
)

from closing.domain.marking import Correction, MarkRequest

SMOKE_PURCHASERS = 50
SEED_LIMIT = 2.0  # the seed's PDF memo, x the baseline
CHECKLIST_LIMIT = 4.0  # the 200-purchaser 60-step PDF memo, x the baseline

# --- the internals this script calls (one place to update when the services API moves) ---------


@contextmanager
def marks_on(url: str) -> Iterator[Callable[[MarkRequest | Correction, datetime], Any]]:
    """Record marks and corrections in this process, through the service `closing mark` and
    `closing undo` use: `record(request, now)`."""
    from closing.services.mark import correct, mark
    from closing.store.connection import Database

    database = Database(url)
    try:
        yield lambda request, now: (mark if isinstance(request, MarkRequest) else correct)(
            database,
            None,
            request,  # type: ignore[arg-type]
            now,
        )
    finally:
        database.close()


# --- the benchmark -------------------------------------------------------------------------------

MONDAY = "2002-06-10T10:30:00-07:00"
# The README quickstart's closing day: (CLOSING_NOW, arguments).
README_DAY = [
    ("2002-06-07T07:00-07:00", ["init", str(SEED)]),
    (
        "2002-06-07T07:45-07:00",
        ["mark", "company", "prospectus_delivered", "--evidence", "Exhibit B, with the agreement"],
    ),
    ("2002-06-07T09:10-07:00", ["mark-signed", "stonestreet", "--at", "08:30"]),
    ("2002-06-07T09:10-07:00", ["mark-signed", "bnc"]),
    (
        "2002-06-07T10:15-07:00",
        ["mark-wired", "stonestreet", "--reference", "FED 20020607B1Q8021C000123"],
    ),
    ("2002-06-07T15:45-07:00", ["mark-faxed", "stonestreet", "--confirmation", "fax 4471"]),
    ("2002-06-07T15:45-07:00", ["mark-dwac", "stonestreet", "--confirmation", "DTC 88213"]),
    (
        "2002-06-07T17:20-07:00",
        ["mark-wired", "bnc", "--at", "17:10", "--reference", "FED 20020607B1Q8021C000388"],
    ),
    ("2002-06-07T17:20-07:00", ["mark-faxed", "bnc", "--confirmation", "fax 4472"]),
    ("2002-06-07T17:20-07:00", ["mark-dwac", "bnc", "--confirmation", "DTC 88214"]),
    (
        "2002-06-10T09:00-07:00",
        ["reverse", "stonestreet", "wired", "--reason", "wire returned by Stonestreet's bank"],
    ),
    ("2002-06-10T10:20-07:00", ["mark-delivered", "bnc", "--tracking", "FedEx 7901"]),
]


def closing_day(url: str, count: int) -> None:
    """A closing day for every purchaser of a generated deal, through the real marks (so the
    event log is chained): each signs, wires with a Fed reference, is faxed and credited; one
    in ten wires late, one in twenty-five has its wire reversed on Monday, one in fifty
    withdraws, and the originals arrive Monday."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    pacific = ZoneInfo("America/Los_Angeles")
    friday = datetime(2002, 6, 7, 8, 0, tzinfo=pacific)
    monday = datetime(2002, 6, 10, 9, 0, tzinfo=pacific)
    with marks_on(url) as record:

        def done(slug: str, step: str, at: datetime, kind: str, evidence: str) -> None:
            request = MarkRequest(
                slug,
                step,
                at=at,
                actor="bench",
                host="bench",
                evidence_kind=kind,
                evidence=evidence,
            )
            record(request, at)

        done("company", "prospectus_delivered", friday, "evidence", "Exhibit B, with the agreement")
        for n in range(1, count + 1):
            slug = purchaser_slug(n)
            at = friday + timedelta(minutes=n % 240)
            if n % 50 == 0:
                record(
                    Correction("withdraw", slug, "", "never funded", "bench", "bench", at=at), at
                )
                continue
            done(slug, "signed", at, "evidence", "fax counterpart")
            wired = at + timedelta(hours=2 if n % 10 else 7)
            done(slug, "wired", wired, "reference", f"FED 20020607B1Q8021C{n:06d}")
            done(slug, "warrant_faxed", wired + timedelta(minutes=5), "confirmation", f"fax {n}")
            done(slug, "dwac_credited", wired + timedelta(minutes=9), "confirmation", f"DTC {n}")
            if n % 25 == 0:
                returned = Correction(
                    "reverse", slug, "wired", "wire returned", "bench", "bench", at=monday
                )
                record(returned, monday)
            else:
                done(slug, "warrant_delivered", monday, "tracking", f"FedEx 7901 {n:04d}")


def after_the_closing(url: str) -> None:
    """The 60-step example's closing day for every purchaser, as a memo after the closing finds
    it: the company's 46 deliveries done from 06:00; every purchaser's 14 steps done five minutes
    apart, but one in twenty-five still waiting for its wire (the steps from `wired` on open)."""
    from datetime import timedelta

    steps = step_ids(CHECKLIST, "purchaser")
    before_wire = steps[: steps.index("wired")]

    def done(position: int) -> list[str]:
        return before_wire if position % 25 == 0 else steps

    record_progress(
        url,
        done,
        base="2019-06-28T06:00:00-07:00",
        spacing=timedelta(minutes=5),
        company_steps=tuple(step_ids(CHECKLIST, "company")),
    )


def timed(
    args: list[str], env: dict[str, str], runs: int, warm_up: bool = True
) -> tuple[float, list[float]]:
    """The median wall time in ms of `closing ARGS` over `runs` runs, after one warm-up (unless
    not `warm_up`)."""
    times = []
    for round_number in range(0 if warm_up else 1, runs + 1):
        start = time.perf_counter()
        done = subprocess.run([*CLOSING, *args], env=env, capture_output=True, text=True)
        elapsed = (time.perf_counter() - start) * 1000
        if done.returncode != 0:
            sys.exit(f"failed ({done.returncode}): closing {' '.join(args)}\n{done.stderr}")
        if round_number:
            times.append(elapsed)
    return statistics.median(times), times


def baseline(runs: int, warm_up: bool) -> float:
    """The median wall time in ms of `python -c "import weasyprint"`: what any PDF costs."""
    times = []
    for round_number in range(0 if warm_up else 1, runs + 1):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import weasyprint"], check=True)
        if round_number:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--purchasers", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="one run, 50 purchasers")
    options = parser.parse_args()
    if options.smoke:
        options.runs, options.purchasers = 1, SMOKE_PURCHASERS
    with tempfile.TemporaryDirectory(prefix="bench-report-") as scratch:
        folder = Path(scratch)
        seed_url = f"sqlite:///{folder / 'seed.db'}"
        for now, args in README_DAY:
            closing(args, cli_env(seed_url, now))
        big_url = f"sqlite:///{folder / 'big.db'}"
        deal_file = folder / "big.yaml"
        generate_deal(deal_file, options.purchasers, slug=f"generated-{options.purchasers}")
        closing(["init", str(deal_file)], cli_env(big_url, "2002-06-07T07:00:00-07:00"))
        closing_day(big_url, options.purchasers)
        checklist_url = f"sqlite:///{folder / 'checklist.db'}"
        checklist_file = folder / "checklist.yaml"
        checklist = f"{options.purchasers}-purchaser 60-step memo, PDF"
        generate_deal(checklist_file, options.purchasers, slug="checklist", source=CHECKLIST)
        closing(["init", str(checklist_file)], cli_env(checklist_url, "2019-06-28T07:00:00-07:00"))
        after_the_closing(checklist_url)
        cases = [
            ("seed memo, PDF", seed_url, ["report", "-o", str(folder / "seed.pdf")]),
            ("seed memo, HTML", seed_url, ["report", "-o", str(folder / "seed.html")]),
            ("seed memo, Markdown", seed_url, ["report", "-o", str(folder / "seed.md")]),
            ("seed export, CSV", seed_url, ["export", "-o", str(folder / "seed.csv")]),
            (
                f"{options.purchasers}-purchaser memo, PDF",
                big_url,
                ["report", "-o", str(folder / "big.pdf")],
            ),
            (
                f"{options.purchasers}-purchaser memo, HTML",
                big_url,
                ["report", "-o", str(folder / "big.html")],
            ),
            (
                f"{options.purchasers}-purchaser export, CSV",
                big_url,
                ["export", "-o", str(folder / "big.csv")],
            ),
            (checklist, checklist_url, ["report", "-o", str(folder / "checklist.pdf")]),
        ]
        rounds = (
            "one run, no warm-up: a smoke run"
            if options.smoke
            else f"median of {options.runs} runs"
        )
        print(f"closing report / export, {rounds} (whole process, SQLite)")
        base = baseline(options.runs, not options.smoke)
        print(f"  {'baseline: import weasyprint':<40} {base:>8,.0f} ms")
        medians: dict[str, float] = {}
        for label, url, args in cases:
            now = "2019-06-28T12:00:00-07:00" if url == checklist_url else MONDAY
            median, times = timed(args, cli_env(url, now), options.runs, not options.smoke)
            medians[label] = median
            out = Path(args[-1])
            extra = f", {pages(out)} pages" if out.suffix == ".pdf" else ""
            spread = f"{min(times):,.0f}-{max(times):,.0f}"
            ratio = median / base
            print(f"  {label:<40} {median:>8,.0f} ms  {ratio:4.1f}x  (runs {spread} ms{extra})")
        if options.smoke:
            print("  (not judged: smoke run)")
            return
        for label, limit in (("seed memo, PDF", SEED_LIMIT), (checklist, CHECKLIST_LIMIT)):
            ratio = medians[label] / base
            verdict = "PASS" if ratio <= limit else "FAIL"
            print(f"{verdict}  {label}: {ratio:.2f}x the baseline (limit {limit:g}x)")


if __name__ == "__main__":
    main()
