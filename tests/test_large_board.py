"""A deal with many purchasers gets a board that fits a screen: the urgent ones first, a summary
of the rest, and every one in --json."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import Cli, deal_with_purchasers


def test_a_big_deal_shows_the_urgent_first_and_a_summary(cli: Cli, tmp_path: Path) -> None:
    """120 purchasers, three of them behind: the board lists those three first, at most 50 rows
    when not on a terminal, and a per-step summary of all 120."""
    deal = deal_with_purchasers(tmp_path / "big.yaml", 120)
    assert cli("init", str(deal), now="2002-06-07T07:00:00-07:00").code == 0
    for n in range(1, 121):
        if n not in (7, 50, 99):
            cli(
                "mark-signed",
                f"p{n:03d}" if n >= 100 else f"p{n:02d}",
                now="2002-06-07T09:00:00-07:00",
            )
    result = cli("status", now="2002-06-07T17:30:00-07:00")
    assert result.code == 0
    rows = [line for line in result.out.splitlines() if line.startswith("Purchaser ")]
    assert len(rows) == 51  # the heading and 50 purchasers
    assert [row.split()[1] for row in rows[1:4]] == ["07", "50", "99"]
    shown = "Showing 50 of 120 purchasers, most urgent first (--all or --json for every one)"
    assert shown in result.out
    summary = [line.split() for line in result.out.splitlines() if line.startswith("Signed ")]
    # overdue, due soon, pending, held, done late, done, waived
    assert summary == [["Signed", "3", "0", "0", "0", "0", "117", "0"]]
    everything = json.loads(cli("status", "--json", now="2002-06-07T17:30:00-07:00").out)
    assert len(everything["purchasers"]) == 120
    assert everything["totals"]["steps"]["signed"]["overdue"] == 3
    full = cli("status", "--all", now="2002-06-07T17:30:00-07:00").out
    assert len([line for line in full.splitlines() if line.startswith("Purchaser ")]) == 121


def test_the_board_fits_a_narrow_terminal(seeded: Cli) -> None:
    """At 60 columns no line is wider than the terminal."""
    seeded.monkeypatch.setenv("COLUMNS", "60")
    result = seeded("status", now="2002-06-07T09:00:00-07:00")
    assert result.code == 0
    assert max(len(line) for line in result.out.splitlines()) <= 60
    assert "Stonestreet" in result.out
