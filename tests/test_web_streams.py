"""What a team stream sends after its first board (`closing.web.streams.Patcher`): the rows that
changed, in place; the rows as one body when their order moved; nothing when nothing changed; a
whole board when there are no rows to patch."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from closing.views.board_page import Cell, Row, View
from closing.web.pages import TEMPLATES
from closing.web.streams import Patcher


def parts() -> Any:
    return TEMPLATES.get_template("board_parts.html").module


def row(slug: str, status: str = "pending") -> Row:
    cell = Cell("wired", "Wired", status, f"status-{status}", status, "", "")
    return Row(slug.title(), slug, "open", (), "1", "$1.00", "$0.00", (cell,), 3)


def board(*rows: Row, as_of: str = "15:30") -> View:
    return View(
        team=True,
        title="Deal",
        company="Co",
        slug="deal",
        closing="Fri",
        cutoff="17:00",
        as_of=as_of,
        time_zone="PDT",
        closed=False,
        steps=(("wired", "Wired"),),
        rows=rows,
        shown=len(rows),
        total=len(rows),
        footer=("0/2 closed", "0/2 done"),
        footer_money=("2", "$2.00", "$0.00"),
    )


def test_only_the_changed_row_is_sent_in_place_of_its_purchaser_s_row() -> None:
    patcher = Patcher(parts())
    before = board(row("a"), row("b"))
    after = board(row("a"), row("b", "done"), as_of="15:31")
    swaps = patcher.patch(before, after)
    assert swaps is not None
    assert "hx-swap-oob=\"outerHTML:#board-rows > tr[data-slug='b']\"" in swaps
    assert 'data-slug="a"' not in swaps
    assert 'id="board-heading" hx-swap-oob="true"' in swaps  # its time moved
    assert "board-foot" not in swaps and "board-rest" not in swaps  # unchanged
    assert patcher.patch(after, after) == ""


def test_a_row_that_moves_is_deleted_and_inserted_where_it_goes() -> None:
    """Furthest behind first: `b` was marked and drops below `d`; `e` comes in at the end."""
    patcher = Patcher(parts())
    before = board(row("a"), row("b"), row("c"), row("d"))
    after = board(row("a"), row("c"), row("d"), row("b", "done"), row("e"))
    swaps = patcher.patch(before, after)
    assert swaps is not None
    assert "hx-swap-oob=\"delete:#board-rows > tr[data-slug='b']\"" in swaps
    inserted = swaps.split('<tbody hx-swap-oob="beforeend:#board-rows">')[1]
    assert inserted.index('data-slug="b"') < inserted.index('data-slug="e"')
    assert 'data-slug="a"' not in swaps and 'data-slug="c"' not in swaps  # they stay


def test_rows_mostly_in_a_new_order_go_as_one_body_and_no_rows_as_a_whole_board() -> None:
    patcher = Patcher(parts())
    swaps = patcher.patch(board(row("a"), row("b")), board(row("b"), row("a", "done")))
    assert swaps is not None and swaps.startswith('<tbody id="board-rows" hx-swap-oob="true">')
    assert swaps.index('data-slug="b"') < swaps.index('data-slug="a"')
    assert "outerHTML:" not in swaps  # the rows inside are plain rows
    assert patcher.patch(board(row("a")), replace(board(), rows=())) is None


def test_other_columns_go_as_a_whole_board() -> None:
    """A reload that adds or renames a step changes the headings, which no row patch carries."""
    patcher = Patcher(parts())
    renamed = replace(board(row("a")), steps=(("wired", "Wire received"),))
    assert patcher.patch(board(row("a")), renamed) is None
