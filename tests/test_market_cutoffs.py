"""The market's own cutoffs and calendars, and deadlines counted from the signing, the pricing,
the closing or a step, through the CLI's JSON: Fedwire's close at 15:00 Pacific on the seed's
closing day, EDGAR's 17:30 Eastern for the 424(b)(5) on the SEC's calendar (its observed federal
holidays skipped), the 60-step example's 424(b), 8-K and listing notice, and the daylight-saving
weekend. An open step is judged against the earlier of the agreement's deadline and the market's;
a done step is late only against the agreement's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from closing.domain.errors import ExitCode
from tests.helpers import ROOT, Cli

EXAMPLE = ROOT / "workflows" / "examples" / "registered-direct-60-steps.yaml"


def board(cli: Cli, now: str) -> dict[str, Any]:
    result = cli("status", "--json", now=now)
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def moved(seed_path: Path, day: str) -> Path:
    """The seed deal file signed, priced and closing on `day` (YYYY-MM-DD)."""
    text = re.sub(r"2002-06-07(?=\n)", day, seed_path.read_text())
    seed_path.write_text(text)
    return seed_path


def test_the_wire_is_due_by_fedwires_close_at_15_00_pacific(seeded: Cli) -> None:
    """The agreement's deadline stays 17:00 PDT; Fedwire's (18:00 New York) is 15:00 PDT. At
    14:00 the wire is due soon, at 15:30 overdue, and the board says which cutoff passed and when
    a wire sent now arrives (Monday: the Fed is closed on the weekend)."""
    early = board(seeded, "2002-06-07T12:00:00-07:00")
    wire = early["purchasers"][0]["steps"]["wired"]
    assert (wire["status"], wire["deadline"], wire["practical_deadline"]) == (
        "pending",
        "2002-06-07T17:00:00-07:00",
        "2002-06-07T15:00:00-07:00",
    )
    signed = early["purchasers"][0]["steps"]["signed"]
    assert (signed["deadline"], signed["practical_deadline"]) == (
        "2002-06-07T17:00:00-07:00",
        None,
    )
    assert board(seeded, "2002-06-07T14:00:00-07:00")["purchasers"][0]["steps"]["wired"][
        "status"
    ] == ("due_soon")
    late = board(seeded, "2002-06-07T15:30:00-07:00")["purchasers"][0]["steps"]
    assert (late["wired"]["status"], late["signed"]["status"]) == ("overdue", "due_soon")
    text = seeded("status", now="2002-06-07T15:30:00-07:00").out
    assert "✗ 30m Fedwire" in text
    assert "Wired: Fedwire closed 15:00 PDT; Fedwire is closed: a wire sent now arrives Monday" in (
        text
    )
    before = seeded("status", now="2002-06-07T14:30:00-07:00").out
    assert "! 30m Fedwire" in before
    assert "Fedwire is closed" not in before


def test_a_wire_in_after_fedwires_close_is_on_time_against_the_agreement(
    seeded: Cli, tmp_path: Path
) -> None:
    """A book transfer at 16:10 PDT, after Fedwire's close and before the agreement's 17:00: done,
    not late, its practical deadline still shown; the memo notes it came after Fedwire's cutoff."""
    for args, at in [
        (("mark-signed", "stonestreet"), "09:00"),
        (("mark-wired", "stonestreet", "--reference", "BOOK 1"), "16:10"),
    ]:
        result = seeded(*args, now=f"2002-06-07T{at}:00-07:00")
        assert result.code == 0, result.err
    wire = board(seeded, "2002-06-07T16:30:00-07:00")["purchasers"][0]["steps"]["wired"]
    assert (wire["status"], wire["late_by"], wire["practical_deadline"]) == (
        "done",
        None,
        "2002-06-07T15:00:00-07:00",
    )
    out = tmp_path / "memo.md"
    memo = seeded("report", "--format", "md", "--output", str(out), now="2002-06-07T16:30:00-07:00")
    assert memo.code == 0, memo.err
    assert "Done after Fedwire's cutoff (Fri 2002-06-07 15:00 PDT)" in out.read_text()


def test_the_424b5_is_due_on_edgar_at_14_30_pacific_on_june_11(seeded: Cli) -> None:
    """Two SEC business days after the pricing (Friday June 7, 2002): Tuesday June 11, at EDGAR's
    17:30 Eastern for that day's filing date."""
    filed = board(seeded, "2002-06-07T12:00:00-07:00")["company"]["steps"]["prospectus_filed"]
    assert (filed["deadline"], filed["practical_deadline"]) == ("2002-06-11T14:30:00-07:00", None)


