"""A board for a real checklist (the 60-step example: 46 company deliveries, 14 steps for each
purchaser) fits the terminal without cutting anything silently: when the steps do not fit side
by side, each purchaser's row lists its open and late steps, most urgent first, and counts the
rest; the company's steps are counted and their open ones listed, never split across lines."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT, Cli

EXAMPLE = ROOT / "workflows" / "examples" / "registered-direct-60-steps.yaml"
DAY = "2019-06-28T{}:00-07:00"
NAMES = [
    "Bramblewood Capital Master Fund, Ltd.",
    "Northgate Healthcare Opportunities Fund, L.P.",
    "Laurentian Life Sciences Partners Inc.",
    "Sable Point Partners LLC",
    "Harrow Street Investments, L.P.",
]


@pytest.fixture
def morning(cli: Cli) -> Cli:
    """The example at 09:00 on the closing day: the board and the pricing committee have
    resolved, the pricing press release went out at 06:45 (its cutoff was 09:30 New York time,
    06:30 in San Diego), two purchasers have signed, and Sable Point withdrew."""
    assert cli("init", str(EXAMPLE), now=DAY.format("05:00")).code == 0
    for args in [
        ("mark", "company", "board_resolutions", "--at", "05:10"),
        ("mark", "company", "Pricing", "--at", "05:20"),
        ("mark", "company", "Pricing PR", "--at", "06:45"),
        ("mark", "bramblewood", "signed", "--at", "07:00"),
        ("mark", "bramblewood", "Investor Q", "--at", "07:05"),
        ("mark", "harrow", "signed", "--at", "07:30"),
        ("withdraw", "sable", "--reason", "pulled its order"),
    ]:
        result = cli(*args, now=DAY.format("09:00"))
        assert result.code == 0, result.err
    return cli


def board_lines(cli: Cli, columns: int) -> list[str]:
    cli.monkeypatch.setenv("COLUMNS", str(columns))
    result = cli("status", now=DAY.format("09:00"))
    assert result.code == 0, result.err
    return [line.rstrip() for line in result.out.splitlines()]


def test_at_80_columns_each_purchaser_lists_what_is_open_or_late(morning: Cli) -> None:
    """Fourteen step columns cannot fit 80 columns: the board says how many steps each
    purchaser has done and lists what is open, the steps that can be done now first, counting
    the rest (`+11 more`). The company line counts the 46 deliveries and lists the overdue
    listing notice (due 15 calendar days before the closing) and the late press release first,
    then the open ones, in whole entries over three lines."""
    lines = board_lines(morning, 80)
    start = lines.index("") + 1
    assert lines[start : start + 12] == [
        "Company: 3/46 done · LAS filed ✗ 14d16h · Pricing PR ✓ 06:45 late",
        "         20% rule 8h00m · No stop ord 8h00m · Consents 8h00m · Co. signed 8h00m",
        "         PAA signed 8h00m · Lock-ups 8h00m · Warrant agt 8h00m · +35 more",
        "Purchaser                                  Done   Open or late",
        "─" * 77,
        "Bramblewood Capital Master Fund, Ltd.      2/14   W-9/W-8BEN 8h00m · +11 more",
        "Northgate Healthcare Opportunities Fund…   0/14   Signed 8h00m · +13 more",
        "Laurentian Life Sciences Partners Inc.     0/14   Signed 8h00m · +13 more",
        "Sable Point Partners LLC                   0/14   withdrawn",
        "Harrow Street Investments, L.P.            1/14   Investor Q 8h00m · +12 more",
        "",
        "0/4 closed                                 3/56",
    ]


def test_a_wide_terminal_shows_a_column_per_step(morning: Cli) -> None:
    """At 200 columns the fourteen steps fit side by side again, each under its label."""
    lines = board_lines(morning, 200)
    heading = next(line for line in lines if line.startswith("Purchaser"))
    assert re.split(r"\s{2,}", heading.strip())[1:] == [
        "Signed",
        "Investor Q",
        "W-9/W-8BEN",
        "KYC",
        "Call-back",
        "4.99% cap",
        "Leak-out",
        "Wired",
        "DWAC instr.",
        "DWAC posted",
        "DWAC",
        "Faxed",
        "Original",
        "X-receipt",
    ]
    assert max(len(line) for line in lines) <= 200


@pytest.mark.parametrize("columns", [40, 60, 80, 120, 160])
def test_the_board_fits_every_width_and_names_every_purchaser(morning: Cli, columns: int) -> None:
    """No line wider than the terminal, and every purchaser's row is there, its name starting
    the row (cut with an ellipsis only when the terminal is too narrow for it)."""
    lines = board_lines(morning, columns)
    assert max(len(line) for line in lines) <= columns
    for name in NAMES:
        assert any(line.startswith(name[:10]) for line in lines), name
