"""The text board, drawn exactly, at 80 and 160 columns: a change to how it looks shows up here
as a diff of the snapshot (CLOSING_UPDATE_SNAPSHOTS=1 rewrites them; read the diff first)."""

from __future__ import annotations

import io
import os
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from closing.domain.board import build_board
from closing.domain.calendar import CalendarBook, calendar_snapshot
from closing.domain.deal import Deal
from closing.domain.dealfile.load import load_deal_file
from closing.domain.events import Event, Purchaser
from closing.views.board_text import board_view
from tests.helpers import SEED, Cli

SNAPSHOTS = Path(__file__).parent / "snapshots"
PACIFIC = ZoneInfo("America/Los_Angeles")
TERMS = load_deal_file(SEED).terms
BOOK = CalendarBook([], calendar_snapshot(TERMS.calendar_names(), TERMS.closing_date))
DEAL = Deal(1, TERMS.slug, TERMS, BOOK, datetime(2002, 6, 7, tzinfo=PACIFIC))
STONESTREET = Purchaser(
    1, "stonestreet", "Stonestreet Limited Partnership", 0, 1_935_483, Decimal("450000"), 193_548
)
COMPANY = Purchaser(3, "@company", "NeoTherapeutics, Inc.", -1, 0, Decimal(0), 0, role="company")
BNC = Purchaser(2, "bnc", "BNC Bach International, Ltd.", 1, 4_000_000, Decimal("930000"), 400_000)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2002, 6, 7, hour, minute, tzinfo=PACIFIC)


def mark(
    purchaser: Purchaser, seq: int, step: str, when: datetime, amount: str | None = None
) -> Event:
    return Event(
        seq,
        purchaser.id,
        seq,
        "mark",
        step,
        when,
        when,
        "alice",
        "vm",
        amount=Decimal(amount) if amount else None,
    )


# The README's closing day at 15:30: both signed, Stonestreet wired, BNC's wire due in 1h 30m.
EVENTS = {
    STONESTREET.id: [
        mark(STONESTREET, 1, "signed", at(8, 30)),
        mark(STONESTREET, 2, "wired", at(10, 15), "450000"),
    ],
    BNC.id: [mark(BNC, 1, "signed", at(9, 10))],
    COMPANY.id: [mark(COMPANY, 1, "prospectus_delivered", at(7, 30))],
}


def drawn(width: int) -> str:
    board = build_board(DEAL, [STONESTREET, BNC], EVENTS, at(15, 30), company=COMPANY)
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, highlight=False, soft_wrap=False)
    console.print(board_view(board, None, width))
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"


@pytest.mark.parametrize("width", [80, 160])
def test_the_board_is_drawn_exactly(width: int) -> None:
    """Heading, one row per purchaser with each step's time or mark, totals and the blocked
    details, as on the README's closing day at 15:30."""
    snapshot = SNAPSHOTS / f"board-{width}.txt"
    text = drawn(width)
    if os.environ.get("CLOSING_UPDATE_SNAPSHOTS"):
        snapshot.write_text(text)
    assert text == snapshot.read_text()
    assert max(len(line) for line in text.splitlines()) <= width


ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("color", [None, "truecolor"])
@pytest.mark.parametrize("width", [50, 80, 100, 160, 240])
def test_no_line_of_the_board_ends_in_a_space(width: int, color: str | None) -> None:
    """Rich pads a table's cells to its columns; the board drops that padding at the end of
    every line, at any width, in colour or not, so a copied board diffs clean."""
    board = build_board(DEAL, [STONESTREET, BNC], EVENTS, at(15, 30), company=COMPANY)
    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        color_system=color,  # type: ignore[arg-type]
        force_terminal=color is not None,
        highlight=False,
        soft_wrap=False,
    )
    console.print(board_view(board, None, width))
    lines = ANSI.sub("", out.getvalue()).splitlines()
    assert len(lines) > 10
    assert [line for line in lines if line.endswith(" ")] == []


@pytest.mark.parametrize("columns", [None, "80", "200"])
def test_closing_status_prints_no_trailing_spaces(
    seeded: Cli, monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    """`closing status` on a terminal of any width and piped (as wide as its data): no line
    ends in a space."""
    if columns is None:
        monkeypatch.delenv("COLUMNS")
    else:
        monkeypatch.setenv("COLUMNS", columns)
    seeded("mark-signed", "stonestreet", now="2002-06-07T08:30:00-07:00")
    result = seeded("status", now="2002-06-07T15:30:00-07:00")
    assert result.code == 0, result.err
    assert "Purchaser" in result.out
    assert [line for line in result.out.splitlines() if line.endswith(" ")] == []