@pytest.mark.parametrize(
    ("day", "due"),
    [
        # Wed July 1, 2026: Thu July 2, then Fri July 3 (Independence Day observed) is skipped.
        ("2026-07-01", "2026-07-06T14:30:00-07:00"),
        # Wed June 16, 2021: Thu June 17, then Fri June 18 (Juneteenth observed) is skipped.
        ("2021-06-16", "2021-06-21T14:30:00-07:00"),
    ],
)
def test_the_sec_calendar_skips_the_observed_federal_holiday(
    cli: Cli, seed_path: Path, day: str, due: str
) -> None:
    """The Fed is open on both Fridays (`XFED`); the SEC and EDGAR are not (`SEC`)."""
    path = moved(seed_path, day)
    assert cli("init", str(path), now=f"{day}T07:00:00-07:00").code == 0
    filed = board(cli, f"{day}T08:00:00-07:00")["company"]["steps"]["prospectus_filed"]
    assert filed["deadline"] == due


def test_on_the_fed_calendar_the_observed_friday_would_count(cli: Cli, seed_path: Path) -> None:
    """The same deal with the 424(b)(5) on `XFED`: due Friday July 3, 2026 (why `SEC` matters)."""
    path = moved(seed_path, "2026-07-01")
    path.write_text(path.read_text().replace("calendars: [SEC]", "calendars: [XFED]"))
    assert cli("init", str(path), now="2026-07-01T07:00:00-07:00").code == 0
    filed = board(cli, "2026-07-01T08:00:00-07:00")["company"]["steps"]["prospectus_filed"]
    assert filed["deadline"] == "2026-07-03T14:30:00-07:00"


@pytest.mark.parametrize(
    ("day", "wire", "fedwire", "filed"),
    [
        # Friday before the spring-forward Sunday: PST that day, PDT on Tuesday.
        (
            "2026-03-06",
            "2026-03-06T17:00:00-08:00",
            "2026-03-06T15:00:00-08:00",
            "2026-03-10T14:30:00-07:00",
        ),
        # Friday before the fall-back Sunday: PDT that day, PST on Tuesday.
        (
            "2026-10-30",
            "2026-10-30T17:00:00-07:00",
            "2026-10-30T15:00:00-07:00",
            "2026-11-03T14:30:00-08:00",
        ),
    ],
)
def test_the_daylight_saving_weekend(
    cli: Cli, seed_path: Path, day: str, wire: str, fedwire: str, filed: str
) -> None:
    """New York and Los Angeles change on the same night: Fedwire's close stays 15:00 Pacific,
    EDGAR's 14:30, on either side of the change."""
    path = moved(seed_path, day)
    assert cli("init", str(path), now=f"{day}T07:00:00Z").code == 0
    data = board(cli, f"{day}T20:00:00Z")
    wired = data["purchasers"][0]["steps"]["wired"]
    assert (wired["deadline"], wired["practical_deadline"]) == (wire, fedwire)
    assert data["company"]["steps"]["prospectus_filed"]["deadline"] == filed


def test_the_60_step_example_counts_from_pricing_signing_and_closing(cli: Cli) -> None:
    """The 424(b) two SEC business days after the pricing on Thursday June 27, 2019 (Monday July
    1), the 8-K four after the signing (Wednesday July 3), both at EDGAR's 17:30 Eastern; the
    Nasdaq listing notice 15 calendar days before the closing on Friday June 28 (Thursday June
    13, at the deal's 17:00 Pacific); the wire at Fedwire's close as the agreement's cutoff."""
    assert cli("init", str(EXAMPLE), now="2019-06-28T05:00:00-07:00").code == 0
    data = board(cli, "2019-06-28T05:00:00-07:00")
    company = data["company"]["steps"]
    assert company["prospectus_filed"]["deadline"] == "2019-07-01T14:30:00-07:00"
    assert company["form_8k"]["deadline"] == "2019-07-03T14:30:00-07:00"
    assert company["listing_notice"]["deadline"] == "2019-06-13T17:00:00-07:00"
    assert company["listing_notice"]["status"] == "overdue"
    wires = {row["steps"]["wired"]["deadline"] for row in data["purchasers"]}
    assert wires == {"2019-06-28T15:00:00-07:00"}


