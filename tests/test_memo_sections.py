"""The closing memorandum a partner signs, read back from the PDF's own text (pypdf): the
heading with the author, firm and legend; the sections in the order a reader needs them (the
closing, the parties, the transaction, the closing documents, the funds flow where there is one,
Schedule 1 with the DWAC credits, the company's deliveries, exceptions, post-closing items,
still open), then the record as annexes; every open item under "Still open" (overdue ones too);
"not done by the cutoff" in a memo as of a passed deadline; and none of the tool's own words
(`XFED`, "chain") in the body."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import ROOT, Cli
from tests.memo_scenario import MONDAY, closing_day, pdf_text

EXAMPLE = ROOT / "workflows" / "examples" / "registered-direct-60-steps.yaml"
SECTIONS = [
    "MEMORANDUM",
    "THE CLOSING",
    "PARTIES, COUNSEL, TRANSFER AGENT AND BANKS",
    "THE TRANSACTION",
    "CLOSING DOCUMENTS",
    "SCHEDULE 1",
    "THE COMPANY'S DELIVERIES",
    "EXCEPTIONS",
    "POST-CLOSING ITEMS",
    "STILL OPEN",
    "ANNEX A: THE RECORD, STEP BY STEP",
    "ANNEX B: THE RECORD'S INTEGRITY",
]


def memo_text(cli: Cli, tmp_path: Path, now: str, *args: str) -> str:
    out = tmp_path / "memo.pdf"
    result = cli("report", "-o", str(out), *args, now=now)
    assert result.code == 0, result.err
    return pdf_text(out)[1]


def in_order(text: str, headings: list[str]) -> None:
    at = 0
    for heading in headings:
        found = text.find(heading, at)
        assert found >= 0, f"{heading!r} missing or out of order"
        at = found + len(heading)


def section(text: str, heading: str, following: str) -> str:
    return text[text.index(heading) : text.index(following, text.index(heading))]


def test_the_seed_memo_reads_as_a_closing_memorandum(
    cli: Cli, seed_path: Path, tmp_path: Path
) -> None:
    closing_day(cli, seed_path)
    text = memo_text(cli, tmp_path, MONDAY)
    in_order(text, SECTIONS)
    assert "FROM: Riley Chen, Counsel to NeoTherapeutics, Inc." in text
    assert "PRIVILEGED AND CONFIDENTIAL — ATTORNEY WORK PRODUCT" in text
    assert "TO: Samuel Gulko, Senior Vice President Finance, NeoTherapeutics, Inc." in text
    body = text[: text.index("ANNEX A")]
    assert re.search(r"(?i)xfed|chain", body) is None
    assert "New York Stock Exchange and Federal Reserve business days" in body
    assert "expiring June 7, 2007 (computed: the closing date plus the term)" in body
    assert "deemed to have been made simultaneously" in body
    # BNC's late wire, and who accepted it
    assert "Purchase price wired was late by 10m; alice recorded it as done" in body
    assert "credited 17:05 PDT (Confirmation DTC 88214" in body
    still_open = section(text, "STILL OPEN", "ANNEX A")
    for item in (
        "Prospectus supplement filed with the SEC under Rule 424(b)(5)",
        "Purchase price wired: reversed Mon 2002-06-10 09:00 PDT",  # Stonestreet's, overdue
        "Original warrant delivered: held until Purchase price wired is in",
    ):
        assert item in still_open
    assert "overdue by 2d 19h" in still_open
    post = section(text, "POST-CLOSING ITEMS", "STILL OPEN")
    assert (
        "Prospectus supplement filed with the SEC under Rule 424(b)(5): due Tue 2002-06-11" in post
    )


def test_the_command_line_gives_the_heading(cli: Cli, seed_path: Path, tmp_path: Path) -> None:
    closing_day(cli, seed_path)
    text = memo_text(
        cli,
        tmp_path,
        MONDAY,
        "--author",
        "Dana Wu",
        "--firm",
        "Wu LLP",
        "--to",
        "The board",
        "--legend",
        "none",
    )
    assert "FROM: Dana Wu, Wu LLP" in text and "TO: The board" in text
    assert "PRIVILEGED" not in text


def test_a_memo_as_of_the_cutoff_says_what_was_not_done_by_it(
    cli: Cli, seed_path: Path, tmp_path: Path
) -> None:
    closing_day(cli, seed_path)
    text = memo_text(cli, tmp_path, MONDAY, "--as-of", "2002-06-07 17:00")
    assert "due in 0s" not in text
    still_open = section(text, "STILL OPEN", "ANNEX A")
    # BNC's wire came at 17:10, after Fedwire's cutoff (15:00 Pacific) and the agreement's
    assert "Purchase price wired: not done by the cutoff (Fri 2002-06-07 15:00 PDT)" in still_open
    assert "Warrant faxed: not done by the cutoff (Fri 2002-06-07 17:00 PDT)" in still_open


def test_the_60_step_memo_has_its_funds_flow(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", str(EXAMPLE), now="2019-06-28T07:00:00-07:00").code == 0
    text = memo_text(cli, tmp_path, "2019-06-28T12:00:00-07:00")
    in_order(text, [*SECTIONS[:4], "FUNDS FLOW", *SECTIONS[5:]])
    funds = section(text, "FUNDS FLOW", "SCHEDULE 1")
    for figure in (
        "$10,000,000.00",
        "Placement agent's cash fee (7.0% of gross, computed) -$700,000.00",
        "-$50,000.00",
        "Net proceeds to the company $9,250,000.00",
        "pending, due 2019-06-28 15:00 PDT",
    ):
        assert figure in funds
    assert "FROM: Morgan Ellis, Counsel to Halvorsen Therapeutics, Inc." in text
    assert re.search(r"(?i)xfed|chain", text[: text.index("ANNEX A")]) is None