def test_a_listing_notice_15_calendar_days_before_the_closing(cli: Cli, seed_path: Path) -> None:
    """`before: closing, calendar_days: 15` on the seed: Saturday May 23, 2002, where the count
    lands (calendar days do not move to a business day); `business_days: 15` counts back over the
    weekends and Memorial Day: Thursday May 16."""
    text = seed_path.read_text().replace(
        "  - id: signed\n",
        "  - id: listing_notice\n    title: Listing notice\n    party: company\n"
        "    due: {before: closing, calendar_days: 15}\n"
        "  - id: listing_early\n    title: Listing notice, business days\n    party: company\n"
        "    due: {before: closing, business_days: 15, at: '09:00'}\n"
        "  - id: signed\n",
    )
    seed_path.write_text(text)
    assert cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00").code == 0
    company = board(cli, "2002-06-07T08:00:00-07:00")["company"]["steps"]
    assert company["listing_notice"]["deadline"] == "2002-05-23T17:00:00-07:00"
    assert company["listing_early"]["deadline"] == "2002-05-16T09:00:00-07:00"


def test_bad_cutoffs_and_anchors_are_all_reported_with_their_lines(
    cli: Cli, seed_path: Path
) -> None:
    """An unknown market, a due with two anchors and an unknown calendar: every problem at once,
    each at its line; nothing is written. (A due from a date the file does not name is a
    cross-check, run once the steps validate: the next test.)"""
    text = seed_path.read_text()
    text = text.replace("    practical: fedwire\n", "    practical: fedwir\n")
    text = text.replace(
        "    due:\n      after: closing\n      business_days: 1\n",
        "    due:\n      after: closing\n      before: closing\n",
    )
    text = text.replace("    calendars: [SEC]\n", "    calendars: [SECX]\n")
    seed_path.write_text(text)
    result = cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00")
    assert result.code == ExitCode.DEAL_FILE
    lines = result.err.splitlines()
    path = str(seed_path)
    found = "\n".join(lines)
    assert f"{path}:" in found
    assert "unknown market cutoff 'fedwir'; use fedwire, dtc, edgar" in found
    assert "give one of after: or before:" in found
    assert "unknown calendar 'SECX'" in found
    assert re.search(r":\d+: steps\[3\]\.practical: unknown market", found), found
    assert re.search(r":\d+: steps\[5\]\.due: give one of after: or before:", found), found
    assert "neotherapeutics" not in cli("deals").out


def test_a_due_from_a_date_the_file_does_not_name_is_refused(cli: Cli, seed_path: Path) -> None:
    seed_path.write_text(
        seed_path.read_text().replace("      after: pricing\n", "      after: pricng\n")
    )
    result = cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00")
    assert result.code == ExitCode.DEAL_FILE
    assert re.fullmatch(
        r".*:\d+: step 'prospectus_filed' is due after 'pricng', which is neither a step "
        r"nor a key date \(closing, signing, pricing\)\n",
        result.err,
    ), result.err


def test_a_step_due_before_another_counts_from_that_ones_deadline(
    cli: Cli, seed_path: Path
) -> None:
    """`before: prospectus_filed, business_days: 1`: the business day before the 424(b)(5)'s
    deadline day (Tuesday June 11): Monday June 10, at the deal's 17:00 Pacific."""
    text = seed_path.read_text().replace(
        "  - id: signed\n",
        "  - id: filing_approved\n    title: Filing approved\n    party: company\n"
        "    due: {before: prospectus_filed, business_days: 1}\n"
        "  - id: signed\n",
    )
    seed_path.write_text(text)
    assert cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00").code == 0
    company = board(cli, "2002-06-07T08:00:00-07:00")["company"]["steps"]
    assert company["filing_approved"]["deadline"] == "2002-06-10T17:00:00-07:00"


def test_steps_due_before_each_other_are_refused(cli: Cli, seed_path: Path) -> None:
    text = seed_path.read_text().replace(
        "  - id: signed\n",
        "  - id: first\n    title: First\n    party: company\n    due: {before: second}\n"
        "  - id: second\n    title: Second\n    party: company\n    due: {before: first}\n"
        "  - id: signed\n",
    )
    seed_path.write_text(text)
    result = cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00")
    assert result.code == ExitCode.DEAL_FILE
    assert result.err.count("due before each other") == 1
    assert "steps are due before each other: first -> second -> first" in result.err
